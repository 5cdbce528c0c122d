"""Contacts through the REST API: create, read, change with optimistic locking, delete,
list with pagination and filters, each checked against what is stored afterwards."""

import pytest

from guanxi.core import services
from guanxi.core.models import (
    Address, AuditLog, ConsentRecord, Contact, ContactEmail, ContactPhone, Role, Territory,
)

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def patch(client, path, body):
    return client.patch(path, body, content_type="application/json")


@pytest.fixture
def region_field(admin_user):
    return services.custom_field_create(actor=admin_user, data={
        "target": "contact", "key": "region", "label": "Region", "field_type": "choice",
        "choices": ["north", "south"]})


@pytest.fixture
def account(admin_user):
    return services.account_create(actor=admin_user, data={"name": "深圳华强电子有限公司"})


# ======================================================================================
# Create
# ======================================================================================
def test_create_contact_normalizes_and_stores_everything(api_client, admin_user, account, region_field):
    # given a contact typed with a Chinese name, a local mobile number and mixed-case email
    body = {
        "family_name": "王", "given_name": "芳", "phone": "138 1234 5678", "email": " Wang.Fang@Example.COM ",
        "phones": [{"number": "+86 10 6552 9988", "kind": "work"}], "emails": [{"email": "fang@home.example"}],
        "addresses": [{"kind": "home", "province": "广东省", "city": "深圳市", "street": "深南大道 1 号"}],
        "tags": ["vip", "wechat"], "custom_data": {"region": "south"}, "account_id": account.pk,
        "consent_email": True, "birth_date": "1988-04-02", "gender": "female", "income_band": "upper_middle",
        "household_size": 3, "interests": ["hiking"], "lifecycle_stage": "active", "value_tier": "gold",
    }
    # when it is posted
    response = post(api_client, "/api/v1/contacts", body)
    # then the answer shows the normalized record
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["full_name"] == "王芳"
    assert data["phone"] == "+8613812345678"
    assert data["email"] == "wang.fang@example.com"
    assert data["phones"] == [{"number": "+8613812345678", "kind": "mobile", "is_primary": True},
                              {"number": "+861065529988", "kind": "work", "is_primary": False}]
    assert [email["email"] for email in data["emails"]] == ["wang.fang@example.com", "fang@home.example"]
    assert data["addresses"][0]["city"] == "深圳市"
    assert data["tags"] == ["vip", "wechat"]
    assert data["custom_data"] == {"region": "south"}
    assert data["account"] == {"id": account.pk, "name": "深圳华强电子有限公司"}
    assert data["owner"]["id"] == admin_user.pk
    assert data["version"] == 1
    assert data["consent_email"] is True and data["consent_sms"] is False
    assert (data["birth_date"], data["gender"], data["household_size"]) == ("1988-04-02", "female", 3)
    # and the stored state matches, with consent history and an audit entry
    contact = Contact.objects.get(pk=data["id"])
    assert contact.phone == "+8613812345678" and contact.account_id == account.pk
    assert set(ContactPhone.objects.filter(contact=contact).values_list("number", flat=True)) == {
        "+8613812345678", "+861065529988"}
    assert ContactEmail.objects.filter(contact=contact).count() == 2
    assert Address.objects.get(contact=contact).street == "深南大道 1 号"
    assert ConsentRecord.objects.filter(contact=contact, channel="email", granted=True).count() == 1
    assert AuditLog.objects.filter(action="create", object_type="contact", object_id=str(contact.pk)).count() == 1


