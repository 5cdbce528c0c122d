"""Custom fields through the REST API: an administrator defines, changes and removes them;
values are validated on records and filterable; other roles are refused."""

import pytest

from guanxi.core import services
from guanxi.core.models import AuditLog, Contact, CustomField, Role

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def test_admin_defines_a_field_that_contacts_then_carry_and_filter_on(api_client):
    # when an administrator defines a choice field on contacts
    response = post(api_client, "/api/v1/custom-fields", {
        "target": "contact", "key": "membership", "label": "Membership", "label_zh": "会员等级",
        "field_type": "choice", "choices": ["silver", "gold"]})
    # then it is stored and audited
    assert response.status_code == 201, response.content
    field = CustomField.objects.get(pk=response.json()["id"])
    assert (field.key, field.field_type, field.choices) == ("membership", "choice", ["silver", "gold"])
    assert AuditLog.objects.filter(action="create", object_type="customfield", object_id=str(field.pk)).exists()
    # and contacts accept valid values, refuse others, and filter on them
    created = post(api_client, "/api/v1/contacts", {"full_name": "Li Lei", "custom_data": {"membership": "gold"}})
    assert created.status_code == 201 and created.json()["custom_data"] == {"membership": "gold"}
    refused = post(api_client, "/api/v1/contacts", {"full_name": "Han Mei", "custom_data": {"membership": "tin"}})
    assert refused.status_code == 422 and set(refused.json()["errors"]) == {"custom_data.membership"}
    assert list(Contact.objects.values_list("full_name", flat=True)) == ["Li Lei"]
    listed = api_client.get("/api/v1/contacts", {"cf_membership": "gold"}).json()["items"]
    assert [item["full_name"] for item in listed] == ["Li Lei"]


def test_list_custom_fields_by_target(api_client, admin_user):
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "b", "label": "B"})
    services.custom_field_create(actor=admin_user, data={"target": "account", "key": "a", "label": "A"})
    everything = api_client.get("/api/v1/custom-fields").json()["items"]
    assert [(item["target"], item["key"]) for item in everything] == [("account", "a"), ("contact", "b")]
    contacts_only = api_client.get("/api/v1/custom-fields", {"target": "contact"}).json()["items"]
    assert [item["key"] for item in contacts_only] == ["b"]
    assert api_client.get("/api/v1/custom-fields", {"target": "ticket"}).status_code == 422


def test_invalid_definitions_are_refused_with_field_errors(api_client, admin_user):
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "region", "label": "Region"})
    duplicate = post(api_client, "/api/v1/custom-fields", {"target": "contact", "key": "region", "label": "R"})
    assert duplicate.status_code == 422 and duplicate.json()["errors"]
    no_choices = post(api_client, "/api/v1/custom-fields", {"target": "contact", "key": "tier", "label": "Tier",
                                                            "field_type": "choice"})
    assert no_choices.status_code == 422 and set(no_choices.json()["errors"]) == {"choices"}
    bad_key = post(api_client, "/api/v1/custom-fields", {"target": "contact", "key": "no spaces!", "label": "X"})
    assert bad_key.status_code == 422 and set(bad_key.json()["errors"]) == {"key"}
    bad_type = post(api_client, "/api/v1/custom-fields", {"target": "contact", "key": "x", "label": "X",
                                                          "field_type": "colour"})
    assert bad_type.status_code == 422 and set(bad_type.json()["errors"]) == {"field_type"}
    assert list(CustomField.objects.values_list("key", flat=True)) == ["region"]


def test_change_a_field_but_not_its_key_or_type(api_client, admin_user):
    field = services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "region",
                                                                 "label": "Region"})
    changed = api_client.patch(f"/api/v1/custom-fields/{field.pk}", {"label": "Sales region", "required": True},
                               content_type="application/json")
    assert changed.status_code == 200 and changed.json()["label"] == "Sales region"
    field.refresh_from_db()
    assert field.label == "Sales region" and field.required
    refused = api_client.patch(f"/api/v1/custom-fields/{field.pk}", {"key": "area", "field_type": "integer",
                                                                      "label": "Area"},
                               content_type="application/json")
    assert refused.status_code == 422 and set(refused.json()["errors"]) == {"key", "field_type"}
    field.refresh_from_db()
    assert (field.key, field.field_type, field.label) == ("region", "text", "Sales region")


def test_removing_a_field_keeps_stored_values(api_client, admin_user):
    field = services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "region",
                                                                 "label": "Region"})
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei",
                                                              "custom_data": {"region": "south"}})
    assert api_client.delete(f"/api/v1/custom-fields/{field.pk}").status_code == 204
    assert not CustomField.objects.filter(pk=field.pk).exists()
    contact.refresh_from_db()
    assert contact.custom_data == {"region": "south"}
    assert AuditLog.objects.filter(action="delete", object_type="customfield", object_id=str(field.pk)).exists()
    assert api_client.delete(f"/api/v1/custom-fields/{field.pk}").status_code == 404


@pytest.mark.parametrize("role", [Role.SALES_MANAGER, Role.SALES_REP, Role.MARKETER, Role.ANALYST, Role.CUSTOMER])
def test_other_roles_may_not_manage_custom_fields(admin_user, make_user, client_for, role):
    field = services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "region",
                                                                 "label": "Region"})
    client = client_for(make_user("someone", role))
    assert client.get("/api/v1/custom-fields").status_code == 403
    assert post(client, "/api/v1/custom-fields", {"target": "contact", "key": "x", "label": "X"}).status_code == 403
    assert client.patch(f"/api/v1/custom-fields/{field.pk}", {"label": "Y"},
                        content_type="application/json").status_code == 403
    assert client.delete(f"/api/v1/custom-fields/{field.pk}").status_code == 403
    assert list(CustomField.objects.values_list("key", "label")) == [("region", "Region")]
