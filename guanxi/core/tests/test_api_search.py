"""Global search and caller lookup through the REST API: names (Chinese and Latin), company,
email and phone numbers in any format, always within what the caller may see; search and the
list filters following renames and deletions, and each database's full-text index (SQLite's
FTS5 tables, PostgreSQL's stored vector)."""

import pytest
from django.db import connection, transaction

from guanxi.core import bulk_writes, selectors, services
from guanxi.core.models import Contact, Role

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


def listed(client, path, query):
    response = client.get(path, {"q": query})
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def stored_vectors_match_search_text() -> bool:
    """PostgreSQL: each contact's and account's stored vector is the vector of its search
    text as it is now (SQLite has no such column: its FTS5 triggers keep the index)."""
    with connection.cursor() as cursor:
        for table in ("core_contact", "core_account"):
            cursor.execute(f"SELECT count(*) FROM {table} WHERE search_vector IS DISTINCT FROM "
                           "to_tsvector('simple'::regconfig, search_text)")
            if cursor.fetchone()[0]:
                return False
    return True


def test_search_and_list_filters_follow_renames_and_deletions(api_client, admin_user, customers):
    account, wang, smith = customers
    # when the contact and the company are renamed (the company's contacts index its name too)
    services.contact_update(actor=admin_user, contact_id=wang.pk, data={"given_name": "丽"})
    services.account_update(actor=admin_user, account_id=account.pk, data={"name": "深蓝科技"})
    # then search and the list filters find them by their new names only
    assert found(api_client, "王丽") == ([wang.pk], [])
    assert found(api_client, "深蓝") == ([wang.pk], [account.pk])
    assert found(api_client, "王芳") == ([], []) and found(api_client, "华强") == ([], [])
    assert listed(api_client, "/api/v1/contacts", "王丽") == [wang.pk]
    assert listed(api_client, "/api/v1/contacts", "深蓝科") == [wang.pk]  # a prefix of the last word
    assert listed(api_client, "/api/v1/accounts", "深蓝") == [account.pk]
    assert listed(api_client, "/api/v1/contacts", "芳") == [] and listed(api_client, "/api/v1/accounts", "华强") == []
    # and a deleted contact is found no more
    services.contact_delete(actor=admin_user, contact_id=smith.pk)
    assert found(api_client, "smith") == ([], []) and listed(api_client, "/api/v1/contacts", "smith") == []
    assert Contact.objects.filter(pk=wang.pk, full_name="王丽").exists()
    if connection.vendor == "postgresql":
        assert stored_vectors_match_search_text()


def test_each_database_keeps_its_own_full_text_index(admin_user, customers):
    """PostgreSQL keeps to_tsvector(search_text) of contacts and accounts in the generated
    column search_vector (core migration 0006), written by PostgreSQL itself on every insert
    and update (a queryset update too), with the GIN index on that column; SQLite keeps its
    FTS5 tables and triggers (0002) and has no such column."""
    account, wang, _smith = customers
    # when a contact's search text is written by a queryset update (as an account rename does)
    Contact.objects.filter(pk=wang.pk).update(search_text="zhou 周 海")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname IN ('core_contact_search_gin', "
                           "'core_account_search_gin') ORDER BY indexname")
            definitions = [row[0] for row in cursor.fetchall()]
            assert len(definitions) == 2 and all(definition.endswith("USING gin (search_vector)")
                                                 for definition in definitions)
            cursor.execute("SELECT search_vector::text FROM core_contact WHERE id = %s", [wang.pk])
            assert cursor.fetchone()[0] == "'zhou':1 '周':2 '海':3"
            assert stored_vectors_match_search_text()
        else:
            for table in ("core_contact", "core_account"):
                columns = [column.name for column in connection.introspection.get_table_description(cursor, table)]
                assert "search_text" in columns and "search_vector" not in columns
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'core_%_fts_%'")
            assert len(cursor.fetchall()) == 6
            cursor.execute("SELECT rowid FROM core_contact_fts WHERE core_contact_fts MATCH '\"周 海\"'")
            assert cursor.fetchall() == [(wang.pk,)]
    # then the filter finds the contact by its new text, on both databases
    assert [contact.pk for contact in selectors.contact_list(admin_user, selectors.ContactFilters(query="周海"))] == [
        wang.pk]
    assert [row.pk for row in selectors.account_list(admin_user, selectors.AccountFilters(query="华强"))] == [
        account.pk]



def test_full_text_index_suspended_for_a_bulk_write_comes_back_the_same(api_client, admin_user, customers):
    """bulk_writes.suspend_indexes drops the full-text index of contacts (PostgreSQL: the GIN
    index on the stored vector; SQLite: the FTS5 triggers) and restore_indexes brings back
    exactly that; rows written meanwhile are found afterwards."""
    _account, wang, _smith = customers

    def full_text_index() -> list[str]:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'core_contact' "
                               "AND indexdef LIKE '%%USING gin%%'")
            else:
                cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'core_contact_fts_%%' "
                               "ORDER BY name")
            return [row[0] for row in cursor.fetchall()]

    before = full_text_index()
    assert len(before) == (1 if connection.vendor == "postgresql" else 3)
    with transaction.atomic():
        suspended = bulk_writes.suspend_indexes(["core_contact"])
        assert full_text_index() == []
        zhou = services.contact_create(actor=admin_user, data={"full_name": "周海"})
        bulk_writes.restore_indexes(suspended)
    assert full_text_index() == before
    assert found(api_client, "周海") == ([zhou.pk], [])
    assert found(api_client, "王芳") == ([wang.pk], [])
    if connection.vendor == "postgresql":
        assert stored_vectors_match_search_text()

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
