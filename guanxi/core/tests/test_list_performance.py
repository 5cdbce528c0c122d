"""What keeps list pages, API lists and search fast at a million contacts (SPEC §1: p95 ≤ 50 ms
and ≤ 10 SQL queries per page), tested for behaviour and query counts — never for time;
``benchmarks/list_latency.py`` measures the time.

Covered: query budgets of search (API and page) and of the lists as seen by a sales rep,
whose "own" scope must cost no more than an administrator's "all"; pages far down a list
read their keys first and show exactly the rows a plain slice would; the full-text filter
gives the same rows whether it expects few or many matches; the search box's bounded
candidate set for users who see every record; complete email addresses searched exactly;
and the list rows and filter selects written in Python with the markup the templates had.
"""

import datetime
import random
import re

import pytest
from django import forms
from django.template.defaultfilters import date as date_filter
from django.test import Client
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from guanxi.api import api
from guanxi.core import search, selectors, services
from guanxi.core.api import AccountOut, ContactOut, with_account_details, with_contact_details
from guanxi.core.forms import QuickHiddenInput, QuickSelect, QuickTextInput
from guanxi.core.models import Contact, LifecycleStage, Role
from guanxi.core.templatetags.record_tables import UpdatedCell
from guanxi.core.views import paging

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rep(make_user):
    return make_user("rep", Role.SALES_REP)


@pytest.fixture
def customers(admin_user, rep):
    """30 contacts of the rep and 30 of the administrator, each at an account of its owner,
    every one with a phone, an email, a tag and an address, so a page has something to
    join and prefetch for every row."""
    accounts = {user.pk: services.account_create(actor=user, data={"name": "华强电子"}) for user in (admin_user, rep)}
    created = []
    for number in range(60):
        owner = rep if number % 2 else admin_user
        created.append(services.contact_create(actor=owner, data={
            "family_name": "王", "given_name": f"客户{number:02d}", "phone": f"139{number:08d}",
            "email": f"wang{number}@example.com", "account_id": accounts[owner.pk].pk, "tags": ["vip"],
            "lifecycle_stage": LifecycleStage.ACTIVE if number % 3 else LifecycleStage.LOYAL,
            "addresses": [{"city": "深圳市"}]}))
    return accounts, created


# ======================================================================================
# Query budgets
# ======================================================================================
def test_api_search_stays_within_budget_for_every_role(api_client, rep, client_for, customers,
                                                       django_assert_max_num_queries):
    """Search answers in ≤ 10 queries for names and phones, for an administrator (all
    records: the newest matches are the candidates) and a rep (own records: the matches are
    counted first, then read in order). Counted: the token, the count (rep), contacts with
    account and owner joined, the accounts — never one query per result."""
    rep_client = client_for(rep)
    for client in (api_client, rep_client):
        client.get("/api/v1/users/me")  # the token's last-use stamp is written once a minute, not per call
        for query in ("王", "王客户", "wang", "139 0000 0001", "+86 139-0000-0003"):
            with django_assert_max_num_queries(10):
                response = client.get("/api/v1/search", {"q": query})
            assert response.status_code == 200
            contacts = response.json()["contacts"]
            assert contacts and all(item["owner"] and item["account"] for item in contacts)
    names = [item["full_name"] for item in rep_client.get("/api/v1/search", {"q": "王"}).json()["contacts"]]
    assert len(names) == 20 and names == sorted(names) and all(int(name[-2:]) % 2 for name in names)


def test_search_page_stays_within_budget(client, admin_user, rep, customers, django_assert_max_num_queries):
    """The search page: session, user, then the same reads as the API search (≤ 10)."""
    for user in (admin_user, rep):
        client.force_login(user)
        for query in ("王客户", "139-0000-0001", "华强"):
            with django_assert_max_num_queries(10):
                response = client.get(reverse("core:search"), {"q": query})
            assert response.status_code == 200 and "王客户" in response.content.decode()


