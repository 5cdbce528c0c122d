"""REST routes of orders (made from accepted quotes, tracked) and contracts."""

import datetime
from decimal import Decimal

from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.sales import selectors, services
from guanxi.sales.api.refs import AccountRef, ContactRef, ProductRef, UserRef
from guanxi.sales.models import Contract, ContractStatus, Currency, Order, OrderLine, OrderStatus, OrderStatusChange

router = Router()


# ======================================================================================
# Orders
# ======================================================================================
class OrderLineOut(ModelSchema):
    product: ProductRef

    class Meta:
        model = OrderLine
        fields = ["id", "position", "description", "quantity", "unit_price", "discount_percent", "line_total"]


class StatusChangeOut(ModelSchema):
    changed_by: UserRef | None

    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "note", "changed_at"]


class OrderOut(ModelSchema):
    quote_id: int | None
    opportunity_id: int | None
    account: AccountRef | None
    contact: ContactRef | None
    owner: UserRef | None

    class Meta:
        model = Order
        fields = ["id", "number", "currency", "subtotal", "tax_total", "total", "status", "ordered_at", "carrier",
                  "tracking_number", "notes", "version", "created_at", "updated_at"]


class OrderDetailOut(OrderOut):
    lines: list[OrderLineOut]
    history: list[StatusChangeOut]

    @staticmethod
    def resolve_lines(order: Order) -> list:
        return list(order.lines.select_related("product"))

    @staticmethod
    def resolve_history(order: Order) -> list:
        return list(order.status_changes.select_related("changed_by"))


class OrderIn(InputSchema):
    quote_id: int = Field(description="Accepted quote to order.")
    notes: str = Field("", description="Delivery and billing notes.")


class OrderPatch(InputSchema):
    notes: str | None = None
    carrier: str | None = Field(None, max_length=80)
    tracking_number: str | None = Field(None, max_length=80)
    version: int | None = None


class OrderStatusIn(InputSchema):
    status: OrderStatus
    note: str = Field("", max_length=300, description="Required when cancelling.")
    carrier: str = Field("", max_length=80)
    tracking_number: str = Field("", max_length=80, description="Required when shipping.")
    version: int | None = None


class OrderLinePatch(InputSchema):
    quantity: Decimal | None = Field(None, gt=0)
    discount_percent: Decimal | None = Field(None, ge=0, le=100)
    version: int | None = None


@router.get("/orders", response={200: list[OrderOut], **READ_ERRORS}, tags=["orders"], summary="List orders")
@paginate(ApiListPagination)
def order_list(request, status: OrderStatus | None = None, account_id: int | None = None, q: str = ""):
    return selectors.order_list(request.auth, status=status or "", account_id=account_id,
                                query=q.strip()).select_related("contact")


@router.post("/orders", response={201: OrderDetailOut, **WRITE_ERRORS}, tags=["orders"],
             summary="Order an accepted quote", description="A quote not accepted, or already ordered, answers 409.")
def order_create(request, payload: OrderIn):
    order = services.order_create_from_quote(actor=request.auth, quote_id=payload.quote_id, notes=payload.notes)
    return Status(201, selectors.access_order_by_id(request.auth, order.pk))


@router.get("/orders/{order_id}", response={200: OrderDetailOut, **READ_ERRORS}, tags=["orders"],
            summary="Read an order")
def order_detail(request, order_id: int):
    return selectors.access_order_by_id(request.auth, order_id)


@router.patch("/orders/{order_id}", response={200: OrderDetailOut, **WRITE_ERRORS}, tags=["orders"],
              summary="Change an order's notes or shipment details")
