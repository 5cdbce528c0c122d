"""Segments: dynamic rule-based lists compiled to one SQL query, nested AND/OR/NOT, custom
fields (and what happens when one is removed), tags, behaviour, purchases, the live count,
static snapshots — through the API, then checking what is stored."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.core.models import AuditLog, Contact, CustomField, Role
from guanxi.interactions.models import Interaction
from guanxi.marketing import segment_rules, selectors, services
from guanxi.marketing.models import Segment, SegmentKind, SegmentMember

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def group(match, *rules):
    return {"type": "group", "match": match, "rules": list(rules)}


def field(name, operator, value=None):
    return {"type": "field", "field": name, "operator": operator, "value": value}


@pytest.fixture
def people(admin_user):
    """Five contacts across tiers, provinces, tags, custom values and histories."""
    core_services.custom_field_create(actor=admin_user, data={
        "target": "contact", "key": "points", "label": "Loyalty points", "field_type": "integer"})
    core_services.custom_field_create(actor=admin_user, data={
        "target": "contact", "key": "plan", "label": "Plan", "field_type": "choice", "choices": ["basic", "pro"]})
    guangdong = core_services.account_create(actor=admin_user, data={
        "name": "深圳华强", "addresses": [{"province": "广东", "city": "深圳"}]})
    beijing = core_services.account_create(actor=admin_user, data={
        "name": "北京远航", "addresses": [{"province": "北京", "city": "北京"}]})

    def person(name, **data):
        return core_services.contact_create(actor=admin_user, data={"full_name": name, **data})

    return {
        "wang": person("王芳", value_tier="gold", account_id=guangdong.pk, tags=["VIP", "5G"],
                       custom_data={"points": 1200, "plan": "pro"}, interests=["tea", "travel"]),
        "li": person("李强", value_tier="gold", account_id=beijing.pk, tags=["VIP"],
                     custom_data={"points": 300, "plan": "basic"}, interests=["steam engines"]),
        "zhang": person("张伟", value_tier="silver", account_id=guangdong.pk, tags=["5G"],
                        custom_data={"points": 800}, interests=["茶"]),
        "chen": person("陈静", value_tier="platinum", addresses=[{"province": "广东", "city": "广州"}],
                       churn_risk=None),
        "smith": person("Anna Smith", value_tier="", custom_data={}),
    }


def names(queryset) -> set[str]:
    return set(queryset.values_list("full_name", flat=True))


def members(rules) -> set[str]:
    return names(segment_rules.matching_contacts(rules))


# ======================================================================================
# Rules → one query
# ======================================================================================
def test_nested_and_or_not_rules_select_the_right_contacts(people):
    # given "gold or platinum customers in Guangdong (own or account address) who are not tagged 5G"
    rules = group("all",
                  group("any", field("value_tier", "eq", "gold"), field("value_tier", "eq", "platinum")),
                  field("address.province", "eq", "广东"),
                  group("none", {"type": "tag", "operator": "has_any", "value": ["5G"]}))
    # then Wang (5G) is out, Li (Beijing) is out, Chen (own address in Guangdong) is in
    assert members(rules) == {"陈静"}


def test_any_rule_tree_is_evaluated_as_one_sql_query(people):
    """Segments are SQL, not Python loops: a deep tree is compiled (reading the custom field
    definitions once) and then evaluated in one query, however many contacts there are."""
    rules = group("all", field("value_tier", "in", ["gold", "platinum"]),
                  group("any", {"type": "custom_field", "key": "points", "operator": "gte", "value": 500},
                        {"type": "tag", "operator": "has_all", "value": ["VIP", "5G"]},
                        {"type": "interaction", "channel": "email", "within_days": 30, "min_count": 2}),
                  group("none", field("address.city", "eq", "北京")))
    condition = segment_rules.compile_rules(rules)
    with CaptureQueriesContext(connection) as queries:
        result = names(Contact.objects.filter(condition))
    assert result == {"王芳"}
    assert len(queries) == 1


def test_field_operators_cover_text_numbers_dates_booleans_and_lists(people, admin_user):
    core_services.contact_update(actor=admin_user, contact_id=people["li"].pk, data={
        "birth_date": datetime.date(1990, 5, 1), "do_not_contact": True})
    assert members(field("full_name", "starts_with", "王")) == {"王芳"}
    assert members(field("value_tier", "is_empty")) == {"Anna Smith"}
    assert members(field("birth_date", "between", ["1990-01-01", "1990-12-31"])) == {"李强"}
    assert members(field("do_not_contact", "is_true")) == {"李强"}
    # list fields match whole elements: "tea" is not found inside "steam engines"; Chinese works too
    assert members(field("interests", "contains", "tea")) == {"王芳"}
    assert members(field("interests", "contains", "茶")) == {"张伟"}
    assert members(field("account.name", "contains", "华强")) == {"王芳", "张伟"}
    assert members(field("created_at", "within_last_days", 1)) == set(p.full_name for p in people.values())


def test_custom_fields_compare_by_type_and_missing_values_are_empty(people):
    assert members({"type": "custom_field", "key": "points", "operator": "between", "value": [300, 800]}) == \
        {"李强", "张伟"}
    assert members({"type": "custom_field", "key": "plan", "operator": "eq", "value": "pro"}) == {"王芳"}
    assert members({"type": "custom_field", "key": "plan", "operator": "is_empty"}) == {"张伟", "陈静", "Anna Smith"}


def test_tags_any_all_none(people):
    assert members({"type": "tag", "operator": "has_all", "value": ["VIP", "5G"]}) == {"王芳"}
    assert members({"type": "tag", "operator": "has_none", "value": ["VIP", "5G"]}) == {"陈静", "Anna Smith"}


def test_behaviour_counts_interactions_by_channel_and_period(people, admin_user):
    now = timezone.now()
    for days_ago in (1, 3, 40):
        Interaction.objects.create(contact=people["wang"], channel="email", occurred_at=now - datetime.timedelta(days_ago))
    Interaction.objects.create(contact=people["li"], channel="phone", occurred_at=now)
    rule = {"type": "interaction", "channel": "email", "within_days": 30, "min_count": 2}
    assert members(rule) == {"王芳"}
    assert members({**rule, "min_count": 3}) == set()
    # "never called": no phone interaction at all
    assert members({"type": "interaction", "channel": "phone", "max_count": 0}) == {
        "王芳", "张伟", "陈静", "Anna Smith"}


def test_bought_x_but_not_y_in_the_last_twelve_months(people, admin_user):
    """SPEC §3's example, through the purchase predicate the sales domain's data feeds."""
    from guanxi.sales.models import Order, OrderLine, OrderStatus, Product

    x = Product.objects.create(sku="5G-BIZ-100", name="5G plan")
    y = Product.objects.create(sku="FIBER-1000", name="Fibre")

    def order(number, contact, product, days_ago, status=OrderStatus.CONFIRMED):
        placed = Order.objects.create(number=number, contact=contact, account=contact.account, currency="CNY",
                                      status=status, ordered_at=timezone.now() - datetime.timedelta(days=days_ago))
        OrderLine.objects.create(order=placed, product=product, description=product.name, quantity=1,
                                 unit_price=Decimal("100"), line_total=Decimal("100"))

    order("O-1", people["wang"], x, 30)
    order("O-2", people["li"], x, 60)
    order("O-3", people["li"], y, 10)
    order("O-4", people["zhang"], x, 500)               # too long ago
    order("O-5", people["chen"], x, 5, OrderStatus.CANCELLED)  # cancelled orders do not count
    rules = group("all", {"type": "purchase", "products": ["5G-BIZ-100"], "within_days": 365},
                  group("none", {"type": "purchase", "products": ["FIBER-1000"], "within_days": 365}))
    assert members(rules) == {"王芳"}


def test_case_history_counts_service_cases_by_period(api_client, people, admin_user):
    """Case history: every service case opens a "case" episode on the interaction log."""
    from guanxi.interactions.models import Episode
    from guanxi.interactions.services import episode_open

    now = timezone.now()
    for number, (person, days_ago) in enumerate([("wang", 5), ("wang", 20), ("li", 200), ("zhang", 3)]):
        episode = episode_open(kind="case", title=f"C-{number}", source_type="case", source_id=str(number),
                               contact_id=people[person].pk)
        Episode.objects.filter(pk=episode.pk).update(started_at=now - datetime.timedelta(days=days_ago))
    episode_open(kind="purchase", title="Not a case", contact_id=people["chen"].pk)
    assert members({"type": "case_history"}) == {"王芳", "李强", "张伟"}
    assert members({"type": "case_history", "within_days": 30, "min_count": 2}) == {"王芳"}
    # "gold customers without a case this quarter"
    rules = group("all", field("value_tier", "eq", "gold"),
                  {"type": "case_history", "within_days": 90, "max_count": 0})
    assert members(rules) == {"李强"}
    # the editor offers it, the segment page describes it, and bad numbers are refused
    count = post(api_client, "/api/v1/marketing/segments/count", {"rules": rules})
    assert count.status_code == 200 and count.json()["count"] == 1, count.content
    assert "case_history" in {item["type"] for item in segment_rules.editor_schema()["predicates"]}
    response = post(api_client, "/api/v1/marketing/segments", {
        "name": "Quiet", "rules": {"type": "case_history", "within_days": "soon"}})
    assert response.status_code == 422 and not Segment.objects.filter(name="Quiet").exists()


# ======================================================================================
# Through the API
# ======================================================================================
def test_create_a_dynamic_segment_and_list_its_members(api_client, people):
    rules = group("all", field("value_tier", "eq", "gold"))
    response = post(api_client, "/api/v1/marketing/segments", {"name": "Gold", "rules": rules})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["member_count"], body["rules"]) == ("dynamic", 2, rules)
    segment = Segment.objects.get(pk=body["id"])
    assert segment.rules == rules and segment.member_count == 2
    assert AuditLog.objects.filter(object_type="segment", object_id=str(segment.pk), action="create").exists()
    listed = api_client.get(f"/api/v1/marketing/segments/{segment.pk}/members").json()["items"]
    assert {item["full_name"] for item in listed} == {"王芳", "李强"}
    # a dynamic segment follows its rules: a contact promoted to gold joins without touching the segment
    people["zhang"].value_tier = "gold"
    people["zhang"].save(update_fields=["value_tier"])
    listed = api_client.get(f"/api/v1/marketing/segments/{segment.pk}/members").json()["items"]
    assert {item["full_name"] for item in listed} == {"王芳", "李强", "张伟"}


def test_bad_rules_are_refused_by_position_and_nothing_is_stored(api_client, people):
    rules = group("all", field("value_tier", "eq", "gold"),
                  group("any", field("no_such_field", "eq", "x"), field("household_size", "gt", "many")),
                  {"type": "tag", "operator": "has_some", "value": ["VIP"]})
    response = post(api_client, "/api/v1/marketing/segments", {"name": "Broken", "rules": rules})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"rules.1.0", "rules.1.1", "rules.2"}
    assert "no_such_field" in errors["rules.1.0"][0]
    assert "number" in errors["rules.1.1"][0]
    assert not Segment.objects.exists()


def test_a_rule_on_a_removed_custom_field_names_the_field(api_client, admin_user, people):
    # given a segment saved while the custom field existed
    rules = group("all", {"type": "custom_field", "key": "points", "operator": "gte", "value": 500})
    segment = services.segment_create(actor=admin_user, data={"name": "Points", "rules": rules})
    assert segment.member_count == 2
    # when the administrator removes the field
    core_services.custom_field_delete(actor=admin_user, field_id=CustomField.objects.get(key="points").pk)
    # then counting, listing and editing the segment all say which field is gone
    response = api_client.get(f"/api/v1/marketing/segments/{segment.pk}/members")
    assert response.status_code == 422
    assert response.json()["errors"] == {"rules.0": [
        "The custom field “points” no longer exists (it was removed or deactivated); change or remove this "
        "condition."]}
    response = post(api_client, "/api/v1/marketing/segments/count", {"rules": rules})
    assert response.status_code == 422 and "“points”" in response.json()["errors"]["rules.0"][0]
    response = api_client.patch(f"/api/v1/marketing/segments/{segment.pk}", {"name": "Renamed"},
                                content_type="application/json")
    assert response.status_code == 422 and "“points”" in response.json()["errors"]["rules.0"][0]
    segment.refresh_from_db()
    assert segment.name == "Points" and segment.version == 1


def test_live_count_answers_without_storing_anything(api_client, people):
    response = post(api_client, "/api/v1/marketing/segments/count",
                    {"rules": group("any", field("value_tier", "eq", "platinum"), field("value_tier", "eq", "silver"))})
    assert response.status_code == 200 and response.json() == {"count": 2}
    assert not Segment.objects.exists()


def test_count_follows_the_users_contact_scope(people, make_user, client_for):
    """A marketer sees every contact; a sales manager counts only the team's contacts."""
    marketer = make_user("marketer", Role.MARKETER)
    manager = make_user("manager", Role.SALES_MANAGER)
    rules = group("all", field("value_tier", "eq", "gold"))
    assert selectors.segment_preview_count(marketer, rules) == 2
    assert post(client_for(manager), "/api/v1/marketing/segments/count", {"rules": rules}).json() == {"count": 0}