def test_lists_for_a_sales_rep_stay_within_budget(rep, client_for, customers, django_assert_max_num_queries):
    """A rep's own records, filtered and sorted either way, in ≤ 10 queries on the page
    (session, user, filter choices, the page) and in the API (token, the page, four
    prefetches). The rep sees only their own 30 contacts."""
    page_client, api_client = signed_in(rep), client_for(rep)
    api_client.get("/api/v1/users/me")
    for query in ({"sort": "-updated"}, {"sort": "name", "lifecycle_stage": "active"}, {"q": "王客户"}):
        with django_assert_max_num_queries(10):
            response = page_client.get(reverse("core:contact_list"), query)
        assert response.status_code == 200
        with django_assert_max_num_queries(10):
            body = api_client.get("/api/v1/contacts", {**query, "limit": 50}).json()
        assert body["items"] and all(item["owner"]["username"] == "rep" for item in body["items"])


# ======================================================================================
# Pages far down a list
# ======================================================================================
def test_far_pages_read_keys_first_and_show_the_rows_a_plain_slice_shows(monkeypatch, admin_user, api_client,
                                                                       customers, django_assert_max_num_queries):
    # given pages far enough down the list to be read keys first
    monkeypatch.setattr(paging, "KEYS_FIRST_OFFSET", 5)
    for sort in ("name", "-updated", "stage"):
        contacts = selectors.contact_list(admin_user, None, sort)
        expected = [contact.pk for contact in contacts[20:30]]
        # when the page's rows are read
        with django_assert_max_num_queries(1):
            rows = paging.page_rows(contacts, 20, 10)
        # then they are the same rows in the same order, with their joins
        assert [row.pk for row in rows] == expected
        assert all(row.account.name == "华强电子" for row in rows)
    # and the API's offsets go the same way
    body = api_client.get("/api/v1/contacts", {"sort": "name", "limit": 10, "offset": 50}).json()
    plain = [contact.pk for contact in selectors.contact_list(admin_user, None, "name")[50:60]]
    assert [item["id"] for item in body["items"]] == plain and body["next"] is None


# ======================================================================================
# Full-text filter and search box
# ======================================================================================
@pytest.mark.parametrize("query", ["王", "王客户", "wang", "客户0"])
def test_full_text_filter_finds_the_same_rows_expecting_few_or_many_matches(monkeypatch, admin_user, rep,
                                                                          customers, query):
    def listed(user, sort):
        filters = selectors.ContactFilters(query=query)
        return [contact.pk for contact in selectors.contact_list(user, filters, sort)]

    few = {(user.pk, sort): listed(user, sort) for user in (admin_user, rep) for sort in ("name", "-updated")}
    # when the filter believes any match count is many (it walks the ordering index), also
    # for all records by name (where it otherwise reads and sorts up to many more matches)
    monkeypatch.setattr(search, "FEW_MATCHES", 1)
    monkeypatch.setattr(search, "FEW_MATCHES_IN_NAME_ORDER", 1)
    many = {(user.pk, sort): listed(user, sort) for user in (admin_user, rep) for sort in ("name", "-updated")}
    # then the rows and their order are the same
    assert few == many and all(few.values())


def test_full_text_filter_reads_and_sorts_more_matches_for_all_records_by_name(monkeypatch, admin_user, rep,
                                                                              customers):
    """A walk down the name order passes every name before the first match, so for a list of
    all records by name the matches are read and sorted up to FEW_MATCHES_IN_NAME_ORDER; by
    date, or within a rep's own records, the walk stays the cheaper way."""
    bounds = []
    monkeypatch.setattr(search, "_match_count", lambda table, groups, at_most: bounds.append(at_most) or 0)
    monkeypatch.setattr(search, "_postgres_few_matches",
                        lambda table, groups, at_most: bounds.append(at_most + 1) or [])
    for user, sort in ((admin_user, "name"), (admin_user, "stage"), (admin_user, "-updated"), (rep, "name")):
        selectors.contact_list(user, selectors.ContactFilters(query="王"), sort)
        selectors.account_list(user, selectors.AccountFilters(query="华强"), sort)
    name_order, default = search.FEW_MATCHES_IN_NAME_ORDER + 1, search.FEW_MATCHES + 1
    # (accounts have no stage sort: it falls back to name)
    assert bounds == [name_order, name_order, name_order, name_order, default, default, default, default]


