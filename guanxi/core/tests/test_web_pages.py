"""The web UI of the core records: sign-in, layout, language, contacts and accounts
(list, detail, forms, delete), search, custom fields, audit log and profile.

Each test drives the pages through the Django test client, then checks both the
response and what is stored afterwards — failures included.
"""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from guanxi.core import services
from guanxi.core.models import (
    Account, ApiToken, AuditLog, Contact, ContactPhone, CustomField, Role, Tag, Team, User,
)

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-42"  # the password conftest.make_user gives every user


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def signed_in(client, user):
    client.force_login(user)
    return client


def client_of(user) -> Client:
    """A second browser, signed in as ``user`` (the ``client`` fixture is one browser)."""
    return signed_in(Client(), user)


def contact_form_data(**overrides):
    """What the browser sends for a new contact with only the essentials filled in."""
    data = {"family_name": "", "given_name": "", "full_name": "", "lifecycle_stage": "prospect",
            "relationship_stage": "transactional", "preferred_language": "zh-hans", "owner": "", "phone": "",
            "email": "", "tags": "", "account": ""}
    data.update(overrides)
    return data


def page_text(response) -> str:
    return response.content.decode()


# ======================================================================================
# Signing in and out
# ======================================================================================
def test_login_signs_in_applies_the_users_language_and_is_audited(client, make_user):
    # given a user who chose Chinese
    user = make_user("wang", Role.SALES_REP, language="zh-hans")
    # when they sign in on the login page
    response = client.post(reverse("core:login"), {"username": "wang", "password": PASSWORD})
    # then they land on their home page, in their language, and the sign-in is audited
    assert response.status_code == 302 and response["Location"] == reverse("core:home")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert AuditLog.objects.filter(action="login", object_id=str(user.pk)).count() == 1
    home = client.get(reverse("core:home"))
    assert '<html lang="zh-hans">' in page_text(home)


def test_wrong_password_is_refused_with_a_message_and_audited(client, make_user):
    make_user("li", Role.SALES_REP)
    response = client.post(reverse("core:login"), {"username": "li", "password": "wrong-password"})
    assert response.status_code == 400
    assert "Please enter a correct username and password" in page_text(response)
    assert "_auth_user_id" not in client.session
    assert AuditLog.objects.filter(action="login_failed", object_id="li").count() == 1


def test_login_is_rate_limited_per_address_and_user_name(client, make_user, settings):
    # given a limit of 3 attempts a minute
    settings.GUANXI_LOGIN_RATE_LIMIT = "3/m"
    make_user("zhao", Role.SALES_REP)
    for _attempt in range(3):
        assert client.post(reverse("core:login"), {"username": "zhao", "password": "guess"}).status_code == 400
    # when a 4th attempt comes, even with the right password
    response = client.post(reverse("core:login"), {"username": "ZHAO", "password": PASSWORD})
    # then it is refused with 429 and a clear message, and nobody is signed in
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many sign-in attempts" in page_text(response)
    assert "_auth_user_id" not in client.session
    # and another user name from the same address is not blocked
    make_user("qian", Role.SALES_REP)
    assert client.post(reverse("core:login"), {"username": "qian", "password": PASSWORD}).status_code == 302


