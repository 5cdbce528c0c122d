"""Global search and caller lookup through the REST API: names (Chinese and Latin), company,
email and phone numbers in any format, always within what the caller may see."""

import pytest

from guanxi.core import services
from guanxi.core.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(admin_user):
    account = services.account_create(actor=admin_user, data={"name": "华强电子", "phone": "0755 8888 6666"})
    wang = services.contact_create(actor=admin_user, data={
        "family_name": "王", "given_name": "芳", "phone": "138 1234 5678", "email": "wang.fang@example.com",
        "account_id": account.pk})
    smith = services.contact_create(actor=admin_user, data={
        "full_name": "John Smith", "phone": "+1 415 555 0100", "email": "john@smith.example"})
    return account, wang, smith


def found(client, query):
    response = client.get("/api/v1/search", {"q": query})
    assert response.status_code == 200, response.content
    body = response.json()
    return [item["id"] for item in body["contacts"]], [item["id"] for item in body["accounts"]]


def test_search_by_name_company_email_and_phone_in_any_format(api_client, customers):
    account, wang, smith = customers
    assert found(api_client, "王芳") == ([wang.pk], [])
    assert found(api_client, "芳") == ([wang.pk], [])
    assert found(api_client, "smith") == ([smith.pk], [])
    assert found(api_client, "华强") == ([wang.pk], [account.pk])  # the company and the person who works there
    assert found(api_client, "wang.fang@example.com") == ([wang.pk], [])
    for written in ("13812345678", "+86 138-1234-5678", "0086 138 1234 5678", "(138) 1234 5678"):
        assert found(api_client, written) == ([wang.pk], []), written
    assert found(api_client, "+14155550100") == ([smith.pk], [])
    assert found(api_client, "0755-88886666") == ([], [account.pk])
    assert found(api_client, "李") == ([], [])


def test_search_result_carries_summaries(api_client, customers):
    account, wang, _smith = customers
    body = api_client.get("/api/v1/search", {"q": "王芳"}).json()
    assert body["query"] == "王芳"
    assert body["contacts"][0]["full_name"] == "王芳"
    assert body["contacts"][0]["phone"] == "+8613812345678"
    assert body["contacts"][0]["account"] == {"id": account.pk, "name": "华强电子"}


def test_search_respects_the_limit(api_client, admin_user):
    for number in range(5):
        services.contact_create(actor=admin_user, data={"full_name": f"Chen {number}"})
    body = api_client.get("/api/v1/search", {"q": "chen", "limit": 3}).json()
    assert len(body["contacts"]) == 3


def test_empty_or_missing_query_is_a_field_error(api_client):
    for query in ({"q": ""}, {}):
        response = api_client.get("/api/v1/search", query)
        assert response.status_code == 422
        assert set(response.json()["errors"]) == {"q"}


def test_search_never_shows_records_outside_the_callers_scope(admin_user, make_user, client_for):
    rep, other = make_user("rep", Role.SALES_REP), make_user("other", Role.SALES_REP)
    mine = services.contact_create(actor=rep, data={"full_name": "张伟", "phone": "13900001111"})
    services.contact_create(actor=other, data={"full_name": "张伟", "phone": "13900002222"})
    services.account_create(actor=other, data={"name": "张伟贸易"})
    client = client_for(rep)
    assert found(client, "张伟") == ([mine.pk], [])
    assert found(client, "139 0000 2222") == ([], [])


def test_roles_without_contact_access_may_not_search(make_user, client_for):
    partner = make_user("partner", Role.PARTNER)
    assert client_for(partner).get("/api/v1/search", {"q": "王"}).status_code == 403


# ======================================================================================
# Caller lookup
# ======================================================================================
def test_caller_lookup_by_phone_in_local_format(make_user, client_for, customers):
    _account, wang, _smith = customers
    agent = make_user("agent", Role.CONTACT_CENTER_AGENT)
    response = client_for(agent).get("/api/v1/lookup/phone", {"number": "0138-1234-5678"})
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == "+8613812345678"
    assert [contact["id"] for contact in body["contacts"]] == [wang.pk]
    assert body["contacts"][0]["account"]["name"] == "华强电子"


def test_caller_lookup_finds_every_contact_sharing_a_number(api_client, admin_user):
    first = services.contact_create(actor=admin_user, data={"full_name": "A Household", "phone": "13700001111"})
    second = services.contact_create(actor=admin_user, data={"full_name": "B Household",
                                                             "phones": [{"number": "+8613700001111"}]})
    body = api_client.get("/api/v1/lookup/phone", {"number": "+86 137 0000 1111"}).json()
    assert [contact["id"] for contact in body["contacts"]] == [first.pk, second.pk]


def test_caller_lookup_of_an_unknown_number_is_empty(api_client, customers):
    body = api_client.get("/api/v1/lookup/phone", {"number": "13600000000"}).json()
    assert body == {"number": "+8613600000000", "contacts": []}


def test_caller_lookup_of_a_malformed_number_is_a_field_error(api_client):
    response = api_client.get("/api/v1/lookup/phone", {"number": "12ab"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"number"}


def test_caller_lookup_is_limited_to_roles_that_view_contacts_and_to_their_scope(make_user, client_for, customers):
    _account, wang, _smith = customers
    customer, rep = make_user("customer", Role.CUSTOMER), make_user("rep", Role.SALES_REP)
    refused = client_for(customer).get("/api/v1/lookup/phone", {"number": "13812345678"})
    assert refused.status_code == 403
    assert client_for(rep).get("/api/v1/lookup/phone", {"number": "13812345678"}).json()["contacts"] == []
