"""Caller lookup by phone for the telephony layer (``selectors.contacts_by_phone``)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guanxi.core import selectors, services

pytestmark = pytest.mark.django_db


def test_every_contact_at_a_number_is_found_in_any_format_with_its_account(admin_user):
    # given two people sharing a home line, one at a company, and a third elsewhere
    acme = services.account_create(actor=admin_user, data={"name": "Acme"})
    wang = services.contact_create(actor=admin_user, data={"full_name": "王芳", "phone": "138 1234 5678",
                                                           "account_id": acme.pk})
    li = services.contact_create(actor=admin_user, data={"full_name": "李雷", "phone": "13900000000",
                                                         "phones": [{"number": "138-1234-5678", "kind": "home"}]})
    services.contact_create(actor=admin_user, data={"full_name": "Other", "phone": "13700000000"})
    # when the network presents the number in another format
    with CaptureQueriesContext(connection) as queries:
        found = selectors.contacts_by_phone("+86 138 1234 5678")
        accounts = [contact.account.name if contact.account else None for contact in found]
    # then both are found, with their accounts, in two queries
    assert {contact.pk: account for contact, account in zip(found, accounts)} == {wang.pk: "Acme", li.pk: None}
    assert len(queries.captured_queries) == 2


def test_unknown_and_unreadable_numbers_find_nobody(admin_user):
    services.contact_create(actor=admin_user, data={"full_name": "王芳", "phone": "13812345678"})
    assert selectors.contacts_by_phone("13812345679") == []
    assert selectors.contacts_by_phone("not a number") == []
    assert selectors.contacts_by_phone("") == []


def test_found_contacts_carry_the_same_typed_values_as_the_orm_loads(admin_user):
    # dates, times, decimals, JSON and booleans go through the database's converters
    from guanxi.core.models import Account, Contact

    acme = services.account_create(actor=admin_user, data={"name": "Acme", "annual_revenue": "1250000.50"})
    wang = services.contact_create(actor=admin_user, data={
        "full_name": "王芳", "phone": "138 1234 5678", "account_id": acme.pk, "birth_date": "1988-04-01",
        "consent_email": True, "tags": ["vip"]})
    [found] = selectors.contacts_by_phone("0086 138 1234 5678")
    stored = Contact.objects.get(pk=wang.pk)
    for field in Contact._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(stored, field.attname), field.name
        assert type(getattr(found, field.attname)) is type(getattr(stored, field.attname)), field.name
    assert found.account.annual_revenue == Account.objects.get(pk=acme.pk).annual_revenue
    assert found._state.adding is False and found._state.db == "default"