def test_logout_needs_post_and_signs_out(admin_client, admin_user):
    assert admin_client.get(reverse("core:logout")).status_code == 405
    response = admin_client.post(reverse("core:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("core:login")
    assert "_auth_user_id" not in admin_client.session
    assert AuditLog.objects.filter(action="logout", object_id=str(admin_user.pk)).count() == 1


def test_a_session_is_good_until_it_expires(client, make_user):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    # given a signed-in user
    make_user("wang", Role.SALES_REP)
    client.post(reverse("core:login"), {"username": "wang", "password": PASSWORD})
    assert client.get(reverse("core:contact_list")).status_code == 200
    # when the session expires, the next page asks to sign in again
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    response = client.get(reverse("core:contact_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("core:login"))
    # and a session key that was never issued signs no one in
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32
    assert client.get(reverse("core:contact_list")).status_code == 302


@pytest.mark.parametrize("url_name", ["core:home", "core:contact_list", "core:account_list", "core:search",
                                      "core:contact_create", "core:profile", "core:audit_log"])
def test_every_page_asks_for_sign_in_first(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:login") + "?next=")


# ======================================================================================
# Layout and language
# ======================================================================================
def test_layout_has_navigation_search_language_switcher_and_user_menu(admin_client):
    html = page_text(admin_client.get(reverse("core:contact_list")))
    assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
    assert "关系</span> Guanxi" in html
    # the menu comes from the navigation registry; the page being shown is marked current
    assert f'<a href="{reverse("core:contact_list")}" aria-current="page">Contacts</a>' in html
    assert f'<a href="{reverse("core:account_list")}">Accounts</a>' in html
    assert f'href="{reverse("interactions:list")}"' in html and f'href="{reverse("jobs:list")}"' in html
    # the global search box, the language switcher (POST with CSRF) and the user menu
    assert f'action="{reverse("core:search")}" method="get"' in html
    assert '<label for="global-search"' in html
    assert f'action="{reverse("set_language")}" method="post"' in html and "csrfmiddlewaretoken" in html
    assert '<label for="language-select"' in html and "简体中文" in html
    assert reverse("core:profile") in html and f'action="{reverse("core:logout")}" method="post"' in html


def test_menu_shows_only_what_the_role_may_open(client, make_user):
    agent = make_user("agent", Role.CONTACT_CENTER_AGENT)
    html = page_text(signed_in(client, agent).get(reverse("core:home")))
    assert f'href="{reverse("core:contact_list")}"' in html
    assert f'href="{reverse("jobs:list")}"' not in html  # contact-center agents have no jobs page
    assert reverse("core:audit_log") not in html


def test_language_switcher_sets_the_language_cookie_and_the_page_language(admin_client):
    # when the user picks 简体中文 in the header
    response = admin_client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("core:home")})
    # then the choice is remembered and the next page is served in Chinese
    assert response.status_code == 302 and response["Location"] == reverse("core:home")
    assert admin_client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    html = page_text(admin_client.get(reverse("core:home")))
    assert '<html lang="zh-hans">' in html
    assert '<option value="zh-hans" lang="zh-hans" selected>' in html


def test_profile_language_is_stored_on_the_user_and_applied(admin_client, admin_user):
    response = admin_client.post(reverse("core:profile_language"), {"language": "zh-hans"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    admin_user.refresh_from_db()
    assert admin_user.language == "zh-hans"
    # an unknown language is refused and changes nothing
    response = admin_client.post(reverse("core:profile_language"), {"language": "tlh"})
    assert response.status_code == 400
    admin_user.refresh_from_db()
    assert admin_user.language == "zh-hans"


# ======================================================================================
# Home
# ======================================================================================
def test_home_shows_my_record_counts(client, make_user):
    rep = make_user("rep", Role.SALES_REP)
    other = make_user("other", Role.SALES_REP)
    for name in ("A", "B"):
        services.contact_create(actor=rep, data={"full_name": name})
    services.contact_create(actor=other, data={"full_name": "Not mine"})
    services.account_create(actor=rep, data={"name": "Mine Ltd"})
    html = page_text(signed_in(client, rep).get(reverse("core:home")))
    counts = dict(re.findall(r"<strong>(\d+)</strong><a href=\"[^\"]+\">([^<]+)</a>", html))
    assert counts == {"2": "My contacts", "1": "My accounts"}
    assert "My recent interactions" in html and "My running jobs" in html


# ======================================================================================
# Contact list: sorting, filters, pagination, query budget
# ======================================================================================
def test_contact_list_sorts_filters_and_paginates_without_counting(admin_client, admin_user):
    # given 55 contacts, 3 of them loyal
    for number in range(55):
        services.contact_create(actor=admin_user, data={
            "full_name": f"Person {number:02d}", "lifecycle_stage": "loyal" if number in (3, 30, 54) else "new"})
    url = reverse("core:contact_list")
    # the first page holds 50 by name, with a link to the next page and no total count
    first = admin_client.get(url)
    html = page_text(first)
    assert first.status_code == 200
    assert html.count('<th scope="row">') == 50
    assert "Person 00" in html and "Person 49" in html and "Person 50" not in html
    assert 'href="?page=2" rel="next"' in html
    assert 'aria-sort="ascending"' in html
    second = page_text(admin_client.get(url, {"page": 2}))
    assert second.count('<th scope="row">') == 5 and 'rel="next"' not in second and 'rel="prev"' in second
    # sorting by name descending puts the last name first
    html = page_text(admin_client.get(url, {"sort": "-name"}))
    assert html.index("Person 54") < html.index("Person 53")
    assert 'aria-sort="descending"' in html
    # filtering by stage keeps only the loyal ones
    html = page_text(admin_client.get(url, {"lifecycle_stage": "loyal"}))
    assert re.findall(r"Person \d\d", html) == ["Person 03", "Person 30", "Person 54"]
    # an unknown sort falls back to name; a nonsense page number to the first page
    assert admin_client.get(url, {"sort": "salary", "page": "x"}).status_code == 200


def test_contact_list_filters_on_custom_fields_and_refuses_unknown_ones(admin_client, admin_user):
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "vip_level", "label": "VIP level",
                                                         "field_type": "integer"})
    services.contact_create(actor=admin_user, data={"full_name": "Level Two", "custom_data": {"vip_level": 2}})
    services.contact_create(actor=admin_user, data={"full_name": "Level Five", "custom_data": {"vip_level": 5}})
    url = reverse("core:contact_list")
    html = page_text(admin_client.get(url, {"cf_vip_level": "5"}))
    assert "Level Five" in html and "Level Two" not in html
    # a value of the wrong type is a 400 with the error next to the filter
    response = admin_client.get(url, {"cf_vip_level": "five"})
    assert response.status_code == 400 and "Enter a whole number." in page_text(response)
    # a custom field that does not exist is refused, not silently ignored
    response = admin_client.get(url, {"cf_shoe_size": "42"})
    assert response.status_code == 400 and "Unknown custom field “shoe_size”." in page_text(response)


def test_contact_list_stays_within_its_query_budget(client, make_user, django_assert_max_num_queries):
    """SPEC §1: list pages answer with ≤ 10 SQL queries per page at 1,000,000 contacts.

    The page must not count the table (COUNT(*) over a million rows costs more than the
    whole budget in time), must not query per row (owner and account come with the page
    by a join) and must not grow with filters. A sales manager is the most expensive
    viewer: the team scope reads the teams they manage. Counted: session, user, managed
    teams, custom field definitions, owner choices, territory choices, the page itself
    (51 rows), and the custom field definitions again when a custom filter is applied.
    """
    team = Team.objects.create(name="South")
    manager = make_user("manager", Role.SALES_MANAGER, team=team)
    Team.objects.filter(pk=team.pk).update(manager=manager)
    services.custom_field_create(actor=make_user("root", Role.ADMIN),
                                 data={"target": "contact", "key": "segment", "label": "Segment"})
    account = services.account_create(actor=manager, data={"name": "广州移动"})
    for number in range(60):
        services.contact_create(actor=manager, data={"full_name": f"客户 {number:02d}", "account_id": account.pk,
                                                     "custom_data": {"segment": "retail"}})
    signed_in(client, manager)
    url = reverse("core:contact_list")
    for query in ({}, {"sort": "-updated", "page": "2"},
                  {"lifecycle_stage": "prospect", "owner": manager.pk, "cf_segment": "retail", "q": "客户"}):
        with django_assert_max_num_queries(10):
            response = client.get(url, query)
        assert response.status_code == 200
        assert "客户" in page_text(response)


def test_account_list_sorts_and_filters_within_budget(admin_client, admin_user, django_assert_max_num_queries):
    for name, industry in (("Alpha Bank", "banking"), ("Beta Telecom", "telecom"), ("Gamma Retail", "retail")):
        services.account_create(actor=admin_user, data={"name": name, "industry": industry})
    url = reverse("core:account_list")
    with django_assert_max_num_queries(10):
        html = page_text(admin_client.get(url, {"sort": "-name"}))
    assert html.index("Gamma Retail") < html.index("Beta Telecom") < html.index("Alpha Bank")
    html = page_text(admin_client.get(url, {"industry": "telecom"}))
    assert "Beta Telecom" in html and "Alpha Bank" not in html


# ======================================================================================
# Contact forms
# ======================================================================================
def test_chinese_contact_with_local_phone_created_in_the_form_is_found_by_another_format(admin_client):
    # when a contact with a Chinese name and a local mobile number is entered in the form
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(
        family_name="王", given_name="芳", phone="138 1234 5678", email="Wang.Fang@Example.com",
        tags="VIP, 重点客户，golf"))
    # then it is stored normalized and the user is taken to its 360° page
    contact = Contact.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("core:contact_360", args=[contact.pk])
    assert (contact.full_name, contact.phone, contact.email) == ("王芳", "+8613812345678", "wang.fang@example.com")
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["VIP", "golf", "重点客户"]
    assert contact.owner is not None and contact.owner.username == "admin"
    # and the search page finds it by the phone written in another format
    html = page_text(admin_client.get(reverse("core:search"), {"q": "+86 138-1234-5678"}))
    assert reverse("core:contact_360", args=[contact.pk]) in html and "王芳" in html
    html = page_text(admin_client.get(reverse("core:search"), {"q": "芳"}))
    assert "王芳" in html
    html = page_text(admin_client.get(reverse("core:search"), {"q": "0086 13900000000"}))
    assert "王芳" not in html and "No contacts match" in html


def test_bad_input_shows_messages_next_to_the_fields_and_stores_nothing(admin_client):
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(
        full_name="Bad Input", phone="12", email="not-an-email"))
    html = page_text(response)
    assert response.status_code == 400
    assert Contact.objects.count() == 0
    assert "Nothing was saved" in html
    # each message sits under its field and the field points at it for screen readers
    assert re.search(r'id="id_phone"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="id_phone"', html)
    assert '<small class="field-error" id="id_phone_error">“12” is not a valid phone number.</small>' in html
    assert 'id="id_email_error">“not-an-email” is not a valid email address.</small>' in html
    # what the user typed is kept
    assert 'value="Bad Input"' in html


def test_a_contact_needs_a_name(admin_client):
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(job_title="CEO"))
    assert response.status_code == 400
    assert 'id="id_full_name_error">Enter a name (family name, given name or full name).' in page_text(response)
    assert Contact.objects.count() == 0