def test_full_text_pages_read_keys_first_and_show_the_rows_a_plain_slice_shows(admin_user, rep, customers, api_client,
                                                                              django_assert_max_num_queries):
    for user in (admin_user, rep):
        for sort in ("name", "-updated", "stage"):
            contacts = selectors.contact_list(user, selectors.ContactFilters(query="王客户"), sort)
            expected = [(contact.pk, contact.account.name, str(contact.owner)) for contact in contacts[5:25]]
            # the page's keys, then its rows with their account and owner
            with django_assert_max_num_queries(2):
                rows = paging.page_rows(contacts, 5, 20, full_text=True)
                shown = [(row.pk, row.account.name, str(row.owner)) for row in rows]
            assert shown == expected and len(shown) == 20
    # the API list and the page show them the same way
    body = api_client.get("/api/v1/contacts", {"q": "王客户", "sort": "-updated", "limit": 10, "offset": 5}).json()
    plain = selectors.contact_list(admin_user, selectors.ContactFilters(query="王客户"), "-updated")[5:15]
    assert [(item["id"], item["account"]["name"]) for item in body["items"]] == [
        (contact.pk, contact.account.name) for contact in plain]
    html = signed_in(admin_user).get(reverse("core:contact_list"), {"q": "王客户", "page": 2}).content.decode()
    shown = re.findall(r'<th scope="row"><a href="/contacts/(\d+)/', html)
    assert shown == [str(contact.pk) for contact in selectors.contact_list(
        admin_user, selectors.ContactFilters(query="王客户"), "name")[50:60]]
    # past the last match there is nothing, in one query
    contacts = selectors.contact_list(rep, selectors.ContactFilters(query="王客户"))
    with django_assert_max_num_queries(1):
        assert paging.page_rows(contacts, 500, 20, full_text=True) == []


def test_search_box_for_all_records_looks_at_the_newest_matches_when_there_are_many(monkeypatch, admin_user, rep,
                                                                                   customers):
    _account, created = customers
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 10)
    # an administrator sees, by name, the first of the ten newest matches
    names = [contact.full_name for contact in selectors.global_search(admin_user, "王").contacts]
    assert names == sorted(contact.full_name for contact in created[-10:])
    # a rep's search is not bounded that way: the first 20 of all their matches by name
    names = [contact.full_name for contact in selectors.global_search(rep, "王").contacts]
    assert names == sorted(contact.full_name for contact in created if contact.owner_id == rep.pk)[:20]
    # with no more matches than candidates, the administrator's search is exact too
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 100)
    names = [contact.full_name for contact in selectors.global_search(admin_user, "王").contacts]
    assert names == sorted(contact.full_name for contact in created)[:20]


@pytest.mark.parametrize("window_per_match", [1, 3, 100])
def test_search_box_newest_matches_are_the_same_however_far_back_they_are_looked_for(monkeypatch, admin_user,
                                                                                      window_per_match):
    """PostgreSQL looks for the newest matches among the newest ids first, widens that
    window by the density it found, then reads all matches; whichever way, the candidates
    are exactly the newest matches (SQLite reads them in id order from its index)."""
    created = []
    for number in range(40):  # a 张 every fourth contact, and none among the newest eight
        name = f"张三{number:02d}" if number % 4 == 0 and number < 32 else f"李四{number:02d}"
        created.append(services.contact_create(actor=admin_user, data={"full_name": name}))
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 5)
    monkeypatch.setattr(search, "NEWEST_WINDOW_PER_MATCH", window_per_match)
    newest = sorted((contact for contact in created if contact.full_name.startswith("张")), key=lambda c: -c.pk)[:5]
    names = [contact.full_name for contact in selectors.global_search(admin_user, "张").contacts]
    assert names == sorted(contact.full_name for contact in newest)
    assert selectors.global_search(admin_user, "王").contacts == []


