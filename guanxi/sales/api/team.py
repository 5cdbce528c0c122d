"""REST routes of territories (named accounts, reassignment), quotas, expenses,
commissions and the sales knowledge board."""

import datetime
from decimal import Decimal

from ninja import Field, ModelSchema, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.core.models import Territory, ValueTier
from guanxi.sales import selectors, services
from guanxi.sales.api.refs import AccountRef, CompetitorRef, ProductRef, TerritoryRef, UserRef
from guanxi.sales.models import (
    CommissionEntry, CommissionRule, Currency, Expense, ExpenseCategory, ExpenseStatus, KnowledgeComment,
    KnowledgeKind, KnowledgePost, Quota, QuotaPeriod, TerritoryReassignment,
)

router = Router()


# ======================================================================================
# Territories
# ======================================================================================
class TerritoryOut(ModelSchema):
    parent_id: int | None
    named_accounts: list[AccountRef] = Field(description="Accounts that belong here by name.")

    class Meta:
        model = Territory
        fields = ["id", "code", "name", "region", "provinces", "cities", "postcode_prefixes", "industries"]

    @staticmethod
    def resolve_named_accounts(territory: Territory) -> list:
        return [named.account for named in territory.named_accounts.all()]


class NamedAccountIn(InputSchema):
    account_id: int


class ReassignIn(InputSchema):
    from_territory_id: int | None = None
    to_territory_id: int | None = None
    from_owner_id: int | None = None
    to_owner_id: int | None = None
    reason: str = Field("", max_length=300)


class ReassignmentOut(ModelSchema):
    from_territory: TerritoryRef | None
    to_territory: TerritoryRef | None
    from_owner: UserRef | None
    to_owner: UserRef | None
    actor: UserRef | None

    class Meta:
        model = TerritoryReassignment
        fields = ["id", "leads_moved", "opportunities_moved", "reason", "at"]


@router.get("/territories", response={200: list[TerritoryOut], **READ_ERRORS}, tags=["territories"],
            summary="Territories with their rules and named accounts")
def territory_list(request):
    return list(selectors.territories(request.auth))


@router.post("/territories/{territory_id}/named-accounts", response={201: TerritoryOut, **WRITE_ERRORS},
             tags=["territories"], summary="Add a named account")
def named_account_add(request, territory_id: int, payload: NamedAccountIn):
    services.named_account_set(actor=request.auth, territory_id=territory_id, account_id=payload.account_id)
    return Status(201, selectors.territories(request.auth).get(pk=territory_id))


@router.delete("/territories/{territory_id}/named-accounts/{account_id}", response={204: None, **WRITE_ERRORS},
               tags=["territories"], summary="Remove a named account")
def named_account_remove(request, territory_id: int, account_id: int):
    services.named_account_remove(actor=request.auth, territory_id=territory_id, account_id=account_id)
    return Status(204, None)


@router.post("/territories/reassign", response={201: ReassignmentOut, **WRITE_ERRORS}, tags=["territories"],
             summary="Move open leads and deals", description="Of a territory and/or an owner, to another territory "
                                                               "and/or owner; logged.")
def territory_reassign(request, payload: ReassignIn):
    return Status(201, services.territory_reassign(actor=request.auth, **payload.dict()))


@router.get("/territories/reassignments", response={200: list[ReassignmentOut], **READ_ERRORS},
            tags=["territories"], summary="The reassignment log")
@paginate(ApiListPagination)
def reassignment_list(request):
    return selectors.territory_reassignments(request.auth)


# ======================================================================================
# Quotas
# ======================================================================================
class QuotaOut(ModelSchema):
    user: UserRef

    class Meta:
        model = Quota
        fields = ["id", "period", "period_start", "period_end", "amount", "currency"]


class QuotaIn(InputSchema):
    user_id: int | None = None
    period: QuotaPeriod | None = None
    period_start: datetime.date | None = None
    period_end: datetime.date | None = None
    amount: Decimal | None = Field(None, ge=0)
    currency: Currency | None = None