def test_custom_fields_are_typed_inputs_validated_by_the_service(admin_client, admin_user):
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "segment", "label": "Segment",
                                                         "label_zh": "细分", "field_type": "choice",
                                                         "choices": ["retail", "sme"], "required": True})
    services.custom_field_create(actor=admin_user, data={"target": "contact", "key": "since", "label": "Customer since",
                                                         "field_type": "date"})
    form_html = page_text(admin_client.get(reverse("core:contact_create")))
    assert '<label for="id_cf_segment">Segment <span aria-hidden="true">*</span></label>' in form_html
    assert 'type="date" name="cf_since"' in form_html
    # a missing required custom field is reported at that field
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(full_name="Zhou"))
    assert response.status_code == 400 and 'id="id_cf_segment_error">This field is required.' in page_text(response)
    assert Contact.objects.count() == 0
    # valid values are stored typed
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(
        full_name="Zhou", cf_segment="sme", cf_since="2021-03-04"))
    assert response.status_code == 302
    assert Contact.objects.get().custom_data == {"segment": "sme", "since": "2021-03-04"}
    html = page_text(admin_client.get(reverse("core:contact_detail", args=[Contact.objects.get().pk])))
    assert "Customer since" in html and "2021-03-04" in html


def test_edit_saves_changes_and_raises_the_version(admin_client, admin_user):
    contact = services.contact_create(actor=admin_user, data={"full_name": "Li Lei", "phone": "13812345678"})
    form_html = page_text(admin_client.get(reverse("core:contact_edit", args=[contact.pk])))
    assert 'name="version" value="1"' in form_html and 'value="+8613812345678"' in form_html
    response = admin_client.post(reverse("core:contact_edit", args=[contact.pk]), contact_form_data(
        full_name="Li Lei", job_title="CTO", phone="+86 139 0000 1111", owner=admin_user.pk, version=1))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.job_title, contact.phone, contact.version) == ("CTO", "+8613900001111", 2)
    assert ContactPhone.objects.filter(contact=contact, number="+8613900001111").exists()


