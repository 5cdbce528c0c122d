"""Access-matrix checkers for the sales objects (see ``guanxi/core/tests/access_checks.py``).

Record-level objects (leads, opportunities, activities, quotes, orders, contracts,
expenses) follow their owner, team and territory; quotas and commissions follow their
rep; knowledge posts their author. Catalogue and settings objects are all or nothing.
Each check goes through the real API and then looks at the stored state.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.core.errors import PermissionDenied
from guanxi.core.tests import access_checks as core_checks
from guanxi.core.tests.access_checks import LABELS, NONE, REACH, ObjectChecker, register
from guanxi.sales import selectors, services
from guanxi.sales.models import (
    Activity, CommissionRule, Competitor, Contract, Expense, KnowledgePost, Lead, LeadScoringRule, Opportunity,
    Order, PriceList, Product, Quota, Quote,
)


def _catalogue(world) -> tuple[Product, PriceList]:
    """One product priced in CNY, made once per world."""
    cached = getattr(world, "_sales_catalogue", None)
    if cached is None:
        product = services.product_create(actor=world.builder, data={"sku": "MATRIX-1", "name": "Matrix product"})
        price_list = services.price_list_create(actor=world.builder, data={
            "name": "Matrix CNY", "currency": "CNY", "entries": [{"product_id": product.pk, "unit_price": 100}]})
        cached = (product, price_list)
        world._sales_catalogue = cached
    return cached


def _opportunity(world, label: str, name: str = "") -> Opportunity:
    return services.opportunity_create(actor=world.builder, data={
        "name": name or f"Matrix deal {label}", "close_date": timezone.localdate() + datetime.timedelta(days=30),
        "amount": Decimal("1000"), **world.placement(label)})


def _quote(world, label: str) -> Quote:
    product, _price_list = _catalogue(world)
    deal = _opportunity(world, label, f"Matrix quoted deal {label}")
    return services.quote_create(actor=world.builder, data={
        "opportunity_id": deal.pk, "title": f"Matrix quote {label}", "lines": [{"product_id": product.pk}]})


def _accepted_quote(world, label: str) -> Quote:
    quote = _quote(world, label)
    services.quote_send(actor=world.builder, quote_id=quote.pk, to_email=f"{label}@matrix.example")
    return services.quote_accept(actor=None, quote_id=quote.pk, accepted_by_name="Matrix buyer")


def _orders(world) -> dict[str, Order]:
    cached = getattr(world, "_sales_orders", None)
    if cached is None:
        cached = {label: services.order_create_from_quote(actor=world.builder,
                                                          quote_id=_accepted_quote(world, label).pk)
                  for label in LABELS}
        world._sales_orders = cached
    return cached


class SalesRecordChecker(ObjectChecker):
    """Owner / team / territory records through their API path."""

    path = ""
    model: type = Lead
    changed_field = ""
    visible = staticmethod(selectors.visible_leads)

    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        self._records = None

    def make(self, label: str):
        raise NotImplementedError

    def create_body(self) -> dict:
        raise NotImplementedError

    def created_owner_id(self, record) -> int | None:
        return record.owner_id

    def records(self) -> dict:
        if self._records is None:
            self._records = {label: self.make(label) for label in LABELS}
        return self._records

    def labels_of(self, ids) -> set[str]:
        ids = list(ids)
        by_id = {record.pk: label for label, record in self.records().items()}
        unexpected = [pk for pk in ids if pk not in by_id]
        assert not unexpected, f"records outside the world listed: {unexpected}"
        return {by_id[pk] for pk in ids}

    def check_view(self, scope: str) -> None:
        records = self.records()
        listing = self.get(self.path, limit=200)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            for label, record in records.items():
                assert self.get(f"{self.path}/{record.pk}").status_code == 403, self.describe("view", label)
            return
        assert listing.status_code == 200, (self.describe("view", "list"), listing.content)
        listed = self.labels_of(item["id"] for item in listing.json()["items"])
        assert listed == REACH[scope], self.describe("view", "list")
        for label, record in records.items():
            expected = 200 if label in REACH[scope] else 404
            assert self.get(f"{self.path}/{record.pk}").status_code == expected, self.describe("view", label)

    def check_create(self, scope: str) -> None:
        body = self.create_body()
        before = self.model.objects.count()
        response = self.post(self.path, body)
        if scope == NONE:
            assert response.status_code == 403, (self.describe("create"), response.content)
            assert self.model.objects.count() == before, self.describe("create")
            return
        assert response.status_code == 201, (self.describe("create"), response.content)
        created = self.model.objects.get(pk=response.json()["id"])
        assert self.created_owner_id(created) == self.world.actor.pk, self.describe("create")

    def change_body(self, label: str) -> dict:
        return {self.changed_field: f"changed {label}"}

    def was_changed(self, record, label: str) -> bool:
        return getattr(record, self.changed_field) == f"changed {label}"

    def check_change(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "change", 200)
            response = self.patch(f"{self.path}/{record.pk}", self.change_body(label))
            assert response.status_code == expected, (self.describe("change", label), response.content)
            record.refresh_from_db()
            assert self.was_changed(record, label) == (expected == 200), self.describe("change", label)

    def check_scope_by_selector(self, action: str, scope: str) -> None:
        """Export and import run as jobs and CLI commands that read through this selector."""
        self.records()
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                self.visible(self.world.actor, action)
            return
        ids = self.visible(self.world.actor, action).values_list("pk", flat=True)
        assert self.labels_of(ids) == REACH[scope], self.describe(action)


class Deletable:
    """Mixed into checkers of objects the product lets users delete."""

    def check_delete(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "delete", 204)
            response = self.delete(f"{self.path}/{record.pk}")
            assert response.status_code == expected, (self.describe("delete", label), response.content)
            assert self.model.objects.filter(pk=record.pk).exists() == (expected != 204), \
                self.describe("delete", label)


class Exportable:
    """Export runs as a job that reads through the object's selector."""

    def check_export(self, scope: str) -> None:
        self.check_scope_by_selector("export", scope)