@pytest.mark.parametrize("estimate", [None, (0.0001, 40.0), (0.02, 40.0), (0.02, 100_000.0), (0.5, 40.0)])
def test_search_box_newest_matches_are_the_same_whatever_the_statistics_estimate(monkeypatch, admin_user,
                                                                                 estimate):
    """On PostgreSQL the statistics' estimate of the matching share picks the first window
    (or reading all matches at once); a wrong estimate may cost time, never results."""
    created = []
    for number in range(40):  # a 张 every fourth contact, and none among the newest eight
        name = f"张三{number:02d}" if number % 4 == 0 and number < 32 else f"李四{number:02d}"
        created.append(services.contact_create(actor=admin_user, data={"full_name": name}))
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 5)
    monkeypatch.setattr(search, "NEWEST_WINDOW_PER_MATCH", 3)
    monkeypatch.setattr(search, "_estimated_matches", lambda table, groups: estimate)
    newest = sorted((contact for contact in created if contact.full_name.startswith("张")), key=lambda c: -c.pk)[:5]
    names = [contact.full_name for contact in selectors.global_search(admin_user, "张").contacts]
    assert names == sorted(contact.full_name for contact in newest)
    assert selectors.global_search(admin_user, "王").contacts == []


def test_postgresql_estimates_a_words_share_from_the_planner_statistics(monkeypatch, admin_user):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's full-text index gives the newest matches in order; no estimate is needed")
    for number in range(40):
        name = f"张三{number:02d}" if number % 4 == 0 else f"Anna Smith{number:02d}"
        services.contact_create(actor=admin_user, data={"full_name": name})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE core_contact")
    monkeypatch.setattr(search, "_common_terms", {})   # statistics read by earlier tests are stale
    share, rows = search._estimated_matches("core_contact", search._word_groups("张"))
    assert rows == 40 and share == pytest.approx(10 / 40, abs=0.02)
    # a prefix counts every listed term it starts, plus the unlisted ones once
    share, _rows = search._estimated_matches("core_contact", search._word_groups("smi"))
    assert share >= 30 / 40
    # two words: the rarer one bounds the share
    share, _rows = search._estimated_matches("core_contact", search._word_groups("张 anna"))
    assert share == pytest.approx(10 / 40, abs=0.02)
    # no statistics (a table never analyzed): no estimate, the windows are found as before
    monkeypatch.setattr(search, "_common_terms", {})
    monkeypatch.setattr(search, "POSTGRES_VECTOR_COLUMNS", {})
    assert search._estimated_matches("core_contact", search._word_groups("张")) is None


def test_complete_email_addresses_match_exactly_and_partial_ones_as_a_prefix(admin_user, rep):
    mine = services.contact_create(actor=rep, data={"full_name": "Li Lei", "email": "li@example.com"})
    other = services.contact_create(actor=rep, data={"full_name": "Han Meimei", "email": "li@example.community"})
    for user in (admin_user, rep):
        found = [contact.pk for contact in selectors.global_search(user, "li@example.com").contacts]
        assert found == [mine.pk]
        found = {contact.pk for contact in selectors.global_search(user, "li@exam").contacts}
        assert found == {mine.pk, other.pk}


def test_a_lone_chinese_character_matches_only_itself(admin_user):
    wang = services.contact_create(actor=admin_user, data={"full_name": "王芳"})
    services.contact_create(actor=admin_user, data={"full_name": "汪洋"})
    assert [contact.pk for contact in selectors.global_search(admin_user, "王").contacts] == [wang.pk]
    assert search._sqlite_match(search._word_groups("王 芳")) == '"王" AND "芳"'
    assert search._postgres_tsquery(search._word_groups("芳 fang")) == "('芳') & ('fang':*)"