def test_stale_edit_is_refused_with_a_clear_message_and_changes_nothing(admin_client, admin_user):
    # given two people opened the same contact at version 1 and the other one saved first
    contact = services.contact_create(actor=admin_user, data={"full_name": "Han Meimei"})
    services.contact_update(actor=admin_user, contact_id=contact.pk, data={"job_title": "Buyer"}, expected_version=1)
    # when this user saves their stale copy
    response = admin_client.post(reverse("core:contact_edit", args=[contact.pk]), contact_form_data(
        full_name="Han Meimei", job_title="Director", owner=admin_user.pk, version=1))
    # then they are told, their input stays in the form, and the stored record is the other edit
    html = page_text(response)
    assert response.status_code == 409
    assert "changed by someone else" in html and 'value="Director"' in html
    assert reverse("core:contact_edit", args=[contact.pk]) in html
    contact.refresh_from_db()
    assert (contact.job_title, contact.version) == ("Buyer", 2)


def test_delete_asks_for_confirmation_then_deletes(admin_client, admin_user):
    contact = services.contact_create(actor=admin_user, data={"full_name": "To Delete"})
    url = reverse("core:contact_delete", args=[contact.pk])
    confirm = admin_client.get(url)
    assert confirm.status_code == 200 and "This cannot be undone" in page_text(confirm)
    assert Contact.objects.filter(pk=contact.pk).exists()
    response = admin_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("core:contact_list")
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert AuditLog.objects.filter(action="delete", object_type="contact", object_id=str(contact.pk)).exists()