def test_static_snapshot_keeps_its_members_when_the_data_changes(api_client, admin_user, people):
    segment = services.segment_create(actor=admin_user, data={
        "name": "Gold", "rules": group("all", field("value_tier", "eq", "gold"))})
    response = post(api_client, f"/api/v1/marketing/segments/{segment.pk}/snapshot", {"name": "Gold in March"})
    assert response.status_code == 201, response.content
    snapshot = Segment.objects.get(pk=response.json()["id"])
    assert (snapshot.kind, snapshot.frozen_from_id, snapshot.member_count) == (SegmentKind.STATIC, segment.pk, 2)
    assert snapshot.frozen_at is not None
    assert set(SegmentMember.objects.filter(segment=snapshot).values_list("contact__full_name", flat=True)) == \
        {"王芳", "李强"}
    # when Li drops to silver, the dynamic segment loses him but the snapshot keeps him
    people["li"].value_tier = "silver"
    people["li"].save(update_fields=["value_tier"])
    assert names(selectors.segment_members(admin_user, segment.pk)) == {"王芳"}
    assert names(selectors.segment_members(admin_user, snapshot.pk)) == {"王芳", "李强"}


def test_static_segments_take_members_by_hand_and_refuse_unknown_contacts(api_client, admin_user, people):
    response = post(api_client, "/api/v1/marketing/segments", {
        "name": "Hand-picked", "kind": "static", "contact_ids": [people["smith"].pk, people["chen"].pk]})
    assert response.status_code == 201, response.content
    segment_id = response.json()["id"]
    assert response.json()["member_count"] == 2
    response = post(api_client, f"/api/v1/marketing/segments/{segment_id}/members", {"contact_ids": [999999]})
    assert response.status_code == 422 and "999999" in response.json()["errors"]["contact_ids"][0]
    assert SegmentMember.objects.filter(segment_id=segment_id).count() == 2
    response = post(api_client, f"/api/v1/marketing/segments/{segment_id}/members/remove",
                    {"contact_ids": [people["smith"].pk]})
    assert response.json() == {"changed": 1}
    assert list(SegmentMember.objects.filter(segment_id=segment_id).values_list("contact_id", flat=True)) == \
        [people["chen"].pk]
    # rules on a static segment are refused
    response = post(api_client, "/api/v1/marketing/segments", {
        "name": "Mixed", "kind": "static", "rules": group("all", field("value_tier", "eq", "gold"))})
    assert response.status_code == 422 and "rules" in response.json()["errors"]