class Importable:
    def check_import(self, scope: str) -> None:
        self.check_scope_by_selector("import", scope)


@register("lead")
class LeadChecker(Deletable, Exportable, Importable, SalesRecordChecker):
    path = "/api/v1/sales/leads"
    model = Lead
    changed_field = "company"
    visible = staticmethod(selectors.visible_leads)

    def make(self, label: str) -> Lead:
        return services.lead_create(actor=self.world.builder, data={
            "full_name": f"Matrix lead {label}", "email": f"{label}@lead.example", **self.world.placement(label)})

    def create_body(self) -> dict:
        return {"full_name": "Matrix new lead", "phone": "+86 138 0000 0001"}


@register("opportunity")
class OpportunityChecker(Deletable, Exportable, SalesRecordChecker):
    path = "/api/v1/sales/opportunities"
    model = Opportunity
    changed_field = "next_step"
    visible = staticmethod(selectors.visible_opportunities)

    def make(self, label: str) -> Opportunity:
        return _opportunity(self.world, label)

    def create_body(self) -> dict:
        return {"name": "Matrix new deal", "close_date": (timezone.localdate() + datetime.timedelta(days=9)).isoformat()}


@register("activity")
class ActivityChecker(Deletable, SalesRecordChecker):
    path = "/api/v1/sales/activities"
    model = Activity
    changed_field = "subject"
    visible = staticmethod(selectors.visible_activities)

    def make(self, label: str) -> Activity:
        return services.activity_create(actor=self.world.builder, data={
            "kind": "task", "subject": f"Matrix task {label}", "start_at": timezone.now() + datetime.timedelta(days=1),
            **self.world.placement(label)})

    def create_body(self) -> dict:
        return {"kind": "call", "subject": "Matrix call", "start_at": timezone.now().isoformat()}


@register("quote")
class QuoteChecker(Deletable, SalesRecordChecker):
    path = "/api/v1/sales/quotes"
    model = Quote
    changed_field = "title"
    visible = staticmethod(selectors.visible_quotes)

    def make(self, label: str) -> Quote:
        return _quote(self.world, label)

    def create_body(self) -> dict:
        _catalogue(self.world)
        return {"opportunity_id": _opportunity(self.world, "own", "Matrix deal to quote").pk}


