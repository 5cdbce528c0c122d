"""The `guanxi` command: createuser, token, demo-data (small), and errors with exit ≠ 0."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from guanxi.core.models import Account, ApiToken, Contact, Role, User
from guanxi.core.services import api_token_authenticate
from guanxi.interactions.models import Interaction

pytestmark = pytest.mark.django_db


def test_createuser_then_token_authenticates():
    call_command("createuser", "li.na", "--role", "sales_manager", "--password", "a-long-password-1",
                 "--team", "East", stdout=io.StringIO())
    user = User.objects.get(username="li.na")
    assert user.role == Role.SALES_MANAGER and user.team.name == "East" and user.check_password("a-long-password-1")
    out = io.StringIO()
    call_command("token", "li.na", stdout=out)
    assert api_token_authenticate(out.getvalue().strip()) == user
    assert ApiToken.objects.filter(user=user).count() == 1


def test_createuser_refuses_duplicates_and_weak_passwords():
    call_command("createuser", "dup", "--password", "a-long-password-1", stdout=io.StringIO())
    with pytest.raises(CommandError, match="username"):
        call_command("createuser", "dup", "--password", "a-long-password-1", stdout=io.StringIO())
    with pytest.raises(CommandError, match="password"):
        call_command("createuser", "weak", "--password", "123", stdout=io.StringIO())
    assert list(User.objects.values_list("username", flat=True)) == ["dup"]


def test_demo_data_builds_a_bilingual_company_once():
    out = io.StringIO()
    call_command("demo_data", "--contacts", "60", "--accounts", "12", stdout=out)
    assert "admin" in out.getvalue()
    assert set(User.objects.values_list("role", flat=True)) >= {
        Role.ADMIN, Role.SALES_MANAGER, Role.SALES_REP, Role.MARKETER, Role.SERVICE_AGENT,
        Role.CONTACT_CENTER_AGENT, Role.SUPERVISOR, Role.ANALYST}
    assert Account.objects.count() == 12 and Contact.objects.count() == 60
    assert Contact.objects.filter(full_name__regex=r"^[\u4e00-\u9fff]+$").exists()
    assert all(phone.startswith("+") for phone in Contact.objects.values_list("phone", flat=True))
    assert Interaction.objects.count() >= 60
    # a second run refuses, and --if-empty is a no-op that still prints the login
    with pytest.raises(CommandError):
        call_command("demo_data", "--contacts", "5", "--accounts", "1", stdout=io.StringIO())
    call_command("demo_data", "--if-empty", stdout=io.StringIO())
    assert Contact.objects.count() == 60