# ======================================================================================
# API lists written out without response validation
# ======================================================================================
def test_api_lists_write_out_exactly_what_the_schemas_validate_to(api_client, admin_user, make_user):
    # given contacts and accounts with every kind of value: nulls, decimals, dates, JSON,
    # several phones and emails, addresses, tags, an account team and a parent account
    colleague = make_user("colleague", Role.SALES_REP, display_name="同事 Colleague")
    parent = services.account_create(actor=admin_user, data={"name": "Group 集团"})
    account = services.account_create(actor=admin_user, data={
        "name": "华强电子", "parent_id": parent.pk, "annual_revenue": "1234567.89", "employees": 42,
        "is_key_account": True, "tags": ["vip", "电子"], "addresses": [{"city": "深圳市", "is_primary": True}],
        "account_team": [{"user_id": colleague.pk, "team_role": "sponsor"}]})
    services.contact_create(actor=admin_user, data={
        "family_name": "王", "given_name": "芳", "phone": "138 1234 5678", "email": "wang@example.com",
        "phones": [{"number": "0755 8888 6666", "kind": "work"}], "emails": [{"email": "fang@example.cn"}],
        "account_id": account.pk, "tags": ["b", "a"], "birth_date": "1990-05-04", "interests": ["tea"],
        "addresses": [{"city": "广州市"}, {"city": "深圳市", "is_primary": True}], "household_size": 3})
    services.contact_create(actor=admin_user, data={"full_name": "John Smith"})
    Contact.objects.filter(full_name="John Smith").update(churn_risk=0.25, lifetime_value="99.50")
    for path, schema, records in (
            ("/api/v1/contacts", ContactOut, with_contact_details(selectors.contact_list(admin_user, None, "name"))),
            ("/api/v1/accounts", AccountOut, with_account_details(selectors.account_list(admin_user, None, "name")))):
        # when the list is read through the API
        response = api_client.get(path)
        # then it is byte for byte what validating each record against the schema gives
        expected = {"items": [schema.from_orm(record).model_dump() for record in records], "next": None,
                    "count": None}
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.content == api.renderer.render(None, expected, response_status=200).encode()


# ======================================================================================
# Markup written in Python
# ======================================================================================
def test_contact_rows_show_every_cell_escaped(admin_client_for_rows):
    client, contact = admin_client_for_rows
    html = client.get(reverse("core:contact_list")).content.decode()
    row = re.search(r"<tr>\s*<th scope=\"row\">.*?</tr>", html, re.S).group(0)
    assert f'href="{reverse("core:contact_360", args=[contact.pk])}"' in row
    assert "&lt;b&gt;Zhang&lt;/b&gt; &amp; Co" in row and "<b>" not in row
    assert f'href="{reverse("core:account_360", args=[contact.account_id])}"' in row
    assert '<a href="tel:+8613812345678">+86 138 1234 5678</a>' in row
    assert '<a href="mailto:z@example.com">z@example.com</a>' in row
    assert "<td>Loyal</td>" in row and "<td>Administrator 管理员</td>" in row
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*\+08:00">', row)


@pytest.fixture
def admin_client_for_rows(client, make_user):
    admin = make_user("boss", Role.ADMIN, is_superuser=True, display_name="Administrator 管理员")
    account = services.account_create(actor=admin, data={"name": "Acme & Sons"})
    contact = services.contact_create(actor=admin, data={
        "full_name": "<b>Zhang</b> & Co", "phone": "138 1234 5678", "email": "z@example.com",
        "account_id": account.pk, "lifecycle_stage": LifecycleStage.LOYAL})
    client.force_login(admin)
    return client, contact


def test_account_rows_show_every_cell(client, make_user):
    admin = make_user("boss", Role.ADMIN, is_superuser=True)
    account = services.account_create(actor=admin, data={
        "name": "华强 <电子>", "industry": "telecom", "phone": "0755 8888 6666", "is_key_account": True,
        "value_tier": "gold"})
    client.force_login(admin)
    html = client.get(reverse("core:account_list")).content.decode()
    row = re.search(r"<tr>\s*<th scope=\"row\">.*?</tr>", html, re.S).group(0)
    assert f'href="{reverse("core:account_360", args=[account.pk])}">华强 &lt;电子&gt;</a>' in row
    assert '<span class="badge badge-alert">Key account</span>' in row
    assert '<a href="tel:+8675588886666">+86 755 8888 6666</a>' in row
    assert "<td>Gold (next 4%)</td>" in row and "<td>telecom</td>" in row


