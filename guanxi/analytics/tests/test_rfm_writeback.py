"""RFM scores and value tiers computed from the warehouse and written back to customers:
ties, the pyramid, tier history, "who moved up this quarter", visibility and rights."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from guanxi.analytics.models import CustomerScore, RunStatus, TierChange
from guanxi.analytics.selectors.scores import customer_scores, tier_moves
from guanxi.analytics.services.scoring import rfm_scores_compute
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.analytics.tests import purchase_history as history
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.models import Contact, Role

pytestmark = pytest.mark.django_db
REFERENCE = datetime.date(2025, 6, 30)


@pytest.fixture
def plan():
    return history.product("PLAN", "Plan")


def buy(contact, plan, amount: str, at: str = "2025-06-01 10:00"):
    return history.order(contact, [(plan, 1, amount)], at=at)


def tiers() -> dict[str, str]:
    return dict(Contact.objects.values_list("full_name", "value_tier"))


def test_twenty_customers_fill_the_pyramid_and_ties_favour_the_older_customer(warehouse_engine, admin_user, plan):
    # given twenty customers; the two top spenders tie at 500 (the first created is older)
    customers = [history.customer(admin_user, f"Customer {number:02d}") for number in range(20)]
    for number, contact in enumerate(customers):
        buy(contact, plan, "500.00" if number in (7, 3) else f"{10 + number}.00")
    warehouse_refresh(actor=None)

    # when RFM is scored
    run = rfm_scores_compute(actor=None, reference_date=REFERENCE)

    # then the older of the tied top spenders is the one platinum customer (1 % rounds up to 1)
    assert run.status == RunStatus.SUCCEEDED and run.customers == 20 and run.changed == 20
    current = tiers()
    assert current["Customer 03"] == "platinum"
    assert current["Customer 07"] == "silver"  # the top 5 % of 20 is one customer: no gold in so small a base
    assert Counter(current.values()) == {"platinum": 1, "silver": 3, "bronze": 16}
    top = CustomerScore.objects.get(contact=customers[3])
    assert (top.frequency, top.monetary, top.m, top.last_purchase_on) == (1, 500, 5, datetime.date(2025, 6, 1))
    assert top.rfm == top.r * 100 + top.f * 10 + top.m
    # every customer got a first tier, recorded as a move from no tier
    assert TierChange.objects.filter(from_tier="").count() == 20


def test_a_second_scoring_records_tier_moves_and_clears_customers_without_purchases(
        warehouse_engine, admin_user, plan, settings):
    # given a scored base of five customers, on a pyramid configured in fifths
    settings.GUANXI_VALUE_PYRAMID = "platinum:0.2,gold:0.2,silver:0.2,bronze:0.4"
    people = {name: history.customer(admin_user, name) for name in ("Ann", "Bo", "Cai", "Dan", "Eve")}
    orders = {name: buy(contact, plan, amount) for (name, contact), amount in
              zip(people.items(), ("900.00", "50.00", "40.00", "30.00", "20.00"), strict=True)}
    warehouse_refresh(actor=None)
    rfm_scores_compute(actor=None, reference_date=REFERENCE)
    assert tiers() == {"Ann": "platinum", "Bo": "gold", "Cai": "silver", "Dan": "bronze", "Eve": "bronze"}

    # when Eve buys big, and Ann's only order is cancelled
    buy(people["Eve"], plan, "5000.00", at="2025-06-20 10:00")
    from guanxi.sales.models import Order

    Order.objects.filter(pk=orders["Ann"].pk).update(status="cancelled", updated_at=timezone.now())
    warehouse_refresh(actor=None)
    run = rfm_scores_compute(actor=None, reference_date=REFERENCE)

    # then Eve moved up to platinum, Ann left the pyramid, and the moves are history
    assert tiers() == {"Ann": "", "Bo": "gold", "Cai": "silver", "Dan": "bronze", "Eve": "platinum"}
    moves = {(change.contact.full_name, change.from_tier, change.to_tier)
             for change in TierChange.objects.filter(run=run).select_related("contact")}
    assert moves == {("Eve", "bronze", "platinum"), ("Ann", "platinum", "")}
    ann = CustomerScore.objects.get(contact=people["Ann"])
    assert (ann.value_tier, ann.r, ann.frequency) == ("", None, 0)

    # and "who moved up this quarter" lists Eve only; "down" lists Ann
    start = timezone.make_aware(datetime.datetime.combine(timezone.localdate().replace(day=1),
                                                          datetime.time())) - datetime.timedelta(days=100)
    end = timezone.now() + datetime.timedelta(days=1)
    up = tier_moves(admin_user, since=start, until=end, direction="up").filter(run=run)
    down = tier_moves(admin_user, since=start, until=end, direction="down").filter(run=run)
    assert [change.contact.full_name for change in up] == ["Eve"]
    assert [change.contact.full_name for change in down] == ["Ann"]

    # and scoring again without changes writes nothing
    again = rfm_scores_compute(actor=None, reference_date=REFERENCE)
    assert again.changed == 0 and not TierChange.objects.filter(run=again).exists()


def test_tier_moves_show_only_customers_the_user_may_see(warehouse_engine, admin_user, make_user, plan):
    # given a rep's customer and somebody else's, both new in the pyramid
    rep = make_user("rep", Role.SALES_REP)
    mine = history.customer(admin_user, "Mine", owner_id=rep.pk)
    theirs = history.customer(admin_user, "Theirs")
    buy(mine, plan, "10.00")
    buy(theirs, plan, "20.00")
    warehouse_refresh(actor=None)
    rfm_scores_compute(actor=None, reference_date=REFERENCE)
    window = {"since": timezone.now() - datetime.timedelta(days=1), "until": timezone.now() + datetime.timedelta(days=1)}

    # when the administrator and the rep list this period's moves up
    everyone = tier_moves(admin_user, **window)
    own = tier_moves(rep, **window)

    # then the rep sees only the move of the customer the rep owns
    assert {change.contact.full_name for change in everyone} == {"Mine", "Theirs"}
    assert {change.contact.full_name for change in own} == {"Mine"}
    assert customer_scores(rep, mine.pk).score.value_tier == "bronze"
    with pytest.raises(NotFound):
        customer_scores(rep, theirs.pk)


def test_a_sales_rep_may_not_recompute_scores(warehouse_engine, make_user, plan, admin_user):
    rep = make_user("rep", Role.SALES_REP)
    buy(history.customer(admin_user, "Ann"), plan, "10.00")
    warehouse_refresh(actor=None)
    with pytest.raises(PermissionDenied):
        rfm_scores_compute(actor=rep, reference_date=REFERENCE)
    assert not CustomerScore.objects.exists() and Contact.objects.get().value_tier == ""


def test_no_purchases_at_all_scores_nobody(warehouse_engine, admin_user):
    history.customer(admin_user, "Ann")
    warehouse_refresh(actor=None)
    run = rfm_scores_compute(actor=None, reference_date=REFERENCE)
    assert (run.status, run.customers, run.changed) == (RunStatus.SUCCEEDED, 0, 0)
    assert Contact.objects.get().value_tier == ""