def order_update(request, order_id: int, payload: OrderPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    services.order_update(actor=request.auth, order_id=order_id, data=data, expected_version=version)
    return selectors.access_order_by_id(request.auth, order_id)


@router.post("/orders/{order_id}/status", response={200: OrderDetailOut, **WRITE_ERRORS}, tags=["orders"],
             summary="Track an order", description="confirmed → processing → shipped → delivered → completed, or "
                                                   "cancelled before shipping; commissions follow.")
def order_set_status(request, order_id: int, payload: OrderStatusIn):
    services.order_set_status(actor=request.auth, order_id=order_id, status=payload.status, note=payload.note,
                              carrier=payload.carrier, tracking_number=payload.tracking_number,
                              expected_version=payload.version)
    return selectors.access_order_by_id(request.auth, order_id)


@router.patch("/orders/{order_id}/lines/{line_id}", response={200: OrderDetailOut, **WRITE_ERRORS}, tags=["orders"],
              summary="Correct an order line before shipping")
def order_line_update(request, order_id: int, line_id: int, payload: OrderLinePatch):
    services.order_line_update(actor=request.auth, order_id=order_id, line_id=line_id, quantity=payload.quantity,
                               discount_percent=payload.discount_percent, expected_version=payload.version)
    return selectors.access_order_by_id(request.auth, order_id)


# ======================================================================================
# Contracts
# ======================================================================================
class ContractOut(ModelSchema):
    account: AccountRef | None
    contact: ContactRef | None
    owner: UserRef | None
    order_id: int | None
    opportunity_id: int | None
    renewed_from_id: int | None
    renewal_due_on: datetime.date = Field(description="Day the renewal reminder goes out.")
    renewal_opportunity_ids: list[int] = Field(description="Renewal opportunities opened for this contract.")

    class Meta:
        model = Contract
        fields = ["id", "number", "title", "value", "currency", "start_date", "end_date", "status", "signed_at",
                  "signed_by_name", "auto_renew", "renewal_notice_days", "renewal_reminded_at", "terms", "version",
                  "created_at", "updated_at"]

    @staticmethod
    def resolve_renewal_opportunity_ids(contract: Contract) -> list[int]:
        return list(contract.renewal_opportunities.values_list("pk", flat=True))


class ContractIn(InputSchema):
    order_id: int | None = Field(None, description="Order the contract comes from; fills customer and value.")
    opportunity_id: int | None = None
    title: str | None = model_field(Contract, "title")
    account_id: int | None = None
    contact_id: int | None = None
    value: Decimal | None = Field(None, ge=0)
    currency: Currency | None = None
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None
    auto_renew: bool | None = Field(None, description="Open a renewal opportunity before the end date.")
    renewal_notice_days: int | None = Field(None, ge=0, le=730)
    terms: str | None = None
    owner_id: int | None = None


class ContractPatch(InputSchema):
    title: str | None = model_field(Contract, "title")
    contact_id: int | None = None
    value: Decimal | None = Field(None, ge=0)
    currency: Currency | None = None
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None
    auto_renew: bool | None = None
    renewal_notice_days: int | None = Field(None, ge=0, le=730)
    terms: str | None = None
    owner_id: int | None = None
    version: int | None = None


class SignIn(InputSchema):
    signed_by_name: str = Field(min_length=1, max_length=200, description="Customer's signatory.")
    signed_at: datetime.datetime | None = None


class RenewIn(InputSchema):
    end_date: datetime.date | None = Field(None, description="Defaults to the same term again.")
    value: Decimal | None = Field(None, ge=0, description="Defaults to the current value.")


class TerminateIn(InputSchema):
    reason: str = Field(min_length=1, max_length=300)


class ContractQuery(Schema):
    status: ContractStatus | None = None
    account_id: int | None = None
    ending_before: datetime.date | None = None
    q: str = ""


@router.get("/contracts", response={200: list[ContractOut], **READ_ERRORS}, tags=["contracts"],
            summary="List contracts")
@paginate(ApiListPagination)
def contract_list(request, filters: Query[ContractQuery]):
    return selectors.contract_list(request.auth, status=filters.status or "", account_id=filters.account_id,
                                   ending_before=filters.ending_before, query=filters.q.strip()).select_related(
        "contact").prefetch_related("renewal_opportunities")


@router.post("/contracts", response={201: ContractOut, **WRITE_ERRORS}, tags=["contracts"],
             summary="Create a contract")
def contract_create(request, payload: ContractIn):
    return Status(201, services.contract_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/contracts/{contract_id}", response={200: ContractOut, **READ_ERRORS}, tags=["contracts"],
            summary="Read a contract")
def contract_detail(request, contract_id: int):
    return selectors.access_contract_by_id(request.auth, contract_id)


@router.patch("/contracts/{contract_id}", response={200: ContractOut, **WRITE_ERRORS}, tags=["contracts"],
              summary="Change a contract")
def contract_update(request, contract_id: int, payload: ContractPatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    return services.contract_update(actor=request.auth, contract_id=contract_id, data=data, expected_version=version)


@router.post("/contracts/{contract_id}/sign", response={200: ContractOut, **WRITE_ERRORS}, tags=["contracts"],
             summary="Record the signature", description="The contract becomes active.")
def contract_sign(request, contract_id: int, payload: SignIn):
    return services.contract_sign(actor=request.auth, contract_id=contract_id, signed_by_name=payload.signed_by_name,
                                  signed_at=payload.signed_at)


@router.post("/contracts/{contract_id}/renew", response={201: ContractOut, **WRITE_ERRORS}, tags=["contracts"],
             summary="Renew for another term", description="A new draft contract from the day after this one ends.")
def contract_renew(request, contract_id: int, payload: RenewIn):
    return Status(201, services.contract_renew(actor=request.auth, contract_id=contract_id,
                                               end_date=payload.end_date, value=payload.value))


@router.post("/contracts/{contract_id}/terminate", response={200: ContractOut, **WRITE_ERRORS}, tags=["contracts"],
             summary="End a contract early")
def contract_terminate(request, contract_id: int, payload: TerminateIn):
    return services.contract_terminate(actor=request.auth, contract_id=contract_id, reason=payload.reason)