def test_quick_select_renders_what_djangos_select_renders():
    choices = [("", "Anyone"), (1, "王 <b>"), (2, "Bob & Co"), ("x", "X")]
    for value in (None, "", "1", 2, "x"):
        attributes = {"id": "id_owner", "aria-describedby": "owner_help", "disabled": True, "required": False}
        expected = forms.Select(choices=choices).render("owner", value, attrs=dict(attributes))
        rendered = QuickSelect(choices=choices).render("owner", value, attrs=dict(attributes))
        assert re.sub(r">\s+<", "><", rendered) == re.sub(r">\s+<", "><", expected.strip())


def test_quick_inputs_render_what_djangos_inputs_render():
    from django.utils.safestring import mark_safe

    for value in (None, "", "王 <b> & \"co\"", 42, mark_safe("<i>safe</i>")):
        for attributes in ({"id": "id_q", "maxlength": "200", "placeholder": "Name & phone", "required": False},
                           {"disabled": True, "data-x": mark_safe("&amp;"), "type": "search"}):
            for quick, django in ((QuickTextInput, forms.TextInput), (QuickHiddenInput, forms.HiddenInput)):
                expected = django(attrs=dict(attributes)).render("q", value, attrs={"aria-label": "<q>"})
                assert quick(attrs=dict(attributes)).render("q", value, attrs={"aria-label": "<q>"}) == expected


def test_filter_bar_is_the_markup_of_djangos_widgets(client, admin_user):
    """The whole filter bar, custom field filters included, against the same form with
    Django's own widgets (bound, so every value is shown)."""
    from guanxi.core.forms import ContactFilterForm

    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "segment", "label": "Segment",
                                                         "field_type": "choice", "choices": ["retail", "B&B"]})
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "size", "label": "Size",
                                                         "field_type": "integer"})
    data = {"q": "王 <x>", "tag": "vip", "owner": str(admin_user.pk), "cf_segment": "B&B", "cf_size": "3",
            "account": "7"}
    quick = ContactFilterForm(data, actor=admin_user)
    plain = ContactFilterForm(data, actor=admin_user)
    for name, field in plain.fields.items():
        widget = field.widget
        plain_class = {QuickTextInput: forms.TextInput, QuickHiddenInput: forms.HiddenInput,
                       QuickSelect: forms.Select}.get(type(widget))
        if plain_class is not None:
            replacement = plain_class(attrs=widget.attrs)
            replacement.choices = getattr(widget, "choices", [])
            replacement.input_type = getattr(widget, "input_type", None) or getattr(replacement, "input_type", None)
            field.widget = replacement
    assert quick.is_valid() and plain.is_valid()
    def markup(form):  # the selects differ only in the white space between tags
        return [re.sub(r">\s+<", "><", str(form[name])) for name in form.fields]

    assert markup(quick) == markup(plain)
    assert any(type(field.widget) is QuickSelect for name, field in quick.fields.items() if name == "cf_segment")


def test_owner_and_territory_filters_use_the_quick_select(client, admin_user, rep):
    client.force_login(admin_user)
    html = client.get(reverse("core:contact_list"), {"owner": rep.pk}).content.decode()
    assert f'<option value="{rep.pk}" selected>rep</option>' in html
    assert Contact.objects.count() == 0


def test_update_times_read_as_the_date_filters_write_them_in_both_languages():
    rng = random.Random(8)
    moments = [datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
               + datetime.timedelta(seconds=rng.randrange(10 ** 9)) for _ in range(2000)]
    for language in ("en", "zh-hans"):
        with translation.override(language):
            cell = UpdatedCell()
            for moment in moments:
                local = timezone.template_localtime(moment)
                assert cell(moment) == (f'<td class="nowrap"><time datetime="{date_filter(local, "c")}">'
                                        f'{date_filter(local, "SHORT_DATE_FORMAT")}</time></td>')


