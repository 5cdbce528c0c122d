"""REST routes of quotes: building, approval, sending, acceptance, versions and the PDF."""

import datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.sales import selectors, services
from guanxi.sales.api.refs import AccountRef, ContactRef, ProductRef, UserRef, client_ip
from guanxi.sales.documents import quote_pdf
from guanxi.sales.models import ApprovalStatus, Currency, Quote, QuoteLine, QuoteStatus

router = Router(tags=["quotes"])


class QuoteLineOut(ModelSchema):
    product: ProductRef
    parent_id: int | None = Field(description="Product line an option or bundle component belongs to.")

    class Meta:
        model = QuoteLine
        fields = ["id", "kind", "position", "description", "quantity", "list_price", "unit_price",
                  "discount_percent", "line_total"]


class QuoteOut(ModelSchema):
    display_number: str = Field(description="Number with its version, e.g. Q-2026-00042-v2.")
    opportunity_id: int
    account: AccountRef | None
    contact: ContactRef | None
    owner: UserRef | None
    approved_by: UserRef | None
    price_list_id: int
    is_expired: bool

    class Meta:
        model = Quote
        fields = ["id", "number", "revision", "title", "currency", "discount_percent", "tax_percent", "subtotal",
                  "discount_total", "tax_total", "total", "max_discount_percent", "status", "approval_status",
                  "approved_at", "approval_note", "valid_until", "language", "terms", "sent_at", "sent_to",
                  "accepted_at", "accepted_by_name", "declined_at", "version", "created_at", "updated_at"]


class QuoteDetailOut(QuoteOut):
    lines: list[QuoteLineOut]

    @staticmethod
    def resolve_lines(quote: Quote) -> list:
        return selectors.quote_lines(quote)


class LineIn(InputSchema):
    product_id: int = Field(description="Product to quote.")
    quantity: Decimal = Field(Decimal("1"), gt=0)
    discount_percent: Decimal = Field(Decimal("0"), ge=0, le=100, description="Line discount in percent.")
    unit_price: Decimal | None = Field(None, ge=0, description="Overrides the list price (counts as a discount).")
    currency: Currency | None = Field(None, description="Currency the price is given in; must be the quote's.")
    option_ids: list[int] = Field([], description="Configurator options of the product to add; required options "
                                                  "are added anyway.")
    description: str | None = Field(None, max_length=300)


class LinePatch(InputSchema):
    quantity: Decimal | None = Field(None, gt=0)
    discount_percent: Decimal | None = Field(None, ge=0, le=100)
    unit_price: Decimal | None = Field(None, ge=0)
    currency: Currency | None = None
    description: str | None = Field(None, max_length=300)
    version: int | None = None


class QuoteIn(InputSchema):
    opportunity_id: int = Field(description="Deal quoted for.")
    title: str | None = model_field(Quote, "title")
    currency: Currency | None = Field(None, description="Defaults to the deal's currency.")
    price_list_id: int | None = Field(None, description="Defaults to the list for the currency and the customer's "
                                                        "tier.")
    contact_id: int | None = None
    valid_until: datetime.date | None = Field(None, description="Defaults to 30 days from today.")
    discount_percent: Decimal | None = Field(None, ge=0, le=100, description="Discount on the whole quote.")
    tax_percent: Decimal | None = Field(None, ge=0, le=100)
    language: Literal["en", "zh-hans"] | None = None
    terms: str | None = None
    lines: list[LineIn] = []


class QuotePatch(InputSchema):
    title: str | None = model_field(Quote, "title")
    contact_id: int | None = None
    currency: Currency | None = Field(None, description="Cannot change: create a quote in another currency.")
    valid_until: datetime.date | None = None
    discount_percent: Decimal | None = Field(None, ge=0, le=100)
    tax_percent: Decimal | None = Field(None, ge=0, le=100)
    language: Literal["en", "zh-hans"] | None = None
    terms: str | None = None
    version: int | None = None


class NoteIn(InputSchema):
    note: str = Field("", max_length=500)


class SendIn(InputSchema):
    to_email: str = Field("", description="Defaults to the contact's email.")
    message: str = Field("", max_length=2000, description="Personal message above the link.")


class AcceptIn(InputSchema):
    accepted_by_name: str = Field(min_length=1, max_length=200, description="Name of the customer who accepted.")


class DeclineIn(InputSchema):
    reason: str = Field("", max_length=300)


class QuoteQuery(Schema):
    status: QuoteStatus | None = None
    approval_status: ApprovalStatus | None = None
    opportunity_id: int | None = None
    account_id: int | None = None
    q: str = ""


def _detail(request, quote_id: int) -> Quote:
    return selectors.access_quote_by_id(request.auth, quote_id)


@router.get("/quotes", response={200: list[QuoteOut], **READ_ERRORS}, summary="List quotes")
@paginate(ApiListPagination)
def quote_list(request, filters: Query[QuoteQuery]):
    return selectors.quote_list(request.auth, status=filters.status or "", opportunity_id=filters.opportunity_id,
                                account_id=filters.account_id, approval_status=filters.approval_status or "",
                                query=filters.q.strip()).select_related("contact", "approved_by")


@router.post("/quotes", response={201: QuoteDetailOut, **WRITE_ERRORS}, summary="Create a quote",
             description="A line in another currency than the quote, or a product missing from the price list, "
                         "answers 422 and nothing is created.")