# ======================================================================================
# Access: other people's records are 404, refused actions are a friendly 403
# ======================================================================================
def test_sales_rep_cannot_open_another_reps_contact(client, make_user):
    rep, other = make_user("rep", Role.SALES_REP), make_user("other", Role.SALES_REP)
    theirs = services.contact_create(actor=other, data={"full_name": "Theirs"})
    signed_in(client, rep)
    for url_name in ("core:contact_detail", "core:contact_360", "core:contact_edit"):
        response = client.get(reverse(url_name, args=[theirs.pk]))
        assert response.status_code == 404, url_name
        assert "not among the records you may see" in page_text(response)
    # deleting is not a sales rep's right at all: refused before any record is looked up
    assert client.get(reverse("core:contact_delete", args=[theirs.pk])).status_code == 403
    assert client.post(reverse("core:contact_edit", args=[theirs.pk]),
                       contact_form_data(full_name="Hacked")).status_code == 404
    assert "Theirs" not in page_text(client.get(reverse("core:contact_list")))
    theirs.refresh_from_db()
    assert theirs.full_name == "Theirs"


def test_refused_actions_get_the_friendly_403_page_and_change_nothing(client, make_user):
    rep = make_user("rep", Role.SALES_REP)
    mine = services.contact_create(actor=rep, data={"full_name": "Mine"})
    signed_in(client, rep)
    # a sales rep may not delete contacts, even their own
    detail = page_text(client.get(reverse("core:contact_detail", args=[mine.pk])))
    assert reverse("core:contact_delete", args=[mine.pk]) not in detail
    response = client.post(reverse("core:contact_delete", args=[mine.pk]))
    assert response.status_code == 403 and "You do not have access to this" in page_text(response)
    assert Contact.objects.filter(pk=mine.pk).exists()
    # an analyst reads but may not create
    analyst = make_user("analyst", Role.ANALYST)
    signed_in(client, analyst)
    assert client.get(reverse("core:contact_list")).status_code == 200
    assert client.post(reverse("core:contact_create"), contact_form_data(full_name="X")).status_code == 403
    assert Contact.objects.count() == 1
    # a customer account has no staff pages at all
    customer = make_user("customer", Role.CUSTOMER)
    assert signed_in(client, customer).get(reverse("core:contact_list")).status_code == 403


