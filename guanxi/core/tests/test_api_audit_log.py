"""The audit log through the REST API: read by the roles the matrix allows, filtered,
newest first, and never writable."""

import pytest

from guanxi.core import services
from guanxi.core.models import AuditLog, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(admin_user):
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei"})
    services.contact_update(actor=admin_user, contact_id=contact.pk, data={"job_title": "CTO"})
    account = services.account_create(actor=admin_user, data={"name": "Acme"})
    return contact, account


def test_admin_reads_the_log_newest_first_with_filters(api_client, admin_user, history):
    contact, account = history
    # when the whole log is read
    entries = api_client.get("/api/v1/audit-log").json()["items"]
    # then the newest entry comes first and names actor, action, object and changes
    assert (entries[0]["action"], entries[0]["object_type"], entries[0]["object_id"]) == (
        "create", "account", str(account.pk))
    assert entries[0]["actor"]["id"] == admin_user.pk
    # and filters narrow it down
    about_contact = api_client.get("/api/v1/audit-log", {"object_type": "contact",
                                                         "object_id": contact.pk}).json()["items"]
    assert [entry["action"] for entry in about_contact] == ["update", "create"]
    assert about_contact[0]["changes"] == {"job_title": ["", "CTO"]}
    updates = api_client.get("/api/v1/audit-log", {"action": "update"}).json()["items"]
    assert [(entry["object_type"], entry["object_id"]) for entry in updates] == [("contact", str(contact.pk))]


def test_unknown_action_filter_is_a_field_error(api_client):
    response = api_client.get("/api/v1/audit-log", {"action": "rewrite"})
    assert response.status_code == 422 and set(response.json()["errors"]) == {"action"}


def test_log_pages_like_every_list(api_client, history):
    page = api_client.get("/api/v1/audit-log", {"limit": 2, "count": "true"}).json()
    total = AuditLog.objects.count()
    assert len(page["items"]) == 2 and page["count"] == total and page["next"]


def test_analyst_may_read_and_sales_rep_may_not(make_user, client_for, history):
    analyst, rep = make_user("analyst", Role.ANALYST), make_user("rep", Role.SALES_REP)
    assert client_for(analyst).get("/api/v1/audit-log").status_code == 200
    refused = client_for(rep).get("/api/v1/audit-log")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "You do not have permission to do this."}


def test_the_log_cannot_be_written_through_the_api(api_client, history):
    before = AuditLog.objects.count()
    assert api_client.post("/api/v1/audit-log", {}, content_type="application/json").status_code == 405
    assert api_client.delete("/api/v1/audit-log").status_code == 405
    assert AuditLog.objects.count() == before