def test_bad_phone_and_email_answer_422_with_both_field_errors_and_store_nothing(api_client):
    response = post(api_client, "/api/v1/contacts", {"full_name": "Bad Input", "phone": "12", "email": "nope"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert set(body["errors"]) == {"phone", "email"}
    assert "12" in body["errors"]["phone"][0]
    assert Contact.objects.count() == 0 and ContactPhone.objects.count() == 0
    assert not AuditLog.objects.filter(object_type="contact").exists()


def test_bad_numbers_in_the_phone_list_are_named_by_position(api_client):
    response = post(api_client, "/api/v1/contacts", {
        "full_name": "Li Lei", "phones": [{"number": "+86 138 1234 5678"}, {"number": "abc"}]})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"phones.1"}
    assert Contact.objects.count() == 0


def test_malformed_fields_answer_422_per_field(api_client):
    response = post(api_client, "/api/v1/contacts", {
        "full_name": "Li Lei", "birth_date": "last spring", "household_size": -1, "gender": "robot"})
    assert response.status_code == 422
    assert {"birth_date", "household_size"} <= set(response.json()["errors"])
    assert Contact.objects.count() == 0


def test_choice_outside_the_list_is_refused_by_the_service(api_client):
    response = post(api_client, "/api/v1/contacts", {"full_name": "Li Lei", "gender": "robot"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"gender"}
    assert Contact.objects.count() == 0


def test_unknown_body_field_is_refused_not_ignored(api_client):
    response = post(api_client, "/api/v1/contacts", {"full_name": "Li Lei", "jobtitle": "CTO"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"jobtitle"}
    assert Contact.objects.count() == 0


def test_contact_without_any_name_is_refused(api_client):
    response = post(api_client, "/api/v1/contacts", {"email": "someone@example.com"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"full_name"}
    assert Contact.objects.count() == 0


def test_bad_custom_field_value_and_unknown_key_are_refused(api_client, region_field):
    response = post(api_client, "/api/v1/contacts", {
        "full_name": "Li Lei", "custom_data": {"region": "west", "shoe_size": 42}})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"custom_data.region", "custom_data.shoe_size"}
    assert Contact.objects.count() == 0


def test_duplicate_external_id_is_a_field_error(api_client):
    assert post(api_client, "/api/v1/contacts", {"full_name": "A", "external_id": "CRM-1"}).status_code == 201
    response = post(api_client, "/api/v1/contacts", {"full_name": "B", "external_id": "CRM-1"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"external_id"}
    assert list(Contact.objects.values_list("full_name", flat=True)) == ["A"]


def test_unknown_account_is_a_field_error(api_client):
    response = post(api_client, "/api/v1/contacts", {"full_name": "Li Lei", "account_id": 999999})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"account_id"}
    assert Contact.objects.count() == 0


def test_role_without_create_right_is_refused(make_user, client_for):
    analyst = make_user("analyst", Role.ANALYST)
    response = post(client_for(analyst), "/api/v1/contacts", {"full_name": "Li Lei"})
    assert response.status_code == 403
    assert Contact.objects.count() == 0


# ======================================================================================
# Read, change, delete
# ======================================================================================
def test_read_contact_and_unknown_id(api_client, admin_user):
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei", "phone": "13812345678"})
    response = api_client.get(f"/api/v1/contacts/{contact.pk}")
    assert response.status_code == 200
    assert response.json()["phones"] == [{"number": "+8613812345678", "kind": "mobile", "is_primary": True}]
    missing = api_client.get("/api/v1/contacts/999999")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}


def test_patch_with_current_version_changes_only_the_fields_sent(api_client, admin_user):
    # given a stored contact at version 1
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei", "job_title": "Engineer",
                                                              "email": "li@example.com"})
    # when a client that read version 1 changes the job title
    response = patch(api_client, f"/api/v1/contacts/{contact.pk}", {"job_title": "CTO", "version": 1})
    # then the change is stored, the version rises and other fields stay
    assert response.status_code == 200, response.content
    assert response.json()["job_title"] == "CTO" and response.json()["version"] == 2
    contact.refresh_from_db()
    assert (contact.job_title, contact.version, contact.email) == ("CTO", 2, "li@example.com")
    entry = AuditLog.objects.get(action="update", object_type="contact", object_id=str(contact.pk))
    assert entry.changes["job_title"] == ["Engineer", "CTO"]


def test_patch_with_stale_version_is_refused_and_changes_nothing(api_client, admin_user):
    # given a contact someone else already changed (now version 2)
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei"})
    services.contact_update(actor=admin_user, contact_id=contact.pk, data={"job_title": "CTO"})
    # when a client that read version 1 saves its edit
    response = patch(api_client, f"/api/v1/contacts/{contact.pk}", {"job_title": "CEO", "version": 1})
    # then it is told of the conflict and the stored record is untouched
    assert response.status_code == 409
    assert "version 2" in response.json()["detail"]
    contact.refresh_from_db()
    assert (contact.job_title, contact.version) == ("CTO", 2)
    assert AuditLog.objects.filter(action="update", object_type="contact").count() == 1