def quote_create(request, payload: QuoteIn):
    data = payload.dict(exclude_unset=True)
    data["lines"] = [line.dict(exclude_unset=True) for line in payload.lines]
    return Status(201, _detail(request, services.quote_create(actor=request.auth, data=data).pk))


@router.get("/quotes/{quote_id}", response={200: QuoteDetailOut, **READ_ERRORS}, summary="Read a quote")
def quote_detail(request, quote_id: int):
    return _detail(request, quote_id)


@router.patch("/quotes/{quote_id}", response={200: QuoteDetailOut, **WRITE_ERRORS}, summary="Change a draft quote")
def quote_update(request, quote_id: int, payload: QuotePatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    services.quote_update(actor=request.auth, quote_id=quote_id, data=data, expected_version=version)
    return _detail(request, quote_id)


@router.delete("/quotes/{quote_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a draft quote")
def quote_delete(request, quote_id: int):
    services.quote_delete(actor=request.auth, quote_id=quote_id)
    return Status(204, None)


@router.post("/quotes/{quote_id}/lines", response={201: QuoteDetailOut, **WRITE_ERRORS}, summary="Add a line",
             description="With configurator options; a bundle brings its components.")
def quote_line_add(request, quote_id: int, payload: LineIn):
    services.quote_line_add(actor=request.auth, quote_id=quote_id, data=payload.dict(exclude_unset=True))
    return Status(201, _detail(request, quote_id))


@router.patch("/quotes/{quote_id}/lines/{line_id}", response={200: QuoteDetailOut, **WRITE_ERRORS},
              summary="Change a line")
def quote_line_update(request, quote_id: int, line_id: int, payload: LinePatch):
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    services.quote_line_update(actor=request.auth, quote_id=quote_id, line_id=line_id, data=data,
                               expected_version=version)
    return _detail(request, quote_id)


@router.delete("/quotes/{quote_id}/lines/{line_id}", response={200: QuoteDetailOut, **WRITE_ERRORS},
               summary="Remove a line")
def quote_line_remove(request, quote_id: int, line_id: int):
    services.quote_line_remove(actor=request.auth, quote_id=quote_id, line_id=line_id)
    return _detail(request, quote_id)


@router.post("/quotes/{quote_id}/approve", response={200: QuoteDetailOut, **WRITE_ERRORS},
             summary="Approve the discount", description="By someone whose own limit covers it; not the owner.")
def quote_approve(request, quote_id: int, payload: NoteIn):
    services.quote_approve(actor=request.auth, quote_id=quote_id, note=payload.note)
    return _detail(request, quote_id)


@router.post("/quotes/{quote_id}/reject-discount", response={200: QuoteDetailOut, **WRITE_ERRORS},
             summary="Refuse the discount")
def quote_reject_discount(request, quote_id: int, payload: NoteIn):
    services.quote_reject_discount(actor=request.auth, quote_id=quote_id, note=payload.note)
    return _detail(request, quote_id)


@router.post("/quotes/{quote_id}/send", response={200: QuoteDetailOut, **WRITE_ERRORS}, summary="Send to the customer",
             description="Emails the PDF with a signed accept link. A discount waiting for approval, an expired or "
                         "superseded quote answers 409 and nothing is sent.")
def quote_send(request, quote_id: int, payload: SendIn):
    services.quote_send(actor=request.auth, quote_id=quote_id, to_email=payload.to_email, message=payload.message)
    return _detail(request, quote_id)


@router.post("/quotes/{quote_id}/accept", response={200: QuoteDetailOut, **WRITE_ERRORS},
             summary="Record the customer's acceptance",
             description="An expired, superseded, unsent or already decided quote answers 409; nothing changes.")
def quote_accept(request, quote_id: int, payload: AcceptIn):
    services.quote_accept(actor=request.auth, quote_id=quote_id, accepted_by_name=payload.accepted_by_name,
                          ip_address=client_ip(request))
    return _detail(request, quote_id)


@router.post("/quotes/{quote_id}/decline", response={200: QuoteDetailOut, **WRITE_ERRORS},
             summary="Record that the customer declined")
def quote_decline(request, quote_id: int, payload: DeclineIn):
    services.quote_decline(actor=request.auth, quote_id=quote_id, reason=payload.reason,
                           ip_address=client_ip(request))
    return _detail(request, quote_id)


@router.post("/quotes/{quote_id}/revise", response={201: QuoteDetailOut, **WRITE_ERRORS},
             summary="Make a new version", description="The old version is superseded; its accept link stops "
                                                       "working.")
def quote_revise(request, quote_id: int):
    return Status(201, _detail(request, services.quote_revise(actor=request.auth, quote_id=quote_id).pk))


class AcceptLinkOut(Schema):
    url: str = Field(description="Path of the customer's accept page (signed).")


@router.get("/quotes/{quote_id}/accept-link", response={200: AcceptLinkOut, **READ_ERRORS},
            summary="The customer's signed accept link")
def quote_accept_link(request, quote_id: int):
    quote = selectors.access_quote_by_id(request.auth, quote_id, "change")
    return {"url": f"/sales/q/{services.quote_accept_token(quote)}/"}


@router.get("/quotes/{quote_id}/pdf", response={200: None, **READ_ERRORS}, summary="The quote as PDF",
            description="In the quote's language unless `language` (en or zh-hans) is given.")
def quote_pdf_download(request, quote_id: int, language: Literal["en", "zh-hans"] | None = None):
    quote = _detail(request, quote_id)
    response = HttpResponse(quote_pdf(quote, language=language), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{quote.display_number}.pdf"'
    return response