# ======================================================================================
# Accounts
# ======================================================================================
def test_account_create_edit_and_delete(admin_client, admin_user, make_user):
    seller = make_user("seller", Role.SALES_REP)
    response = admin_client.post(reverse("core:account_create"), {
        "name": "深圳科技有限公司", "kind": "company", "phone": "0755 8888 6666", "email": "Info@SZTech.cn",
        "lifecycle_stage": "new", "relationship_stage": "transactional", "currency": "cny", "owner": admin_user.pk,
        "is_key_account": "on", "account_team": [seller.pk], "tags": "tech"})
    account = Account.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("core:account_360", args=[account.pk])
    assert (account.phone, account.email, account.currency) == ("+8675588886666", "info@sztech.cn", "CNY")
    assert list(account.team_members.values_list("user_id", flat=True)) == [seller.pk]
    # a contact created from the account page is linked to it through the suggestion box format
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(
        full_name="陈静", account=f"深圳科技有限公司 · #{account.pk}"))
    assert response.status_code == 302 and Contact.objects.get().account_id == account.pk
    # edit with a bad website is refused at the field
    data = {"name": "深圳科技", "kind": "company", "website": "not a url", "lifecycle_stage": "active",
            "relationship_stage": "transactional", "currency": "CNY", "owner": admin_user.pk, "version": 1}
    response = admin_client.post(reverse("core:account_edit", args=[account.pk]), data)
    assert response.status_code == 400 and 'id="id_website_error"' in page_text(response)
    account.refresh_from_db()
    assert account.name == "深圳科技有限公司"
    data["website"] = "https://sztech.example.cn"
    assert admin_client.post(reverse("core:account_edit", args=[account.pk]), data).status_code == 302
    account.refresh_from_db()
    assert (account.name, account.lifecycle_stage, account.version) == ("深圳科技", "active", 2)
    # the contact's search text follows the rename
    assert "陈静" in page_text(admin_client.get(reverse("core:search"), {"q": "深圳科技"}))
    # delete
    assert admin_client.post(reverse("core:account_delete", args=[account.pk])).status_code == 302
    assert not Account.objects.exists()


def test_account_names_typed_in_a_form_must_match_one_account(admin_client, admin_user):
    services.account_create(actor=admin_user, data={"name": "Twin"})
    services.account_create(actor=admin_user, data={"name": "Twin"})
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(full_name="A", account="Twin"))
    assert response.status_code == 400 and "Several accounts are named “Twin”" in page_text(response)
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(full_name="A", account="Nobody"))
    assert response.status_code == 400 and "No account is named “Nobody”" in page_text(response)
    response = admin_client.post(reverse("core:contact_create"), contact_form_data(full_name="A", account="#999999"))
    assert response.status_code == 400 and "Unknown account." in page_text(response)
    assert Contact.objects.count() == 0


def test_account_suggestions_list_only_visible_accounts(client, make_user):
    rep, other = make_user("rep", Role.SALES_REP), make_user("other", Role.SALES_REP)
    mine = services.account_create(actor=rep, data={"name": "Huawei Shenzhen"})
    services.account_create(actor=other, data={"name": "Huawei Beijing"})
    html = page_text(signed_in(client, rep).get(reverse("core:account_suggestions"), {"account": "huawei"}))
    assert html.strip() == f'<option value="Huawei Shenzhen · #{mine.pk}">'