def test_patch_with_bad_email_changes_nothing(api_client, admin_user):
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei", "email": "li@example.com"})
    response = patch(api_client, f"/api/v1/contacts/{contact.pk}", {"email": "li@", "job_title": "CTO"})
    assert response.status_code == 422 and set(response.json()["errors"]) == {"email"}
    contact.refresh_from_db()
    assert (contact.email, contact.job_title, contact.version) == ("li@example.com", "", 1)


def test_patch_replaces_tags_and_merges_custom_data(api_client, admin_user, region_field):
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei", "tags": ["old"],
                                                              "custom_data": {"region": "north"}})
    response = patch(api_client, f"/api/v1/contacts/{contact.pk}", {"tags": ["new", "vip"],
                                                                    "custom_data": {"region": "south"}})
    assert response.status_code == 200
    contact.refresh_from_db()
    assert sorted(contact.tags.values_list("name", flat=True)) == ["new", "vip"]
    assert contact.custom_data == {"region": "south"}


def test_delete_removes_the_contact_and_writes_an_audit_entry(api_client, admin_user):
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei", "phone": "13812345678"})
    response = api_client.delete(f"/api/v1/contacts/{contact.pk}")
    assert response.status_code == 204 and response.content == b""
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not ContactPhone.objects.filter(number="+8613812345678").exists()
    entry = AuditLog.objects.get(action="delete", object_type="contact", object_id=str(contact.pk))
    assert entry.actor_id == admin_user.pk and entry.changes == {"full_name": ["Li Lei", None]}
    assert api_client.delete(f"/api/v1/contacts/{contact.pk}").status_code == 404


def test_rep_cannot_read_change_or_delete_someone_elses_contact(make_user, client_for):
    rep, other = make_user("rep", Role.SALES_REP), make_user("other", Role.SALES_REP)
    theirs = services.contact_create(actor=other, data={"full_name": "Theirs"})
    client = client_for(rep)
    assert client.get(f"/api/v1/contacts/{theirs.pk}").status_code == 404
    assert patch(client, f"/api/v1/contacts/{theirs.pk}", {"full_name": "Mine now"}).status_code == 404
    # reps may delete no contact at all: refused before any record is looked at
    assert client.delete(f"/api/v1/contacts/{theirs.pk}").status_code == 403
    assert client.delete(f"/api/v1/contacts/{theirs.pk + 1000}").status_code == 403
    theirs.refresh_from_db()
    assert theirs.full_name == "Theirs" and theirs.version == 1
    assert not AuditLog.objects.filter(object_type="contact", action__in=["update", "delete"]).exists()


# ======================================================================================
# Lists: pagination, filters, sorting, query budget
# ======================================================================================
def test_list_pages_with_next_link_and_counts_only_on_request(api_client, admin_user):
    for number in range(5):
        services.contact_create(actor=admin_user, data={"full_name": f"Contact {number}"})
    # when the first page of two is read
    first = api_client.get("/api/v1/contacts?limit=2").json()
    # then it holds two items, a link to the next page and no count
    assert [item["full_name"] for item in first["items"]] == ["Contact 0", "Contact 1"]
    assert first["count"] is None
    assert first["next"] == "/api/v1/contacts?limit=2&offset=2"
    # and following next links walks the whole list once
    names, link = [], "/api/v1/contacts?limit=2"
    while link:
        page = api_client.get(link).json()
        names += [item["full_name"] for item in page["items"]]
        link = page["next"]
    assert names == [f"Contact {number}" for number in range(5)]
    # and the count is there when asked for
    assert api_client.get("/api/v1/contacts?limit=2&count=true").json()["count"] == 5


def test_list_refuses_out_of_range_paging(api_client):
    response = api_client.get("/api/v1/contacts?limit=0&offset=-1")
    assert response.status_code == 422
    assert {"limit", "offset"} <= set(response.json()["errors"])
    assert api_client.get("/api/v1/contacts?limit=201").status_code == 422