@register("order")
class OrderChecker(Exportable, SalesRecordChecker):
    path = "/api/v1/sales/orders"
    model = Order
    changed_field = "notes"
    visible = staticmethod(selectors.visible_orders)

    def make(self, label: str) -> Order:
        return _orders(self.world)[label]

    def records(self) -> dict:
        return _orders(self.world)

    def create_body(self) -> dict:
        return {"quote_id": _accepted_quote(self.world, "own").pk}


@register("contract")
class ContractChecker(Exportable, SalesRecordChecker):
    path = "/api/v1/sales/contracts"
    model = Contract
    changed_field = "title"
    visible = staticmethod(selectors.visible_contracts)

    def make(self, label: str) -> Contract:
        today = timezone.localdate()
        return services.contract_create(actor=self.world.builder, data={
            "title": f"Matrix contract {label}", "account_id": self.world.accounts[label].pk, "start_date": today,
            "end_date": today + datetime.timedelta(days=365), **self.world.placement(label)})

    def create_body(self) -> dict:
        today = timezone.localdate()
        return {"title": "Matrix new contract", "account_id": self.world.accounts["own"].pk,
                "start_date": today.isoformat(), "end_date": (today + datetime.timedelta(days=90)).isoformat()}


@register("expense")
class ExpenseChecker(Deletable, SalesRecordChecker):
    path = "/api/v1/sales/expenses"
    model = Expense
    changed_field = "description"
    visible = staticmethod(selectors.visible_expenses)

    def make(self, label: str) -> Expense:
        owner = self.world.owners[label]
        return Expense.objects.create(spent_on=timezone.localdate(), category="travel", amount=Decimal("120"),
                                      description=f"Matrix taxi {label}", owner=owner, team_id=owner.team_id,
                                      territory=self.world.territories[label])

    def create_body(self) -> dict:
        return {"spent_on": timezone.localdate().isoformat(), "category": "meals", "amount": "88.00",
                "description": "Matrix lunch"}


@register("quota")
class QuotaChecker(Deletable, SalesRecordChecker):
    path = "/api/v1/sales/quotas"
    model = Quota
    visible = staticmethod(selectors.visible_quotas)

    def make(self, label: str) -> Quota:
        start = timezone.localdate().replace(day=1)
        return Quota.objects.create(user=self.world.owners[label], period="month", period_start=start,
                                    period_end=start + datetime.timedelta(days=27), amount=Decimal("1000"))

    def create_body(self) -> dict:
        return {"user_id": self.world.actor.pk, "period": "year", "period_start": "2030-01-01",
                "period_end": "2030-12-31", "amount": "50000"}

    def created_owner_id(self, record) -> int | None:
        return record.user_id

    def change_body(self, label: str) -> dict:
        return {"amount": "4321.00"}

    def was_changed(self, record, label: str) -> bool:
        return record.amount == Decimal("4321.00")


@register("knowledge_post")
class KnowledgePostChecker(Deletable, SalesRecordChecker):
    path = "/api/v1/sales/knowledge"
    model = KnowledgePost
    changed_field = "title"
    visible = staticmethod(selectors.visible_knowledge_posts)

    def make(self, label: str) -> KnowledgePost:
        owner = self.world.owners[label]
        return KnowledgePost.objects.create(title=f"Matrix tip {label}", body="Bring tea.", author=owner,
                                            team_id=owner.team_id, territory=self.world.territories[label])

    def create_body(self) -> dict:
        return {"title": "Matrix new tip", "body": "Listen first.", "tags": ["matrix"]}

    def created_owner_id(self, record) -> int | None:
        return record.author_id


