"""Every read of the sales domain, with the access check inside.

Record-level visibility follows the access matrix (own / team / territory / all) on the
record's owner, team and territory, through ``guanxi.core.selectors.scope_q`` — the same
rule the contact and account lists use. Forecasts and reports are in ``forecasting``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Q, QuerySet, Sum

from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.models import Account, Contact, ContactEmail, ContactPhone, User, Visibility
from guanxi.core.selectors import scope_q
from guanxi.sales.models import (
    Activity, ActivityStatus, CommissionEntry, CommissionRule, Competitor, Contract, Expense, KnowledgePost, Lead,
    LeadScoringRule, Opportunity, OpportunityStageChange, Order, Pipeline, PriceList, Product, Quota, Quote,
    Stage, TerritoryReassignment,
)


CENT = Decimal("0.01")


# ======================================================================================
# Scopes
# ======================================================================================
def _require(actor: User, object_name: str, action: str) -> str:
    scope = scope_for(actor, object_name, action)
    if scope == Visibility.NONE:
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not {action} {object_name}")
    return scope


def _scoped(queryset: QuerySet, actor: User, object_name: str, action: str, **fields) -> QuerySet:
    condition = scope_q(actor, _require(actor, object_name, action), **fields)
    return queryset if condition is None else queryset.filter(condition)


def _access(visible, actor: User, record_id, action: str, label: str, related=()):
    """The record if ``actor`` may ``action`` it; PermissionDenied when the actor sees it
    but may not act on it (or the role lacks the action), NotFound when outside sight."""
    try:
        return visible(actor, action).select_related(*related).get(pk=record_id)
    except (ValueError, TypeError):
        raise NotFound(f"{label} {record_id}") from None
    except ObjectDoesNotExist:
        if action != "view" and visible(actor, "view").filter(pk=record_id).exists():
            raise PermissionDenied(f"may not {action} {label} {record_id}") from None
        raise NotFound(f"{label} {record_id}") from None


# ======================================================================================
# Leads
# ======================================================================================
def visible_leads(actor: User, action: str = "view") -> QuerySet[Lead]:
    return _scoped(Lead.objects.all(), actor, "lead", action)


def access_lead_by_id(actor: User, lead_id, action: str = "view") -> Lead:
    return _access(visible_leads, actor, lead_id, action, "lead", ("owner", "territory"))


LEAD_SORTS = {"-created": ("-created_at", "-id"), "created": ("created_at", "id"), "-score": ("-score", "-id"),
              "score": ("score", "id"), "name": ("full_name", "id"), "-name": ("-full_name", "-id")}


@dataclass(frozen=True)
class LeadFilters:
    query: str = ""
    status: str = ""
    source: str = ""
    owner_id: int | None = None
    territory_id: int | None = None
    min_score: int | None = None
    open_only: bool = False


def lead_list(actor: User, filters: LeadFilters | None = None, sort: str = "-created") -> QuerySet[Lead]:
    filters = filters or LeadFilters()
    queryset = visible_leads(actor).select_related("owner", "territory")
    if filters.query:
        text = filters.query.strip()
        queryset = queryset.filter(Q(full_name__icontains=text) | Q(company__icontains=text)
                                   | Q(email__icontains=text) | Q(phone__icontains=text.replace(" ", ""))
                                   | Q(campaign_name__icontains=text))
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.open_only:
        queryset = queryset.filter(status__in=Lead.OPEN_STATUSES)
    if filters.source:
        queryset = queryset.filter(source=filters.source)
    if filters.owner_id:
        queryset = queryset.filter(owner_id=filters.owner_id)
    if filters.territory_id:
        queryset = queryset.filter(territory_id=filters.territory_id)
    if filters.min_score is not None:
        queryset = queryset.filter(score__gte=filters.min_score)
    return queryset.order_by(*LEAD_SORTS.get(sort, LEAD_SORTS["-created"]))


@dataclass(frozen=True)
class DuplicateMatch:
    kind: str          # "contact" or "account"
    id: int
    name: str          # empty when the actor may not see the record
    matched_on: str    # "phone", "email" or "name"
    visible: bool


def lead_duplicates(actor: User, lead: Lead) -> list[DuplicateMatch]:
    """Existing contacts and accounts the lead seems to be: same phone, same email, same
    name (contacts) or company name (accounts). Records the actor may not see are still
    reported — a duplicate is a duplicate — but without their name."""
    found: dict[tuple[str, int], DuplicateMatch] = {}

    def visible_ids(kind: str, ids: set[int]) -> set[int]:
        from guanxi.core import selectors as core_selectors

        try:
            visible = core_selectors.visible_contacts(actor) if kind == "contact" \
                else core_selectors.visible_accounts(actor)
        except PermissionDenied:
            return set()
        return set(visible.filter(pk__in=ids).values_list("pk", flat=True))

    contact_hits: list[tuple[int, str]] = []
    if lead.phone:
        contact_hits += [(pk, "phone") for pk in ContactPhone.objects.filter(number=lead.phone)
                         .values_list("contact_id", flat=True)[:10]]
    if lead.email:
        contact_hits += [(pk, "email") for pk in ContactEmail.objects.filter(email=lead.email)
                         .values_list("contact_id", flat=True)[:10]]
        contact_hits += [(pk, "email") for pk in Contact.objects.filter(email=lead.email)
                         .values_list("pk", flat=True)[:10]]
    if lead.full_name:
        contact_hits += [(pk, "name") for pk in Contact.objects.filter(full_name=lead.full_name)
                         .values_list("pk", flat=True)[:10]]
    account_hits: list[tuple[int, str]] = []
    if lead.company:
        account_hits += [(pk, "name") for pk in Account.objects.filter(name__iexact=lead.company.strip())
                         .values_list("pk", flat=True)[:10]]
    if lead.phone:
        account_hits += [(pk, "phone") for pk in Account.objects.filter(phone=lead.phone)
                         .values_list("pk", flat=True)[:10]]
    if lead.email:
        account_hits += [(pk, "email") for pk in Account.objects.filter(email=lead.email)
                         .values_list("pk", flat=True)[:10]]
    for kind, hits, model, name_field in (("contact", contact_hits, Contact, "full_name"),
                                          ("account", account_hits, Account, "name")):
        ids = {pk for pk, _reason in hits}
        seen = visible_ids(kind, ids)
        names = dict(model.objects.filter(pk__in=seen).values_list("pk", name_field))
        for pk, reason in hits:
            key = (kind, pk)
            if key in found:
                continue
            found[key] = DuplicateMatch(kind=kind, id=pk, name=names.get(pk, ""), matched_on=reason,
                                        visible=pk in seen)
    return list(found.values())


def scoring_rules(actor: User) -> QuerySet[LeadScoringRule]:
    _require(actor, "sales_setup", "view")
    return LeadScoringRule.objects.all().order_by("position", "id")


def discount_limits(actor: User):
    from guanxi.sales.models import DiscountLimit

    _require(actor, "sales_setup", "view")
    return DiscountLimit.objects.order_by("role")


def exchange_rates(actor: User):
    from guanxi.sales.models import ExchangeRate

    _require(actor, "sales_setup", "view")
    return ExchangeRate.objects.order_by("currency")


def access_scoring_rule_by_id(actor: User, rule_id) -> LeadScoringRule:
    rule = scoring_rules(actor).filter(pk=rule_id).first() if str(rule_id).isdigit() else None
    if rule is None:
        raise NotFound(f"scoring rule {rule_id}")
    return rule


# ======================================================================================
# Pipelines and opportunities
# ======================================================================================
def pipelines(actor: User) -> QuerySet[Pipeline]:
    """Pipelines and their stages are read by everyone who works deals."""
    if scope_for(actor, "opportunity", "view") == Visibility.NONE:
        _require(actor, "sales_setup", "view")
    return Pipeline.objects.prefetch_related("stages").order_by("-is_default", "name")


def access_pipeline_by_id(actor: User, pipeline_id) -> Pipeline:
    pipeline = pipelines(actor).filter(pk=pipeline_id).first() if str(pipeline_id).isdigit() else None
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id}")
    return pipeline


def visible_opportunities(actor: User, action: str = "view") -> QuerySet[Opportunity]:
    return _scoped(Opportunity.objects.all(), actor, "opportunity", action)


def access_opportunity_by_id(actor: User, opportunity_id, action: str = "view") -> Opportunity:
    return _access(visible_opportunities, actor, opportunity_id, action, "opportunity",
                   ("owner", "stage", "pipeline", "account", "contact", "territory", "lost_to"))


OPPORTUNITY_SORTS = {"close": ("close_date", "id"), "-close": ("-close_date", "-id"),
                     "amount": ("amount_base", "id"), "-amount": ("-amount_base", "-id"),
                     "name": ("name", "id"), "-updated": ("-updated_at", "-id")}


@dataclass(frozen=True)
class OpportunityFilters:
    query: str = ""
    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    territory_id: int | None = None
    account_id: int | None = None
    contact_id: int | None = None
    is_closed: bool | None = None
    close_from: object = None
    close_to: object = None


def opportunity_list(actor: User, filters: OpportunityFilters | None = None,
                     sort: str = "close") -> QuerySet[Opportunity]:
    filters = filters or OpportunityFilters()
    queryset = visible_opportunities(actor).select_related("owner", "stage", "account", "contact")
    if filters.query:
        text = filters.query.strip()
        queryset = queryset.filter(Q(name__icontains=text) | Q(account__name__icontains=text)
                                   | Q(contact__full_name__icontains=text))
    for field in ("pipeline_id", "stage_id", "owner_id", "territory_id", "account_id", "contact_id"):
        value = getattr(filters, field)
        if value:
            queryset = queryset.filter(**{field: value})
    if filters.is_closed is not None:
        queryset = queryset.filter(is_closed=filters.is_closed)
    if filters.close_from:
        queryset = queryset.filter(close_date__gte=filters.close_from)
    if filters.close_to:
        queryset = queryset.filter(close_date__lte=filters.close_to)
    return queryset.order_by(*OPPORTUNITY_SORTS.get(sort, OPPORTUNITY_SORTS["close"]))


@dataclass
class BoardColumn:
    stage: Stage
    opportunities: list
    count: int
    total: object
    weighted: object


BOARD_COLUMN_SIZE = 50


def pipeline_board(actor: User, pipeline: Pipeline, *, owner_id: int | None = None) -> list[BoardColumn]:
    """The kanban board: every stage with its deals (open ones; closed columns show those
    closed in the last 90 days), with count and totals per stage in one aggregate query."""
    import datetime

    from django.db.models import DecimalField, ExpressionWrapper, F
    from django.utils import timezone

    stages = list(pipeline.stages.order_by("position", "id"))
    deals = visible_opportunities(actor).filter(pipeline=pipeline).filter(
        Q(is_closed=False) | Q(closed_at__gte=timezone.now() - datetime.timedelta(days=90)))
    if owner_id:
        deals = deals.filter(owner_id=owner_id)
    weighted = ExpressionWrapper(F("amount_base") * F("probability") / 100,
                                 output_field=DecimalField(max_digits=20, decimal_places=2))
    totals = {row["stage_id"]: row for row in deals.values("stage_id").annotate(
        count=Count("id"), total=Sum("amount_base"), weighted=Sum(weighted)).order_by()}
    columns = []
    for stage in stages:
        rows = list(deals.filter(stage=stage).select_related("account", "owner").order_by("close_date", "id")
                    [:BOARD_COLUMN_SIZE])
        summary = totals.get(stage.pk, {})
        columns.append(BoardColumn(stage=stage, opportunities=rows, count=summary.get("count", 0),
                                   total=summary.get("total") or 0, weighted=summary.get("weighted") or 0))
    return columns


def stage_history(actor: User, opportunity_id) -> list[OpportunityStageChange]:
    opportunity = access_opportunity_by_id(actor, opportunity_id)
    return list(opportunity.stage_changes.select_related("from_stage", "to_stage", "changed_by"))


def time_in_stages(actor: User, opportunity_id) -> list[dict]:
    """Seconds the deal spent in each stage it left, plus the time in its current stage."""
    from django.utils import timezone

    opportunity = access_opportunity_by_id(actor, opportunity_id)
    rows = (OpportunityStageChange.objects.filter(opportunity=opportunity, from_stage__isnull=False)
            .values("from_stage_id", "from_stage__name").annotate(seconds=Sum("seconds_in_from_stage"))
            .order_by("from_stage__position"))
    spent = [{"stage_id": row["from_stage_id"], "stage": row["from_stage__name"], "seconds": row["seconds"],
              "current": False} for row in rows]
    spent.append({"stage_id": opportunity.stage_id, "stage": opportunity.stage.name, "current": True,
                  "seconds": int((timezone.now() - opportunity.stage_entered_at).total_seconds())})
    return spent


# ======================================================================================
# Catalogue
# ======================================================================================
def products(actor: User, *, query: str = "", active_only: bool = False, family: str = "") -> QuerySet[Product]:
    _require(actor, "product", "view")
    queryset = Product.objects.all()
    if query:
        queryset = queryset.filter(Q(sku__icontains=query) | Q(name__icontains=query) | Q(name_zh__icontains=query))
    if active_only:
        queryset = queryset.filter(is_active=True)
    if family:
        queryset = queryset.filter(family=family)
    return queryset.order_by("sku")


def access_product_by_id(actor: User, product_id) -> Product:
    product = products(actor).filter(pk=product_id).first() if str(product_id).isdigit() else None
    if product is None:
        raise NotFound(f"product {product_id}")
    return product


def price_lists(actor: User, *, currency: str = "") -> QuerySet[PriceList]:
    _require(actor, "price_list", "view")
    queryset = PriceList.objects.all()
    if currency:
        queryset = queryset.filter(currency=currency)
    return queryset.order_by("currency", "customer_tier", "name")


def access_price_list_by_id(actor: User, price_list_id) -> PriceList:
    price_list = price_lists(actor).filter(pk=price_list_id).first() if str(price_list_id).isdigit() else None
    if price_list is None:
        raise NotFound(f"price list {price_list_id}")
    return price_list


def competitors(actor: User) -> QuerySet[Competitor]:
    _require(actor, "competitor", "view")
    return Competitor.objects.all().order_by("name")


def access_competitor_by_id(actor: User, competitor_id) -> Competitor:
    competitor = competitors(actor).filter(pk=competitor_id).first() if str(competitor_id).isdigit() else None
    if competitor is None:
        raise NotFound(f"competitor {competitor_id}")
    return competitor


# ======================================================================================
# Quotes, orders, contracts
# ======================================================================================
def visible_quotes(actor: User, action: str = "view") -> QuerySet[Quote]:
    return _scoped(Quote.objects.all(), actor, "quote", action)


def access_quote_by_id(actor: User, quote_id, action: str = "view") -> Quote:
    return _access(visible_quotes, actor, quote_id, action, "quote",
                   ("opportunity", "account", "contact", "price_list", "owner", "approved_by"))


def quote_list(actor: User, *, status: str = "", opportunity_id: int | None = None, account_id: int | None = None,
               approval_status: str = "", query: str = "") -> QuerySet[Quote]:
    queryset = visible_quotes(actor).select_related("opportunity", "account", "owner")
    if status:
        queryset = queryset.filter(status=status)
    if approval_status:
        queryset = queryset.filter(approval_status=approval_status)
    if opportunity_id:
        queryset = queryset.filter(opportunity_id=opportunity_id)
    if account_id:
        queryset = queryset.filter(account_id=account_id)
    if query:
        queryset = queryset.filter(Q(number__icontains=query) | Q(title__icontains=query)
                                   | Q(account__name__icontains=query))
    return queryset.order_by("-created_at", "-id")


def quote_lines(quote: Quote):
    """Lines with their options and components right after them, for documents."""
    lines = list(quote.lines.select_related("product").order_by("position", "parent_id", "id"))
    top = [line for line in lines if line.parent_id is None]
    children: dict[int, list] = {}
    for line in lines:
        if line.parent_id:
            children.setdefault(line.parent_id, []).append(line)
    ordered = []
    for line in top:
        ordered.append(line)
        ordered.extend(children.get(line.pk, []))
    return ordered


def visible_orders(actor: User, action: str = "view") -> QuerySet[Order]:
    return _scoped(Order.objects.all(), actor, "order", action)


def access_order_by_id(actor: User, order_id, action: str = "view") -> Order:
    return _access(visible_orders, actor, order_id, action, "order",
                   ("quote", "account", "contact", "opportunity", "owner"))


def order_list(actor: User, *, status: str = "", account_id: int | None = None, query: str = "") -> QuerySet[Order]:
    queryset = visible_orders(actor).select_related("account", "owner", "quote")
    if status:
        queryset = queryset.filter(status=status)
    if account_id:
        queryset = queryset.filter(account_id=account_id)
    if query:
        queryset = queryset.filter(Q(number__icontains=query) | Q(account__name__icontains=query)
                                   | Q(tracking_number__icontains=query))
    return queryset.order_by("-ordered_at", "-id")


def visible_contracts(actor: User, action: str = "view") -> QuerySet[Contract]:
    return _scoped(Contract.objects.all(), actor, "contract", action)


def access_contract_by_id(actor: User, contract_id, action: str = "view") -> Contract:
    return _access(visible_contracts, actor, contract_id, action, "contract",
                   ("account", "contact", "order", "opportunity", "owner", "renewed_from"))


def contract_list(actor: User, *, status: str = "", account_id: int | None = None, ending_before=None,
                  query: str = "") -> QuerySet[Contract]:
    queryset = visible_contracts(actor).select_related("account", "owner")
    if status:
        queryset = queryset.filter(status=status)
    if account_id:
        queryset = queryset.filter(account_id=account_id)
    if ending_before:
        queryset = queryset.filter(end_date__lte=ending_before)
    if query:
        queryset = queryset.filter(Q(number__icontains=query) | Q(title__icontains=query)
                                   | Q(account__name__icontains=query))
    return queryset.order_by("end_date", "id")


# ======================================================================================
# Activities and the calendar
# ======================================================================================
def visible_activities(actor: User, action: str = "view") -> QuerySet[Activity]:
    return _scoped(Activity.objects.all(), actor, "activity", action)


def access_activity_by_id(actor: User, activity_id, action: str = "view") -> Activity:
    return _access(visible_activities, actor, activity_id, action, "activity",
                   ("owner", "account", "contact", "lead", "opportunity"))


@dataclass(frozen=True)
class ActivityFilters:
    owner_id: int | None = None
    kind: str = ""
    status: str = ""
    start: object = None          # from this time on (inclusive)
    end: object = None            # before this time
    account_id: int | None = None
    contact_id: int | None = None
    lead_id: int | None = None
    opportunity_id: int | None = None
    callbacks_only: bool = False


def activity_list(actor: User, filters: ActivityFilters | None = None) -> QuerySet[Activity]:
    filters = filters or ActivityFilters()
    queryset = visible_activities(actor).select_related("owner", "account", "contact", "lead", "opportunity")
    for field in ("owner_id", "account_id", "contact_id", "lead_id", "opportunity_id"):
        value = getattr(filters, field)
        if value:
            queryset = queryset.filter(**{field: value})
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.callbacks_only:
        queryset = queryset.filter(is_callback=True)
    if filters.start is not None:
        queryset = queryset.filter(Q(start_at__gte=filters.start) | Q(end_at__gte=filters.start))
    if filters.end is not None:
        queryset = queryset.filter(start_at__lt=filters.end)
    return queryset.order_by("start_at", "id")


def calendar_feed_activities(user: User, *, days_back: int = 90, days_ahead: int = 365) -> QuerySet[Activity]:
    """The feed owner's own activities around today (the feed has no session; its secret
    URL stands for the user, and only their own activities are in it)."""
    import datetime

    from django.utils import timezone

    now = timezone.now()
    return (Activity.objects.filter(owner=user, start_at__gte=now - datetime.timedelta(days=days_back),
                                    start_at__lte=now + datetime.timedelta(days=days_ahead))
            .exclude(status=ActivityStatus.CANCELLED).select_related("account", "contact", "opportunity")
            .order_by("start_at", "id"))


# ======================================================================================
# Territories and quotas
# ======================================================================================
def territories(actor: User):
    from guanxi.core.models import Territory

    _require(actor, "territory", "view")
    return Territory.objects.prefetch_related("named_accounts__account").order_by("name")


def territory_reassignments(actor: User) -> QuerySet[TerritoryReassignment]:
    _require(actor, "territory", "view")
    return TerritoryReassignment.objects.select_related("from_territory", "to_territory", "from_owner", "to_owner",
                                                        "actor").order_by("-at", "-id")


def visible_quotas(actor: User, action: str = "view") -> QuerySet[Quota]:
    return _scoped(Quota.objects.all(), actor, "quota", action, owner="user", team="user__team",
                   territory="user__territory")


def access_quota_by_id(actor: User, quota_id, action: str = "view") -> Quota:
    return _access(visible_quotas, actor, quota_id, action, "quota", ("user",))


def quota_users(actor: User, action: str) -> QuerySet[User]:
    """Users the actor may set (``create``/``change``) quotas for."""
    condition = scope_q(actor, _require(actor, "quota", action), owner="", extra_own=Q(pk=actor.pk))
    users = User.objects.filter(is_active=True)
    return users if condition is None else users.filter(condition)


# ======================================================================================
# Expenses and commissions
# ======================================================================================
def visible_expenses(actor: User, action: str = "view") -> QuerySet[Expense]:
    return _scoped(Expense.objects.all(), actor, "expense", action)


def access_expense_by_id(actor: User, expense_id, action: str = "view") -> Expense:
    return _access(visible_expenses, actor, expense_id, action, "expense", ("owner", "account", "opportunity"))


def expense_list(actor: User, *, status: str = "", owner_id: int | None = None) -> QuerySet[Expense]:
    queryset = visible_expenses(actor).select_related("owner", "account", "decided_by")
    if status:
        queryset = queryset.filter(status=status)
    if owner_id:
        queryset = queryset.filter(owner_id=owner_id)
    return queryset.order_by("-spent_on", "-id")


def commission_rules(actor: User) -> QuerySet[CommissionRule]:
    _require(actor, "commission", "view")
    return CommissionRule.objects.select_related("user", "product").order_by("name", "id")


def visible_commission_entries(actor: User, action: str = "view") -> QuerySet[CommissionEntry]:
    return _scoped(CommissionEntry.objects.all(), actor, "commission", action, owner="user", team="user__team",
                   territory="user__territory")


def commission_statements(actor: User, *, period: str = "", user_id: int | None = None) -> list[dict]:
    """Per rep, period and currency: lines, base and commission — one grouped query."""
    entries = visible_commission_entries(actor)
    if period:
        entries = entries.filter(period=period)
    if user_id:
        entries = entries.filter(user_id=user_id)
    rows = (entries.values("user_id", "user__username", "user__display_name", "period", "currency")
            .annotate(lines=Count("id"), orders=Count("order_id", distinct=True), base=Sum("base_amount"),
                      commission=Sum("amount"))
            .order_by("-period", "user__username", "currency"))
    return [{"user_id": row["user_id"], "user": row["user__display_name"] or row["user__username"],
             "period": row["period"], "currency": row["currency"], "lines": row["lines"], "orders": row["orders"],
             "base_amount": Decimal(row["base"]).quantize(CENT),
             "commission": Decimal(row["commission"]).quantize(CENT)} for row in rows]


def commission_statement_lines(actor: User, *, user_id: int, period: str) -> QuerySet[CommissionEntry]:
    return (visible_commission_entries(actor).filter(user_id=user_id, period=period)
            .select_related("order", "order_line__product", "rule").order_by("order__number", "id"))


# ======================================================================================
# Knowledge board
# ======================================================================================
def visible_knowledge_posts(actor: User, action: str = "view") -> QuerySet[KnowledgePost]:
    return _scoped(KnowledgePost.objects.all(), actor, "knowledge_post", action, owner="author")


def access_knowledge_post_by_id(actor: User, post_id, action: str = "view") -> KnowledgePost:
    return _access(visible_knowledge_posts, actor, post_id, action, "knowledge post", ("author", "competitor"))


def knowledge_post_list(actor: User, *, query: str = "", tag: str = "", kind: str = "",
                        competitor_id: int | None = None) -> QuerySet[KnowledgePost]:
    """Posts, newest first; ``query`` matches every word (any script) in title, text,
    tags and competitor."""
    from guanxi.core.normalize import search_tokens

    queryset = visible_knowledge_posts(actor).select_related("author", "competitor").prefetch_related("tags")
    for token in search_tokens(query or ""):
        queryset = queryset.filter(search_text__icontains=token)
    if tag:
        queryset = queryset.filter(tags__name=tag)
    if kind:
        queryset = queryset.filter(kind=kind)
    if competitor_id:
        queryset = queryset.filter(competitor_id=competitor_id)
    return queryset.annotate(comment_count=Count("comments", distinct=True)).order_by("-created_at", "-id")


def knowledge_tags(actor: User) -> list[tuple[str, int]]:
    rows = (visible_knowledge_posts(actor).values("tags__name").annotate(count=Count("id"))
            .exclude(tags__name__isnull=True).order_by("-count", "tags__name")[:50])
    return [(row["tags__name"], row["count"]) for row in rows]


# ======================================================================================
# Panels on the 360° pages
# ======================================================================================
def customer_sales_summary(actor: User, *, account_id: int | None = None, contact_id: int | None = None) -> dict:
    """The customer's deals, quotes, orders, contracts and planned activities the actor
    may see, for the 360° panels; each list is short."""
    def narrow(queryset):
        if contact_id:
            return queryset.filter(contact_id=contact_id)
        return queryset.filter(account_id=account_id)

    summary: dict = {}
    for key, visible, order, related in (
            ("opportunities", visible_opportunities, ("is_closed", "close_date"), ("stage", "owner")),
            ("quotes", visible_quotes, ("-created_at",), ()),
            ("orders", visible_orders, ("-ordered_at",), ()),
            ("contracts", visible_contracts, ("end_date",), ()),
    ):
        try:
            summary[key] = list(narrow(visible(actor)).select_related(*related).order_by(*order)[:10])
        except PermissionDenied:
            summary[key] = None
    try:
        summary["activities"] = list(narrow(visible_activities(actor)).filter(status=ActivityStatus.PLANNED)
                                     .select_related("owner").order_by("start_at")[:10])
    except PermissionDenied:
        summary["activities"] = None
    return summary