def test_list_filters(api_client, admin_user, make_user, account, region_field):
    owner = make_user("owner", Role.SALES_REP)
    territory = Territory.objects.create(code="cn-south", name="South China")
    wang = services.contact_create(actor=admin_user, data={
        "full_name": "王芳", "phone": "13812345678", "lifecycle_stage": "active", "value_tier": "gold",
        "tags": ["vip"], "custom_data": {"region": "south"}, "account_id": account.pk, "owner_id": owner.pk,
        "territory_id": territory.pk})
    li = services.contact_create(actor=admin_user, data={
        "full_name": "Li Lei", "phone": "+1 415 555 0100", "lifecycle_stage": "prospect",
        "custom_data": {"region": "north"}})

    def ids(query):
        response = api_client.get(f"/api/v1/contacts?{query}")
        assert response.status_code == 200, (query, response.content)
        return [item["id"] for item in response.json()["items"]]

    assert ids("q=王芳") == [wang.pk]
    assert ids("q=%2B86%20138-1234-5678") == [wang.pk]  # the phone in another format
    assert ids("q=0086%2013812345678") == [wang.pk]
    assert ids("q=415-555-0100") == []  # local format of a foreign number reads as Chinese: no match
    assert ids("q=%2B14155550100") == [li.pk]
    assert ids("q=华强") == [wang.pk]  # company name
    assert ids("lifecycle_stage=active") == [wang.pk]
    assert ids("value_tier=gold") == [wang.pk]
    assert ids(f"owner_id={owner.pk}") == [wang.pk]
    assert ids(f"territory_id={territory.pk}") == [wang.pk]
    assert ids(f"account_id={account.pk}") == [wang.pk]
    assert ids("tag=vip") == [wang.pk]
    assert ids("cf_region=north") == [li.pk]
    assert ids("sort=-name") == [wang.pk, li.pk]
    assert ids("sort=name") == [li.pk, wang.pk]


def test_bad_filters_answer_422_naming_the_parameter(api_client, region_field):
    unknown = api_client.get("/api/v1/contacts?cf_shoe_size=42")
    assert unknown.status_code == 422 and set(unknown.json()["errors"]) == {"cf_shoe_size"}
    bad_choice = api_client.get("/api/v1/contacts?cf_region=west")
    assert bad_choice.status_code == 422 and set(bad_choice.json()["errors"]) == {"cf_region"}
    bad_stage = api_client.get("/api/v1/contacts?lifecycle_stage=sleeping")
    assert bad_stage.status_code == 422 and set(bad_stage.json()["errors"]) == {"lifecycle_stage"}
    bad_sort = api_client.get("/api/v1/contacts?sort=shoe_size")
    assert bad_sort.status_code == 422 and set(bad_sort.json()["errors"]) == {"sort"}


def test_rep_lists_only_own_contacts(make_user, client_for):
    rep, other = make_user("rep", Role.SALES_REP), make_user("other", Role.SALES_REP)
    mine = services.contact_create(actor=rep, data={"full_name": "Mine"})
    services.contact_create(actor=other, data={"full_name": "Theirs"})
    page = client_for(rep).get("/api/v1/contacts?count=true").json()
    assert [item["id"] for item in page["items"]] == [mine.pk] and page["count"] == 1


def test_list_page_stays_within_its_query_budget(api_client, admin_user, django_assert_max_num_queries,
                                                 region_field):
    """SPEC §1: API lists answer with ≤ 10 SQL queries per page at any size. Phones, emails,
    addresses and tags come by prefetch, owner, account and territory by join, so the count
    does not grow with the page."""
    account = services.account_create(actor=admin_user, data={"name": "Acme"})
    for number in range(60):
        services.contact_create(actor=admin_user, data={
            "full_name": f"Contact {number:02}", "phone": f"1381234{number:04}", "email": f"c{number}@example.com",
            "tags": ["vip"], "account_id": account.pk, "custom_data": {"region": "south"},
            "addresses": [{"city": "深圳市"}]})
    api_client.get("/api/v1/users/me")  # the token's last-use stamp is written once a minute, not per call
    with django_assert_max_num_queries(10):
        response = api_client.get("/api/v1/contacts?limit=50&cf_region=south&count=true")
    assert response.status_code == 200
    assert len(response.json()["items"]) == 50 and response.json()["count"] == 60