# ======================================================================================
# Filter choices and custom field definitions kept between requests
# ======================================================================================
def owner_options(client) -> dict[str, str]:
    html = client.get(reverse("core:contact_list")).content.decode()
    select = re.search(r'<select name="owner".*?</select>', html, re.S).group(0)
    return dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select))


def test_owner_filter_shows_user_changes_at_the_next_request(client, admin_user, make_user):
    client.force_login(admin_user)
    assert owner_options(client) == {str(admin_user.pk): "admin"}
    # a new user is offered at once
    newcomer = make_user("newcomer", Role.SALES_REP)
    assert owner_options(client) == {str(admin_user.pk): "admin", str(newcomer.pk): "newcomer"}
    # a new display name shows at once
    services.user_update(actor=admin_user, user_id=newcomer.pk, data={"display_name": "新同事"})
    assert owner_options(client)[str(newcomer.pk)] == "新同事"
    # a change written by another process (no signals, no service) shows at once too
    User = type(admin_user)
    User.objects.filter(pk=newcomer.pk).update(display_name="", first_name="Mei", last_name="Han")
    assert owner_options(client)[str(newcomer.pk)] == "Mei Han"
    # a removed user is no longer offered, and the stored users are as the page says
    services.user_deactivate(actor=admin_user, user_id=newcomer.pk)
    assert owner_options(client) == {str(admin_user.pk): "admin"}
    assert list(User.objects.filter(is_active=True).values_list("username", flat=True)) == ["admin"]


def test_territory_filter_shows_territory_changes_at_the_next_request(client, admin_user):
    from guanxi.core.models import Territory

    client.force_login(admin_user)

    def territory_options():
        html = client.get(reverse("core:account_list")).content.decode()
        select = re.search(r'<select name="territory".*?</select>', html, re.S).group(0)
        return re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select)

    assert territory_options() == []
    south = Territory.objects.create(code="cn-south", name="华南")
    north = Territory.objects.create(code="cn-north", name="East")
    assert territory_options() == [(str(north.pk), "East"), (str(south.pk), "华南")]
    Territory.objects.filter(pk=north.pk).update(name="North")
    assert territory_options() == [(str(north.pk), "North"), (str(south.pk), "华南")]
    south.delete()
    assert territory_options() == [(str(north.pk), "North")]


def test_custom_field_changes_show_in_filters_and_forms_at_the_next_request(client, admin_user):
    from guanxi.core.models import CustomField

    client.force_login(admin_user)
    list_url, form_url = reverse("core:contact_list"), reverse("core:contact_create")
    assert 'name="cf_segment"' not in client.get(list_url).content.decode()
    # a new field is a filter and a form input at once
    field = services.custom_field_create(actor=admin_user, data={
        "target": "contact", "key": "segment", "label": "Segment", "field_type": "choice",
        "choices": ["retail", "wholesale"]})
    html = client.get(list_url).content.decode()
    assert 'name="cf_segment"' in html and ">Segment<" in html and '<option value="wholesale">' in html
    assert 'name="cf_segment"' in client.get(form_url).content.decode()
    # a new label and new choices show at once, also when written without the service
    services.custom_field_update(actor=admin_user, field_id=field.pk, data={"label": "Market segment"})
    CustomField.objects.filter(pk=field.pk).update(choices=["retail", "online"])
    html = client.get(list_url).content.decode()
    assert ">Market segment<" in html and '<option value="online">' in html and "wholesale" not in html
    # filtering checks values against the current definition
    assert client.get(list_url, {"cf_segment": "online"}).status_code == 200
    # a deactivated field is neither offered nor accepted as a filter
    services.custom_field_update(actor=admin_user, field_id=field.pk, data={"is_active": False})
    assert 'name="cf_segment"' not in client.get(list_url).content.decode()
    response = client.get(list_url, {"cf_segment": "online"})
    assert response.status_code == 400 and "Unknown custom field “segment”." in response.content.decode()
    assert CustomField.objects.get(pk=field.pk).is_active is False