# ======================================================================================
# Administration and profile
# ======================================================================================
def test_admin_defines_custom_fields_and_others_may_not(admin_client, make_user):
    response = admin_client.post(reverse("core:custom_field_create"), {
        "target": "account", "key": "credit_limit", "label": "Credit limit", "label_zh": "信用额度",
        "field_type": "decimal", "max_length": 255, "position": 1})
    assert response.status_code == 302
    field = CustomField.objects.get()
    assert (field.target, field.key, field.field_type) == ("account", "credit_limit", "decimal")
    assert "信用额度" in page_text(admin_client.get(reverse("core:custom_field_list")))
    # a choice field without choices is refused at the choices field
    response = admin_client.post(reverse("core:custom_field_create"), {
        "target": "contact", "key": "tier", "label": "Tier", "field_type": "choice", "max_length": 255,
        "position": 0})
    assert response.status_code == 400 and 'id="id_choices_error">A choice field needs at least one choice.' in \
        page_text(response)
    assert CustomField.objects.count() == 1
    # the new field appears in the account form
    assert 'name="cf_credit_limit"' in page_text(admin_client.get(reverse("core:account_create")))
    # other roles get the friendly 403
    client = client_of(make_user("manager", Role.SALES_MANAGER))
    assert client.get(reverse("core:custom_field_list")).status_code == 403
    assert client.post(reverse("core:custom_field_create"), {"target": "contact", "key": "x", "label": "X",
                                                             "field_type": "text"}).status_code == 403
    assert CustomField.objects.count() == 1


def test_audit_log_viewer_filters_by_object_and_action(admin_client, admin_user, make_user):
    first = services.contact_create(actor=admin_user, data={"full_name": "First"})
    services.contact_update(actor=admin_user, contact_id=first.pk, data={"job_title": "Boss"})
    services.contact_create(actor=admin_user, data={"full_name": "Second"})
    url = reverse("core:audit_log")
    html = page_text(admin_client.get(url, {"object_type": "contact", "object_id": first.pk}))
    assert html.count("<tr>") == 1 + 2  # heading + create + update of the first contact
    assert "Boss" in html
    html = page_text(admin_client.get(url, {"object_type": "contact", "action": "update"}))
    assert html.count("<tr>") == 1 + 1
    assert admin_client.get(url, {"action": "steal"}).status_code == 400
    assert client_of(make_user("rep", Role.SALES_REP)).get(url).status_code == 403


def test_api_token_is_shown_once_and_can_be_revoked(admin_client, admin_user, make_user):
    response = admin_client.post(reverse("core:token_create"), {"name": "billing sync"})
    html = page_text(response)
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    clear = re.search(r'id="new-token" class="token-once" type="text" readonly value="(gx_[^"]+)"', html).group(1)
    token = ApiToken.objects.get(user=admin_user, name="billing sync")
    assert clear.startswith(token.prefix) and clear not in token.digest
    # the clear token is never shown again
    assert clear not in page_text(admin_client.get(reverse("core:profile")))
    # a token with no name is refused
    assert admin_client.post(reverse("core:token_create"), {"name": ""}).status_code == 400
    assert ApiToken.objects.filter(user=admin_user).count() == 1
    # someone else cannot revoke it
    intruder = client_of(make_user("rep", Role.SALES_REP))
    assert intruder.post(reverse("core:token_revoke", args=[token.pk])).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
    # its owner can
    assert admin_client.post(reverse("core:token_revoke", args=[token.pk])).status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert User.objects.get(pk=admin_user.pk).is_active


def test_list_pages_link_to_import_and_export_once_those_pages_exist(admin_client, make_user):
    """The import/export pages are built separately (views/imports.py); until their URLs
    exist the lists render without the links, afterwards the links appear for roles
    allowed to import or export."""
    from django.urls import NoReverseMatch

    html = page_text(admin_client.get(reverse("core:contact_list")))
    for url_name in ("core:import_start", "core:export"):
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        assert f'href="{url}?object=contact"' in html
        rep_html = page_text(client_of(make_user(f"rep-{url_name[5:]}", Role.SALES_REP))
                             .get(reverse("core:contact_list")))
        assert f'href="{url}?object=contact"' not in rep_html  # sales reps neither import nor export
    assert admin_client.get(reverse("core:account_list")).status_code == 200