@router.get("/quotas", response={200: list[QuotaOut], **READ_ERRORS}, tags=["quotas"], summary="List quotas")
@paginate(ApiListPagination)
def quota_list(request, user_id: int | None = None):
    quotas = selectors.visible_quotas(request.auth).select_related("user")
    return (quotas.filter(user_id=user_id) if user_id else quotas).order_by("-period_start", "user__username")


@router.post("/quotas", response={201: QuotaOut, **WRITE_ERRORS}, tags=["quotas"], summary="Set a quota")
def quota_create(request, payload: QuotaIn):
    return Status(201, services.quota_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/quotas/{quota_id}", response={200: QuotaOut, **READ_ERRORS}, tags=["quotas"], summary="Read a quota")
def quota_detail(request, quota_id: int):
    return selectors.access_quota_by_id(request.auth, quota_id)


@router.patch("/quotas/{quota_id}", response={200: QuotaOut, **WRITE_ERRORS}, tags=["quotas"],
              summary="Change a quota")
def quota_update(request, quota_id: int, payload: QuotaIn):
    return services.quota_update(actor=request.auth, quota_id=quota_id, data=payload.dict(exclude_unset=True))


@router.delete("/quotas/{quota_id}", response={204: None, **WRITE_ERRORS}, tags=["quotas"],
               summary="Remove a quota")
def quota_delete(request, quota_id: int):
    services.quota_delete(actor=request.auth, quota_id=quota_id)
    return Status(204, None)


# ======================================================================================
# Expenses
# ======================================================================================
class ExpenseOut(ModelSchema):
    owner: UserRef | None
    account: AccountRef | None
    opportunity_id: int | None
    decided_by: UserRef | None

    class Meta:
        model = Expense
        fields = ["id", "spent_on", "category", "amount", "currency", "description", "status", "submitted_at",
                  "decided_at", "decision_note", "version", "created_at"]


class ExpenseIn(InputSchema):
    spent_on: datetime.date | None = None
    category: ExpenseCategory | None = None
    amount: Decimal | None = Field(None, gt=0)
    currency: Currency | None = None
    description: str | None = model_field(Expense, "description")
    account_id: int | None = None
    opportunity_id: int | None = None


class ExpenseCreateIn(ExpenseIn):
    submit: bool = Field(False, description="Submit the claim for approval right away.")


class ExpensePatch(ExpenseIn):
    version: int | None = None


class DecisionIn(InputSchema):
    note: str = Field("", max_length=300, description="Required when rejecting.")


@router.get("/expenses", response={200: list[ExpenseOut], **READ_ERRORS}, tags=["expenses"], summary="List expenses")
@paginate(ApiListPagination)
def expense_list(request, status: ExpenseStatus | None = None, owner_id: int | None = None):
    return selectors.expense_list(request.auth, status=status or "", owner_id=owner_id)


@router.post("/expenses", response={201: ExpenseOut, **WRITE_ERRORS}, tags=["expenses"], summary="Claim an expense")
def expense_create(request, payload: ExpenseCreateIn):
    return Status(201, services.expense_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/expenses/{expense_id}", response={200: ExpenseOut, **READ_ERRORS}, tags=["expenses"],
            summary="Read an expense")
def expense_detail(request, expense_id: int):
    return selectors.access_expense_by_id(request.auth, expense_id)


@router.patch("/expenses/{expense_id}", response={200: ExpenseOut, **WRITE_ERRORS}, tags=["expenses"],
              summary="Correct a draft or rejected expense")
def expense_update(request, expense_id: int, payload: ExpensePatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.expense_update(actor=request.auth, expense_id=expense_id, data=data, expected_version=version)


@router.delete("/expenses/{expense_id}", response={204: None, **WRITE_ERRORS}, tags=["expenses"],
               summary="Delete a draft expense")
def expense_delete(request, expense_id: int):
    services.expense_delete(actor=request.auth, expense_id=expense_id)
    return Status(204, None)


@router.post("/expenses/{expense_id}/submit", response={200: ExpenseOut, **WRITE_ERRORS}, tags=["expenses"],
             summary="Submit the claim")
def expense_submit(request, expense_id: int):
    return services.expense_submit(actor=request.auth, expense_id=expense_id)


@router.post("/expenses/{expense_id}/approve", response={200: ExpenseOut, **WRITE_ERRORS}, tags=["expenses"],
             summary="Approve a claim", description="Not your own.")
def expense_approve(request, expense_id: int, payload: DecisionIn):
    return services.expense_decide(actor=request.auth, expense_id=expense_id, approve=True, note=payload.note)


@router.post("/expenses/{expense_id}/reject", response={200: ExpenseOut, **WRITE_ERRORS}, tags=["expenses"],
             summary="Reject a claim")
def expense_reject(request, expense_id: int, payload: DecisionIn):
    return services.expense_decide(actor=request.auth, expense_id=expense_id, approve=False, note=payload.note)


@router.post("/expenses/{expense_id}/reimburse", response={200: ExpenseOut, **WRITE_ERRORS}, tags=["expenses"],
             summary="Mark an approved claim as paid")
def expense_reimburse(request, expense_id: int):
    return services.expense_mark_reimbursed(actor=request.auth, expense_id=expense_id)


# ======================================================================================
# Commissions
# ======================================================================================
class CommissionRuleOut(ModelSchema):
    user: UserRef | None
    product: ProductRef | None

    class Meta:
        model = CommissionRule
        fields = ["id", "name", "product_family", "customer_tier", "rate_percent", "is_active"]


class CommissionRuleIn(InputSchema):
    name: str | None = model_field(CommissionRule, "name")
    user_id: int | None = Field(None, description="Only for this rep.")
    product_id: int | None = Field(None, description="Only for this product.")
    product_family: str | None = model_field(CommissionRule, "product_family")
    customer_tier: ValueTier | None = None
    rate_percent: Decimal | None = Field(None, ge=0, le=100)
    is_active: bool | None = None


class StatementOut(Schema):
    user_id: int
    user: str
    period: str = Field(description="YYYY-MM.")
    currency: str
    lines: int
    orders: int
    base_amount: Decimal
    commission: Decimal


class CommissionEntryOut(ModelSchema):
    order_number: str
    product: ProductRef
    rule_name: str

    class Meta:
        model = CommissionEntry
        fields = ["id", "period", "base_amount", "rate_percent", "amount", "currency", "calculated_at"]

    @staticmethod
    def resolve_order_number(entry: CommissionEntry) -> str:
        return entry.order.number

    @staticmethod
    def resolve_product(entry: CommissionEntry):
        return entry.order_line.product

    @staticmethod
    def resolve_rule_name(entry: CommissionEntry) -> str:
        return entry.rule.name if entry.rule else ""


@router.get("/commission-rules", response={200: list[CommissionRuleOut], **READ_ERRORS}, tags=["commissions"],
            summary="List commission rules")
@paginate(ApiListPagination)
def commission_rule_list(request):
    return selectors.commission_rules(request.auth)


@router.post("/commission-rules", response={201: CommissionRuleOut, **WRITE_ERRORS}, tags=["commissions"],
             summary="Add a commission rule", description="This month's commissions are recalculated by a job.")
def commission_rule_create(request, payload: CommissionRuleIn):
    return Status(201, services.commission_rule_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.patch("/commission-rules/{rule_id}", response={200: CommissionRuleOut, **WRITE_ERRORS}, tags=["commissions"],
              summary="Change a commission rule")
def commission_rule_update(request, rule_id: int, payload: CommissionRuleIn):
    return services.commission_rule_update(actor=request.auth, rule_id=rule_id, data=payload.dict(exclude_unset=True))


@router.delete("/commission-rules/{rule_id}", response={204: None, **WRITE_ERRORS}, tags=["commissions"],
               summary="Remove a commission rule")
def commission_rule_delete(request, rule_id: int):
    services.commission_rule_delete(actor=request.auth, rule_id=rule_id)
    return Status(204, None)


@router.get("/commissions/statements", response={200: list[StatementOut], **READ_ERRORS}, tags=["commissions"],
            summary="Commission statements", description="Per rep, month and currency.")
def commission_statements(request, period: str = "", user_id: int | None = None):
    return selectors.commission_statements(request.auth, period=period, user_id=user_id)


@router.get("/commissions/entries", response={200: list[CommissionEntryOut], **READ_ERRORS}, tags=["commissions"],
            summary="The lines of a statement")
@paginate(ApiListPagination)
def commission_entries(request, user_id: int, period: str):
    return selectors.commission_statement_lines(request.auth, user_id=user_id, period=period)


# ======================================================================================
# Knowledge board
# ======================================================================================
class CommentOut(ModelSchema):
    author: UserRef | None

    class Meta:
        model = KnowledgeComment
        fields = ["id", "body", "created_at"]


class PostOut(ModelSchema):
    author: UserRef | None
    competitor: CompetitorRef | None
    tags: list[str]

    class Meta:
        model = KnowledgePost
        fields = ["id", "title", "body", "kind", "created_at", "updated_at"]

    @staticmethod
    def resolve_tags(post: KnowledgePost) -> list[str]:
        return sorted(tag.name for tag in post.tags.all())


class PostDetailOut(PostOut):
    comments: list[CommentOut]

    @staticmethod
    def resolve_comments(post: KnowledgePost) -> list:
        return list(post.comments.select_related("author"))


class PostIn(InputSchema):
    title: str | None = model_field(KnowledgePost, "title")
    body: str | None = None
    kind: KnowledgeKind | None = None
    tags: list[str] | None = Field(None, description="Replaces the tags.")
    competitor_id: int | None = None


class CommentIn(InputSchema):
    body: str = Field(min_length=1, max_length=5000)


@router.get("/knowledge", response={200: list[PostOut], **READ_ERRORS}, tags=["knowledge board"],
            summary="Search the knowledge board")
@paginate(ApiListPagination)
def knowledge_list(request, q: str = "", tag: str = "", kind: KnowledgeKind | None = None,
                   competitor_id: int | None = None):
    return selectors.knowledge_post_list(request.auth, query=q, tag=tag, kind=kind or "", competitor_id=competitor_id)


@router.post("/knowledge", response={201: PostDetailOut, **WRITE_ERRORS}, tags=["knowledge board"],
             summary="Post a tip or playbook")
def knowledge_create(request, payload: PostIn):
    return Status(201, services.knowledge_post_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/knowledge/{post_id}", response={200: PostDetailOut, **READ_ERRORS}, tags=["knowledge board"],
            summary="Read a post with its comments")
def knowledge_detail(request, post_id: int):
    return selectors.access_knowledge_post_by_id(request.auth, post_id)


@router.patch("/knowledge/{post_id}", response={200: PostDetailOut, **WRITE_ERRORS}, tags=["knowledge board"],
              summary="Change a post")
def knowledge_update(request, post_id: int, payload: PostIn):
    return services.knowledge_post_update(actor=request.auth, post_id=post_id, data=payload.dict(exclude_unset=True))


@router.delete("/knowledge/{post_id}", response={204: None, **WRITE_ERRORS}, tags=["knowledge board"],
               summary="Delete a post")
def knowledge_delete(request, post_id: int):
    services.knowledge_post_delete(actor=request.auth, post_id=post_id)
    return Status(204, None)


@router.post("/knowledge/{post_id}/comments", response={201: CommentOut, **WRITE_ERRORS}, tags=["knowledge board"],
             summary="Comment on a post")
def knowledge_comment(request, post_id: int, payload: CommentIn):
    return Status(201, services.knowledge_comment_add(actor=request.auth, post_id=post_id, body=payload.body))
