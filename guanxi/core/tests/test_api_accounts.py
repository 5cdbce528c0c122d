"""Accounts through the REST API: key accounts with their team, validation, optimistic
locking, delete, list filters and pagination, each checked against the stored state."""

import pytest

from guanxi.core import selectors, services
from guanxi.core.models import Account, AccountTeamMember, AuditLog, Role

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def patch(client, path, body):
    return client.patch(path, body, content_type="application/json")


@pytest.fixture
def segment_field(admin_user):
    return services.custom_field_create(actor=admin_user, data={
        "target": "account", "key": "employees_band", "label": "Employees band", "field_type": "integer"})


def test_create_key_account_with_team_and_everything_stored(api_client, admin_user, make_user, segment_field):
    # given two colleagues who will serve a key account
    sponsor, engineer = make_user("sponsor", Role.SALES_MANAGER), make_user("engineer", Role.SALES_REP)
    body = {
        "name": "深圳华强电子有限公司", "phone": "0755 8888 6666", "email": "Info@HuaQiang.example",
        "website": "https://huaqiang.example", "annual_revenue": "125000000.50", "currency": "CNY",
        "employees": 1200, "is_key_account": True, "industry": "Electronics", "tags": ["strategic"],
        "account_team": [{"user_id": sponsor.pk, "team_role": "executive sponsor"}, {"user_id": engineer.pk}],
        "addresses": [{"kind": "billing", "province": "广东省", "city": "深圳市", "street": "华强北路 1 号"}],
        "custom_data": {"employees_band": "3"},
    }
    # when it is posted
    response = post(api_client, "/api/v1/accounts", body)
    # then the answer shows the normalized record with its team
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["phone"] == "+8675588886666" and data["email"] == "info@huaqiang.example"
    assert data["annual_revenue"] == "125000000.50"
    assert data["is_key_account"] is True
    assert [(member["user"]["id"], member["team_role"]) for member in data["account_team"]] == [
        (sponsor.pk, "executive sponsor"), (engineer.pk, "")]
    assert data["tags"] == ["strategic"] and data["custom_data"] == {"employees_band": 3}
    assert data["addresses"][0]["street"] == "华强北路 1 号"
    assert data["owner"]["id"] == admin_user.pk and data["version"] == 1
    # and so does the database, with an audit entry
    account = Account.objects.get(pk=data["id"])
    assert account.is_key_account and account.phone == "+8675588886666"
    assert set(AccountTeamMember.objects.filter(account=account).values_list("user_id", flat=True)) == {
        sponsor.pk, engineer.pk}
    assert AuditLog.objects.filter(action="create", object_type="account", object_id=str(account.pk)).exists()


def test_bad_phone_email_and_website_answer_422_and_store_nothing(api_client):
    response = post(api_client, "/api/v1/accounts", {"name": "Acme", "phone": "123", "email": "acme@",
                                                     "website": "not a url"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"phone", "email", "website"}
    assert Account.objects.count() == 0


def test_unknown_account_team_member_is_named_by_position(api_client, admin_user):
    response = post(api_client, "/api/v1/accounts", {"name": "Acme", "account_team": [
        {"user_id": admin_user.pk}, {"user_id": 999999}]})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"account_team.1"}
    assert Account.objects.count() == 0 and AccountTeamMember.objects.count() == 0


def test_account_without_name_is_refused(api_client):
    response = post(api_client, "/api/v1/accounts", {"industry": "Retail"})
    assert response.status_code == 422 and "name" in response.json()["errors"]
    assert Account.objects.count() == 0


def test_patch_with_version_and_rename_keeps_contacts_findable(api_client, admin_user):
    # given an account with a contact
    account = services.account_create(actor=admin_user, data={"name": "Old Name Ltd"})
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei", "account_id": account.pk})
    # when it is renamed with the version read
    response = patch(api_client, f"/api/v1/accounts/{account.pk}", {"name": "Brand New Co", "version": 1})
    # then the name and version change, and the contact is found by the new company name
    assert response.status_code == 200 and response.json()["version"] == 2
    account.refresh_from_db()
    assert account.name == "Brand New Co"
    assert [found.pk for found in selectors.global_search(admin_user, "brand new").contacts] == [contact.pk]


def test_patch_with_stale_version_changes_nothing(api_client, admin_user):
    account = services.account_create(actor=admin_user, data={"name": "Acme"})
    services.account_update(actor=admin_user, account_id=account.pk, data={"industry": "Retail"})
    response = patch(api_client, f"/api/v1/accounts/{account.pk}", {"industry": "Banking", "version": 1})
    assert response.status_code == 409
    account.refresh_from_db()
    assert (account.industry, account.version) == ("Retail", 2)