@register("commission")
class CommissionChecker(ObjectChecker):
    """Statements follow their rep; the rules (create/change/delete) are all or nothing."""

    path = "/api/v1/sales/commission-rules"

    def check_view(self, scope: str) -> None:
        CommissionRule.objects.create(name="Matrix rate", rate_percent=Decimal("5"))
        orders = _orders(self.world)
        response = self.get("/api/v1/sales/commissions/statements")
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, self.describe("view")
        owners = {order.owner_id: label for label, order in orders.items()}
        listed = {owners[row["user_id"]] for row in response.json()}
        assert listed == REACH[scope], self.describe("view", "list")

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "rules have no owner")
        response = self.post(self.path, {"name": "Matrix new rate", "rate_percent": "4"})
        created = CommissionRule.objects.filter(name="Matrix new rate").exists()
        assert (response.status_code, created) == ((403, False) if scope == NONE else (201, True)), \
            (self.describe("create"), response.content)

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "rules have no owner")
        rule = CommissionRule.objects.create(name="Matrix rate", rate_percent=Decimal("5"))
        response = self.patch(f"{self.path}/{rule.pk}", {"rate_percent": "6"})
        rule.refresh_from_db()
        assert (response.status_code, rule.rate_percent) == ((403, Decimal("5")) if scope == NONE
                                                             else (200, Decimal("6"))), self.describe("change")

    def check_delete(self, scope: str) -> None:
        self.require_all_or_none(scope, "rules have no owner")
        rule = CommissionRule.objects.create(name="Matrix rate", rate_percent=Decimal("5"))
        response = self.delete(f"{self.path}/{rule.pk}")
        remains = CommissionRule.objects.filter(pk=rule.pk).exists()
        assert (response.status_code, remains) == ((403, True) if scope == NONE else (204, False)), \
            self.describe("delete")


class AllOrNothingChecker(core_checks.ConfigurationChecker):
    """Catalogue and settings objects: no owner, so a role may do all of it or nothing."""

    change_body = {"name": "Matrix changed"}
    detail_route = False


@register("product")
class ProductChecker(AllOrNothingChecker):
    path = "/api/v1/sales/products"
    model = Product

    def existing(self) -> Product:
        return Product.objects.create(sku="MATRIX-EXISTING", name="Matrix existing")

    def create_body(self) -> dict:
        return {"sku": "MATRIX-NEW", "name": "Matrix new"}


@register("price_list")
class PriceListChecker(AllOrNothingChecker):
    path = "/api/v1/sales/price-lists"
    model = PriceList

    def existing(self) -> PriceList:
        return PriceList.objects.create(name="Matrix existing", currency="EUR")

    def create_body(self) -> dict:
        return {"name": "Matrix new", "currency": "USD"}


@register("competitor")
class CompetitorChecker(AllOrNothingChecker):
    path = "/api/v1/sales/competitors"
    model = Competitor

    def existing(self) -> Competitor:
        return Competitor.objects.create(name="Matrix rival")

    def create_body(self) -> dict:
        return {"name": "Matrix new rival"}


@register("sales_setup")
class SalesSetupChecker(AllOrNothingChecker):
    """Sales settings, walked through the lead scoring rules."""

    path = "/api/v1/sales/scoring-rules"
    model = LeadScoringRule

    def existing(self) -> LeadScoringRule:
        return LeadScoringRule.objects.create(name="Matrix rule", field_name="source", value="web_form", points=5)

    def create_body(self) -> dict:
        return {"name": "Matrix new rule", "kind": "field", "field_name": "city", "value": "上海", "points": 3}


@register("territory")
class TerritoryChecker(ObjectChecker):
    """Everybody in sales reads the territories; reassigning is all or nothing."""

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "territories are shared")
        response = self.get("/api/v1/sales/territories")
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, self.describe("view")
        assert {"north", "south"} <= {item["code"] for item in response.json()}, self.describe("view")

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "reassignment moves anybody's records")
        south, north = self.world.territories["other"], self.world.territories["territory"].parent
        lead = services.lead_create(actor=self.world.builder, data={
            "full_name": "Matrix movable", "email": "move@lead.example", **self.world.placement("other")})
        response = self.post("/api/v1/sales/territories/reassign", {
            "from_territory_id": south.pk, "to_territory_id": north.pk, "reason": "matrix"})
        lead.refresh_from_db()
        if scope == NONE:
            assert response.status_code == 403 and lead.territory_id == south.pk, self.describe("change")
        else:
            assert response.status_code == 201 and lead.territory_id == north.pk, (self.describe("change"),
                                                                                    response.content)