def test_stale_edit_is_refused_with_409(api_client, admin_user, people):
    segment = services.segment_create(actor=admin_user, data={"name": "Gold", "rules": {}})
    services.segment_update(actor=admin_user, segment_id=segment.pk, data={"name": "Gold 2"})
    response = api_client.patch(f"/api/v1/marketing/segments/{segment.pk}", {"name": "Mine", "version": 1},
                                content_type="application/json")
    assert response.status_code == 409
    segment.refresh_from_db()
    assert (segment.name, segment.version) == ("Gold 2", 2)


def test_predicates_can_be_contributed_by_other_domains(people):
    """The registry is the extension point for sales, service and analytics conditions."""
    from django.db.models import Q

    segment_rules.register_predicate(segment_rules.Predicate(
        "test_named_wang", "Named Wang", lambda rule, context: Q(family_name="王") | Q(full_name__startswith="王")))
    try:
        assert members(group("all", {"type": "test_named_wang"})) == {"王芳"}
    finally:
        segment_rules.PREDICATES.pop("test_named_wang")


# ======================================================================================
# Web pages: the editor, its live count, the segment page
# ======================================================================================
@pytest.fixture
def browser(client, admin_user):
    client.force_login(admin_user)
    return client


def test_editor_page_offers_fields_predicates_and_a_live_count(browser, people):
    response = browser.get("/marketing/segments/new/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="rule-editor"' in page and 'id="rule-editor-schema"' in page
    assert 'hx-post="/marketing/segments/count/"' in page
    assert "Loyalty points" in page  # the custom field is offered by its label


def test_live_count_fragment_counts_or_explains(browser, people):
    import json

    rules = json.dumps(group("all", field("value_tier", "eq", "gold")))
    response = browser.post("/marketing/segments/count/", {"rules": rules}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<strong>2</strong> contacts match" in response.content.decode()
    bad = json.dumps(group("all", field("value_tier", "eq", "gold"), field("household_size", "gt", "x")))
    response = browser.post("/marketing/segments/count/", {"rules": bad})
    assert "Rule 2: Household size: enter a number." in response.content.decode()
    response = browser.post("/marketing/segments/count/", {"rules": "{not json"})
    assert "not valid JSON" in response.content.decode()


def test_saving_through_the_form_stores_the_segment_and_shows_its_members(browser, people):
    import json

    rules = group("all", field("value_tier", "eq", "gold"), group("none", field("full_name", "eq", "李强")))
    response = browser.post("/marketing/segments/new/", {
        "name": "Gold minus Li", "description": "", "kind": "dynamic", "rules": json.dumps(rules)})
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(name="Gold minus Li")
    assert segment.rules == rules and segment.member_count == 1
    page = browser.get(response["Location"]).content.decode()
    assert "王芳" in page and "李强</a>" not in page
    assert "None of these" in page  # the rules read back as sentences


def test_a_bad_rule_in_the_form_is_shown_by_position_and_nothing_is_saved(browser, people):
    import json

    rules = group("all", {"type": "custom_field", "key": "gone", "operator": "is_set"})
    response = browser.post("/marketing/segments/new/", {"name": "X", "kind": "dynamic", "rules": json.dumps(rules)})
    assert response.status_code == 400
    assert "Rule 1: The custom field “gone” no longer exists" in response.content.decode()
    assert not Segment.objects.exists()


def test_freeze_and_delete_from_the_segment_page(browser, admin_user, people):
    segment = services.segment_create(actor=admin_user, data={
        "name": "Gold", "rules": group("all", field("value_tier", "eq", "gold"))})
    response = browser.post(f"/marketing/segments/{segment.pk}/snapshot/", {"name": "Frozen gold"})
    snapshot = Segment.objects.get(name="Frozen gold")
    assert response["Location"] == f"/marketing/segments/{snapshot.pk}/"
    assert snapshot.member_count == 2
    response = browser.post(f"/marketing/segments/{snapshot.pk}/delete/")
    assert response.status_code == 302 and not Segment.objects.filter(pk=snapshot.pk).exists()


def test_roles_without_segments_get_403(client, make_user, people):
    rep = make_user("rep", Role.SALES_REP)
    client.force_login(rep)
    assert client.get("/marketing/segments/").status_code == 403
    assert client.post("/marketing/segments/count/", {"rules": "{}"}).status_code == 403