def test_patch_replaces_the_account_team(api_client, admin_user, make_user):
    first, second = make_user("first", Role.SALES_REP), make_user("second", Role.SALES_REP)
    account = services.account_create(actor=admin_user, data={"name": "Acme", "is_key_account": True,
                                                              "account_team": [{"user_id": first.pk}]})
    response = patch(api_client, f"/api/v1/accounts/{account.pk}", {"account_team": [{"user_id": second.pk,
                                                                                      "team_role": "lead"}]})
    assert response.status_code == 200
    assert list(AccountTeamMember.objects.filter(account=account).values_list("user_id", "team_role")) == [
        (second.pk, "lead")]


def test_delete_keeps_contacts_and_writes_an_audit_entry(api_client, admin_user):
    account = services.account_create(actor=admin_user, data={"name": "Acme"})
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei", "account_id": account.pk})
    response = api_client.delete(f"/api/v1/accounts/{account.pk}")
    assert response.status_code == 204
    assert not Account.objects.filter(pk=account.pk).exists()
    contact.refresh_from_db()
    assert contact.account_id is None
    assert AuditLog.objects.filter(action="delete", object_type="account", object_id=str(account.pk)).count() == 1
    assert api_client.get(f"/api/v1/accounts/{account.pk}").status_code == 404


def test_list_filters_sorting_and_paging(api_client, admin_user, segment_field):
    key = services.account_create(actor=admin_user, data={
        "name": "Zenith Bank", "is_key_account": True, "industry": "Banking", "tags": ["tier1"],
        "phone": "+86 10 6552 9988", "custom_data": {"employees_band": 5}, "value_tier": "platinum"})
    other = services.account_create(actor=admin_user, data={"name": "Acme Retail", "industry": "Retail"})

    def ids(query):
        response = api_client.get(f"/api/v1/accounts?{query}")
        assert response.status_code == 200, (query, response.content)
        return [item["id"] for item in response.json()["items"]]

    assert ids("") == [other.pk, key.pk]
    assert ids("sort=-name") == [key.pk, other.pk]
    assert ids("is_key_account=true") == [key.pk]
    assert ids("is_key_account=false") == [other.pk]
    assert ids("industry=Retail") == [other.pk]
    assert ids("tag=tier1") == [key.pk]
    assert ids("value_tier=platinum") == [key.pk]
    assert ids("cf_employees_band=5") == [key.pk]
    assert ids("q=zenith") == [key.pk]
    assert ids("q=010-6552-9988") == [key.pk]
    page = api_client.get("/api/v1/accounts?limit=1&count=true").json()
    assert len(page["items"]) == 1 and page["count"] == 2 and page["next"].endswith("offset=1")
    bad = api_client.get("/api/v1/accounts?cf_employees_band=many")
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"cf_employees_band"}


def test_sales_rep_sees_own_accounts_and_key_accounts_whose_team_they_are_on(admin_user, make_user, client_for):
    # given a rep who owns one account and serves on the team of another
    rep = make_user("rep", Role.SALES_REP)
    owned = services.account_create(actor=rep, data={"name": "Owned"})
    served = services.account_create(actor=admin_user, data={"name": "Served", "is_key_account": True,
                                                             "account_team": [{"user_id": rep.pk}]})
    hidden = services.account_create(actor=admin_user, data={"name": "Hidden"})
    client = client_for(rep)
    # then the list and the detail follow that scope
    assert [item["id"] for item in client.get("/api/v1/accounts").json()["items"]] == [owned.pk, served.pk]
    assert client.get(f"/api/v1/accounts/{served.pk}").status_code == 200
    assert client.get(f"/api/v1/accounts/{hidden.pk}").status_code == 404
    # and a rep may not rename an account outside their scope
    assert patch(client, f"/api/v1/accounts/{hidden.pk}", {"name": "Taken"}).status_code == 404
    hidden.refresh_from_db()
    assert hidden.name == "Hidden"


def test_account_list_stays_within_its_query_budget(api_client, admin_user, make_user,
                                                    django_assert_max_num_queries):
    """SPEC §1: ≤ 10 SQL queries per API list page whatever its size; tags, addresses and the
    account team are prefetched, owner, parent and territory joined."""
    member = make_user("member", Role.SALES_REP)
    for number in range(30):
        services.account_create(actor=admin_user, data={
            "name": f"Account {number:02}", "tags": ["a"], "is_key_account": True,
            "account_team": [{"user_id": member.pk}], "addresses": [{"city": "上海市"}]})
    api_client.get("/api/v1/users/me")
    with django_assert_max_num_queries(10):
        response = api_client.get("/api/v1/accounts?limit=30")
    assert response.status_code == 200 and len(response.json()["items"]) == 30
