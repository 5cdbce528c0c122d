"""Quotes: built line by line with the product configurator, priced from a price list,
discounts above the owner's limit approved by a manager, versioned, sent with a PDF and
accepted online through a signed link."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.events import record_changed, send_on_commit
from guanxi.core.models import AuditAction, User
from guanxi.core.normalize import normalize_email
from guanxi.sales import selectors
from guanxi.sales.models import (
    ApprovalStatus, BundleComponent, PriceList, Product, ProductKind, ProductOption, Quote, QuoteLine, QuoteLineKind,
    QuoteStatus,
)
from guanxi.sales.pricing import discount_limit_of, line_total, list_price, price_list_for, quote_totals
from guanxi.sales.services.common import (
    check_version, full_clean_into, next_number, raise_if, require, snapshot, touch, visible_contact_or_error,
)

HEADER_FIELDS = ("title", "valid_until", "discount_percent", "tax_percent", "language", "terms")
TRACKED = HEADER_FIELDS + ("status", "approval_status", "total", "currency", "contact_id")
ACCEPT_SALT = "guanxi.sales.quote-accept"
DEFAULT_VALIDITY_DAYS = 30


# ======================================================================================
# Signed acceptance links
# ======================================================================================
def quote_accept_token(quote: Quote) -> str:
    """The secret part of the customer's accept link: names the quote and its version."""
    return signing.dumps({"quote": quote.pk, "number": quote.number, "revision": quote.revision}, salt=ACCEPT_SALT)


def quote_from_token(token: str) -> Quote:
    """The quote a link names; NotFound for a forged or garbled link."""
    try:
        payload = signing.loads(token, salt=ACCEPT_SALT)
    except signing.BadSignature:
        raise NotFound("quote link") from None
    quote = Quote.objects.select_related("account", "contact", "owner").filter(pk=payload.get("quote")).first()
    if quote is None or quote.number != payload.get("number") or quote.revision != payload.get("revision"):
        raise NotFound("quote link")
    return quote


# ======================================================================================
# Pricing and approval
# ======================================================================================
def _limit_of(user: User | None) -> Decimal:
    if user is None:
        return discount_limit_of("")
    if user.is_superuser:
        return Decimal("100")
    return discount_limit_of(user.role)


def _recalculate(quote: Quote) -> None:
    """Totals from the lines; approval needed again whenever the price goes below the
    owner's limit (an earlier approval covered other numbers)."""
    totals = quote_totals(list(quote.lines.all()), quote.discount_percent, quote.tax_percent)
    previous_discount = quote.max_discount_percent
    quote.subtotal, quote.discount_total = totals.subtotal, totals.discount_total
    quote.tax_total, quote.total = totals.tax_total, totals.total
    quote.max_discount_percent = totals.max_discount_percent
    if quote.max_discount_percent <= _limit_of(quote.owner):
        quote.approval_status = ApprovalStatus.NOT_NEEDED
        quote.approved_by, quote.approved_at = None, None
    elif quote.approval_status != ApprovalStatus.APPROVED or quote.max_discount_percent > previous_discount:
        quote.approval_status = ApprovalStatus.PENDING
        quote.approved_by, quote.approved_at = None, None


def _editable(actor: User, quote_id: int, expected_version: int | None = None) -> Quote:
    quote = selectors.access_quote_by_id(actor, quote_id, "change")
    quote = Quote.objects.select_for_update(of=("self",)).select_related("owner", "price_list").get(pk=quote.pk)
    check_version(quote, expected_version)
    if quote.status != QuoteStatus.DRAFT:
        raise Conflict(_("Quote %(number)s is %(status)s; create a new version to change it.")
                       % {"number": quote.display_number, "status": quote.get_status_display().lower()})
    return quote


# ======================================================================================
# Creating and editing
# ======================================================================================
@transaction.atomic
def quote_create(*, actor: User, data: dict) -> Quote:
    """A draft quote for a deal, in the deal's currency unless told otherwise, priced from
    the list for that currency and the customer's tier unless a list is named."""
    require(actor, "quote", "create", _("You may not create quotes."))
    errors: dict[str, list[str]] = {}
    opportunity = None
    if data.get("opportunity_id"):
        opportunity = selectors.visible_opportunities(actor).filter(pk=data["opportunity_id"]).select_related(
            "account", "contact").first()
    if opportunity is None:
        raise ValidationError({"opportunity_id": [_("Choose an opportunity you can see.")]})
    currency = data.get("currency") or opportunity.currency
    tier = opportunity.account.value_tier if opportunity.account_id else ""
    if data.get("price_list_id"):
        price_list = PriceList.objects.filter(pk=data["price_list_id"], is_active=True).first()
        if price_list is None:
            errors["price_list_id"] = [_("Unknown price list.")]
        elif price_list.currency != currency:
            errors["price_list_id"] = [_("This price list is in %(list)s but the quote is in %(quote)s.")
                                       % {"list": price_list.currency, "quote": currency}]
    else:
        price_list = price_list_for(currency, tier)
        if price_list is None:
            errors["currency"] = [_("There is no active price list in %(currency)s.") % {"currency": currency}]
    contact = opportunity.contact
    if "contact_id" in data and data["contact_id"]:
        contact = visible_contact_or_error(actor, data["contact_id"], errors)
    quote = Quote(opportunity=opportunity, account=opportunity.account, contact=contact, currency=currency,
                  price_list=price_list, title=(data.get("title") or opportunity.name).strip(),
                  valid_until=data.get("valid_until") or timezone.localdate() + datetime.timedelta(
                      days=DEFAULT_VALIDITY_DAYS),
                  language=data.get("language") or (contact.preferred_language if contact else "zh-hans"),
                  owner=opportunity.owner or actor, team_id=opportunity.team_id,
                  territory_id=opportunity.territory_id)
    for field in ("discount_percent", "tax_percent", "terms"):
        if data.get(field) is not None:
            setattr(quote, field, data[field])
    if quote.valid_until < timezone.localdate():
        errors.setdefault("valid_until", []).append(_("A new quote cannot already be expired."))
    full_clean_into(quote, errors, exclude=["number", "owner", "team", "territory", "opportunity", "account",
                                            "contact", "price_list", "approved_by"])
    raise_if(errors)
    quote.number = next_number("Q")
    quote.save()
    for index, line in enumerate(data.get("lines") or []):
        try:
            _add_line(quote, line)
        except ValidationError as error:
            raise ValidationError({f"lines.{index}.{field}": messages
                                   for field, messages in error.message_dict.items()}) from None
    _recalculate(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=quote, changes=diff({}, snapshot(quote, TRACKED)))
    send_on_commit(record_changed, Quote, instance=quote, action="create", actor=actor)
    return quote


def _priced(quote: Quote, product: Product, field: str, errors: dict) -> Decimal | None:
    price = list_price(quote.price_list, product.pk)
    if price is None:
        errors.setdefault(field, []).append(
            _("%(product)s has no price in the price list “%(list)s” (%(currency)s).")
            % {"product": product.name, "list": quote.price_list.name, "currency": quote.currency})
    return price


def _add_line(quote: Quote, data: dict) -> QuoteLine:
    """One product line with its configured options or bundle components as child lines."""
    errors: dict[str, list[str]] = {}
    if data.get("currency") and data["currency"] != quote.currency:
        errors["currency"] = [_("This quote is in %(quote)s; a line in %(line)s cannot be added. Create a quote "
                                "in %(line)s or price the line in %(quote)s.")
                              % {"quote": quote.currency, "line": data["currency"]}]
    product = Product.objects.filter(pk=data.get("product_id")).first()
    if product is None:
        errors["product_id"] = [_("Unknown product.")]
        raise ValidationError(errors)
    if not product.is_active:
        errors["product_id"] = [_("%(product)s is no longer sold.") % {"product": product.name}]
    quantity = Decimal(str(data.get("quantity") or 1))
    if quantity <= 0:
        errors["quantity"] = [_("Enter a quantity above zero.")]
    discount = Decimal(str(data.get("discount_percent") or 0))
    if not Decimal("0") <= discount <= Decimal("100"):
        errors["discount_percent"] = [_("Give a discount from 0 to 100 percent.")]
    price = _priced(quote, product, "product_id", errors)
    unit_price = Decimal(str(data["unit_price"])) if data.get("unit_price") is not None else price
    if unit_price is not None and unit_price < 0:
        errors["unit_price"] = [_("A price cannot be negative.")]
    offered = {option.option_id: option for option in ProductOption.objects.filter(product=product)
               .select_related("option")}
    chosen_ids = list(dict.fromkeys(data.get("option_ids") or []))
    unknown = [pk for pk in chosen_ids if pk not in offered]
    if unknown:
        errors["option_ids"] = [_("%(product)s cannot be configured with option(s) %(ids)s.")
                                % {"product": product.name, "ids": ", ".join(str(pk) for pk in unknown)}]
    chosen = [offered[pk] for pk in chosen_ids if pk in offered]
    chosen += [option for pk, option in offered.items() if option.is_required and pk not in chosen_ids]
    groups: dict[str, int] = {}
    for option in chosen:
        if option.group:
            groups[option.group] = groups.get(option.group, 0) + 1
    for group, count in groups.items():
        if count > 1:
            errors.setdefault("option_ids", []).append(_("Choose one option of “%(group)s”.") % {"group": group})
    option_prices = {option.option_id: _priced(quote, option.option, "option_ids", errors) for option in chosen}
    raise_if(errors)
    position = (quote.lines.aggregate(last=Max("position"))["last"] or 0) + 1
    line = QuoteLine.objects.create(
        quote=quote, kind=QuoteLineKind.PRODUCT, position=position, product=product,
        description=((data.get("description") or "").strip() or _name_in(product, quote.language))[:300],
        quantity=quantity, list_price=price, unit_price=unit_price, discount_percent=discount,
        line_total=line_total(quantity, unit_price, discount))
    for offset, option in enumerate(chosen, start=1):
        option_quantity = quantity * option.quantity_per_unit
        QuoteLine.objects.create(
            quote=quote, parent=line, kind=QuoteLineKind.OPTION, position=position, product=option.option,
            description=_name_in(option.option, quote.language), quantity=option_quantity,
            list_price=option_prices[option.option_id], unit_price=option_prices[option.option_id],
            discount_percent=discount, line_total=line_total(option_quantity, option_prices[option.option_id], discount))
    if product.kind == ProductKind.BUNDLE:
        for component in BundleComponent.objects.filter(bundle=product).select_related("component").order_by("id"):
            QuoteLine.objects.create(
                quote=quote, parent=line, kind=QuoteLineKind.COMPONENT, position=position,
                product=component.component, description=_name_in(component.component, quote.language),
                quantity=quantity * component.quantity, list_price=Decimal("0"), unit_price=Decimal("0"),
                discount_percent=Decimal("0"), line_total=Decimal("0"))
    return line


def _name_in(product: Product, language: str) -> str:
    return (product.name_zh if language == "zh-hans" and product.name_zh else product.name)[:300]


@transaction.atomic
def quote_line_add(*, actor: User, quote_id: int, data: dict, expected_version: int | None = None) -> QuoteLine:
    quote = _editable(actor, quote_id, expected_version)
    line = _add_line(quote, data)
    before = snapshot(quote, TRACKED)
    _recalculate(quote)
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote, changes={
        **diff(before, snapshot(quote, TRACKED)), "line_added": [None, f"{line.quantity} × {line.description}"]})
    return line


@transaction.atomic
def quote_line_update(*, actor: User, quote_id: int, line_id: int, data: dict,
                      expected_version: int | None = None) -> QuoteLine:
    """Change quantity, price or discount of a product line; its options and components
    follow the quantity."""
    quote = _editable(actor, quote_id, expected_version)
    line = quote.lines.filter(pk=line_id, parent__isnull=True).first()
    if line is None:
        raise NotFound(f"quote line {line_id}")
    errors: dict[str, list[str]] = {}
    if data.get("currency") and data["currency"] != quote.currency:
        errors["currency"] = [_("This quote is in %(quote)s; its lines cannot be in %(line)s.")
                              % {"quote": quote.currency, "line": data["currency"]}]
    quantity = Decimal(str(data["quantity"])) if data.get("quantity") is not None else line.quantity
    discount = Decimal(str(data["discount_percent"])) if data.get("discount_percent") is not None \
        else line.discount_percent
    unit_price = Decimal(str(data["unit_price"])) if data.get("unit_price") is not None else line.unit_price
    if quantity <= 0:
        errors["quantity"] = [_("Enter a quantity above zero.")]
    if not Decimal("0") <= discount <= Decimal("100"):
        errors["discount_percent"] = [_("Give a discount from 0 to 100 percent.")]
    if unit_price < 0:
        errors["unit_price"] = [_("A price cannot be negative.")]
    raise_if(errors)
    before = snapshot(quote, TRACKED)
    ratio = quantity / line.quantity
    line.quantity, line.discount_percent, line.unit_price = quantity, discount, unit_price
    if data.get("description"):
        line.description = data["description"].strip()[:300]
    line.line_total = line_total(quantity, unit_price, discount)
    line.save()
    for child in line.children.all():
        child.quantity = child.quantity * ratio
        if child.kind == QuoteLineKind.OPTION:
            child.discount_percent = discount
        child.line_total = line_total(child.quantity, child.unit_price, child.discount_percent)
        child.save()
    _recalculate(quote)
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote, changes=diff(before, snapshot(quote, TRACKED)))
    return line


@transaction.atomic
def quote_line_remove(*, actor: User, quote_id: int, line_id: int, expected_version: int | None = None) -> None:
    quote = _editable(actor, quote_id, expected_version)
    line = quote.lines.filter(pk=line_id, parent__isnull=True).first()
    if line is None:
        raise NotFound(f"quote line {line_id}")
    before = snapshot(quote, TRACKED)
    description = line.description
    line.delete()
    _recalculate(quote)
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote, changes={
        **diff(before, snapshot(quote, TRACKED)), "line_removed": [description, None]})


@transaction.atomic
def quote_update(*, actor: User, quote_id: int, data: dict, expected_version: int | None = None) -> Quote:
    quote = _editable(actor, quote_id, expected_version)
    before = snapshot(quote, TRACKED)
    errors: dict[str, list[str]] = {}
    for field in HEADER_FIELDS:
        if field in data and data[field] is not None:
            setattr(quote, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if "currency" in data and data["currency"] and data["currency"] != quote.currency:
        errors["currency"] = [_("The currency of a quote follows its price list; create a new quote in "
                                "%(currency)s.") % {"currency": data["currency"]}]
    if "contact_id" in data:
        quote.contact = visible_contact_or_error(actor, data["contact_id"], errors) if data["contact_id"] else None
    if "valid_until" in data and quote.valid_until and quote.valid_until < timezone.localdate():
        errors.setdefault("valid_until", []).append(_("Choose today or a later day."))
    full_clean_into(quote, errors, exclude=["number", "owner", "team", "territory", "opportunity", "account",
                                            "contact", "price_list", "approved_by"])
    raise_if(errors)
    _recalculate(quote)
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote, changes=diff(before, snapshot(quote, TRACKED)))
    return quote


@transaction.atomic
def quote_delete(*, actor: User, quote_id: int) -> None:
    quote = selectors.access_quote_by_id(actor, quote_id, "delete")
    if quote.status != QuoteStatus.DRAFT:
        raise Conflict(_("Only draft quotes can be deleted; this one was %(status)s.")
                       % {"status": quote.get_status_display().lower()})
    audit_record(actor=actor, action=AuditAction.DELETE, obj=quote, changes={"number": [quote.display_number, None]})
    previous = Quote.objects.filter(number=quote.number, revision=quote.revision - 1).first()
    quote.delete()
    if previous is not None and previous.status == QuoteStatus.SUPERSEDED:
        # Deleting a draft revision brings the previous version back into play.
        previous.status = QuoteStatus.SENT if previous.sent_at else QuoteStatus.DRAFT
        previous.save(update_fields=["status"])


# ======================================================================================
# Approval
# ======================================================================================
@transaction.atomic
def quote_approve(*, actor: User, quote_id: int, note: str = "") -> Quote:
    """A manager approves a discount above the owner's limit; only someone whose own
    limit covers the discount may."""
    quote = selectors.access_quote_by_id(actor, quote_id, "change")
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    if quote.approval_status != ApprovalStatus.PENDING:
        raise Conflict(_("Quote %(number)s is not waiting for approval.") % {"number": quote.display_number})
    if quote.owner_id == actor.pk and not actor.is_superuser:
        raise PermissionDenied(_("You cannot approve a discount on your own quote."))
    limit = _limit_of(actor)
    if quote.max_discount_percent > limit:
        raise PermissionDenied(_("The discount of %(discount)s %% is above your own limit of %(limit)s %%.")
                               % {"discount": quote.max_discount_percent, "limit": limit})
    quote.approval_status, quote.approved_by, quote.approved_at = ApprovalStatus.APPROVED, actor, timezone.now()
    quote.approval_note = (note or "").strip()[:500]
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote,
                 changes={"approval_status": [ApprovalStatus.PENDING, ApprovalStatus.APPROVED],
                          "max_discount_percent": [None, quote.max_discount_percent]})
    return quote


@transaction.atomic
def quote_reject_discount(*, actor: User, quote_id: int, note: str) -> Quote:
    quote = selectors.access_quote_by_id(actor, quote_id, "change")
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    if quote.approval_status != ApprovalStatus.PENDING:
        raise Conflict(_("Quote %(number)s is not waiting for approval.") % {"number": quote.display_number})
    if quote.owner_id == actor.pk and not actor.is_superuser:
        raise PermissionDenied(_("You cannot decide on a discount on your own quote."))
    if not (note or "").strip():
        raise ValidationError({"note": [_("Tell the rep why the discount is refused.")]})
    quote.approval_status, quote.approval_note = ApprovalStatus.REJECTED, note.strip()[:500]
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote,
                 changes={"approval_status": [ApprovalStatus.PENDING, ApprovalStatus.REJECTED]})
    return quote


# ======================================================================================
# Sending, accepting, declining, revising
# ======================================================================================
def _require_offerable(quote: Quote) -> None:
    """What must hold before a customer may see or accept a quote."""
    latest = Quote.objects.filter(number=quote.number).aggregate(last=Max("revision"))["last"]
    if quote.status == QuoteStatus.SUPERSEDED or (latest and quote.revision < latest):
        raise Conflict(_("Quote %(number)s was replaced by a newer version; only the newest version can be "
                         "sent or accepted.") % {"number": quote.display_number})
    if quote.approval_status == ApprovalStatus.PENDING:
        raise Conflict(_("The discount on quote %(number)s (%(discount)s %%) is above the owner's limit and waits "
                         "for a manager's approval.") % {"number": quote.display_number,
                                                         "discount": quote.max_discount_percent})
    if quote.approval_status == ApprovalStatus.REJECTED:
        raise Conflict(_("The discount on quote %(number)s was refused; lower it or ask again.")
                       % {"number": quote.display_number})
    if quote.is_expired:
        raise Conflict(_("Quote %(number)s expired on %(date)s.") % {"number": quote.display_number,
                                                                     "date": quote.valid_until.isoformat()})


@transaction.atomic
def quote_send(*, actor: User, quote_id: int, to_email: str = "", message: str = "") -> Quote:
    """Email the quote (PDF attached, with the accept link) to the customer. The email
    goes out from a background job once the quote is committed as sent."""
    from guanxi.jobs.services import job_enqueue

    quote = selectors.access_quote_by_id(actor, quote_id, "change")
    quote = Quote.objects.select_for_update(of=("self",)).select_related("contact").get(pk=quote.pk)
    if quote.status not in (QuoteStatus.DRAFT, QuoteStatus.SENT):
        raise Conflict(_("Quote %(number)s is %(status)s and cannot be sent.")
                       % {"number": quote.display_number, "status": quote.get_status_display().lower()})
    _require_offerable(quote)
    if not quote.lines.exists():
        raise ValidationError({"lines": [_("Add at least one line before sending the quote.")]})
    address = (to_email or "").strip() or (quote.contact.email if quote.contact_id else "")
    if not address:
        raise ValidationError({"to_email": [_("Give the address to send the quote to; the contact has no email.")]})
    try:
        address = normalize_email(address)
    except ValidationError as error:
        raise ValidationError({"to_email": list(error.messages)}) from None
    before = snapshot(quote, TRACKED)
    quote.status, quote.sent_at, quote.sent_to = QuoteStatus.SENT, timezone.now(), address
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote,
                 changes={**diff(before, snapshot(quote, TRACKED)), "sent_to": [None, address]})
    sent_key = f"sales.send_quote:{quote.pk}:{quote.version}"
    transaction.on_commit(lambda: job_enqueue(
        actor=None, kind="sales.send_quote", idempotency_key=sent_key,
        params={"quote_id": quote.pk, "to": address, "message": message, "sender_id": actor.pk},
        title=_("Send quote %(number)s") % {"number": quote.display_number}))
    return quote


@transaction.atomic
def quote_accept(*, actor: User | None, quote_id: int, accepted_by_name: str, ip_address: str | None = None) -> Quote:
    """The customer accepts. ``actor`` None is the customer through the signed link; staff
    record an acceptance received otherwise (signed paper, phone). Refused, with nothing
    changed, for a quote not sent, replaced by a newer version, expired, already decided
    or waiting for discount approval."""
    if actor is not None:
        quote = selectors.access_quote_by_id(actor, quote_id, "change")
        quote_id = quote.pk
    quote = Quote.objects.select_for_update().filter(pk=quote_id).first()
    if quote is None:
        raise NotFound(f"quote {quote_id}")
    if quote.status == QuoteStatus.ACCEPTED:
        raise Conflict(_("Quote %(number)s was already accepted on %(date)s.")
                       % {"number": quote.display_number,
                          "date": timezone.localtime(quote.accepted_at).strftime("%Y-%m-%d")})
    _require_offerable(quote)
    if quote.status != QuoteStatus.SENT:
        raise Conflict(_("Quote %(number)s is %(status)s; only a sent quote can be accepted.")
                       % {"number": quote.display_number, "status": quote.get_status_display().lower()})
    name = (accepted_by_name or "").strip()
    if not name:
        raise ValidationError({"accepted_by_name": [_("Type your name to sign the acceptance.")]})
    before = snapshot(quote, TRACKED)
    quote.status, quote.accepted_at = QuoteStatus.ACCEPTED, timezone.now()
    quote.accepted_by_name, quote.accepted_ip = name[:200], ip_address
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote, ip_address=ip_address,
                 changes={**diff(before, snapshot(quote, TRACKED)), "accepted_by_name": [None, quote.accepted_by_name]})
    _record_on_timeline(quote, subject=_("Quote %(number)s accepted") % {"number": quote.display_number},
                        outcome=_("accepted"), channel="web" if actor is None else "letter", event="accepted")
    send_on_commit(record_changed, Quote, instance=quote, action="update", actor=actor)
    return quote


@transaction.atomic
def quote_decline(*, actor: User | None, quote_id: int, reason: str = "", ip_address: str | None = None) -> Quote:
    if actor is not None:
        quote = selectors.access_quote_by_id(actor, quote_id, "change")
        quote_id = quote.pk
    quote = Quote.objects.select_for_update().filter(pk=quote_id).first()
    if quote is None:
        raise NotFound(f"quote {quote_id}")
    if quote.status != QuoteStatus.SENT:
        raise Conflict(_("Quote %(number)s is %(status)s; only a sent quote can be declined.")
                       % {"number": quote.display_number, "status": quote.get_status_display().lower()})
    before = snapshot(quote, TRACKED)
    quote.status, quote.declined_at = QuoteStatus.DECLINED, timezone.now()
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote, ip_address=ip_address,
                 changes={**diff(before, snapshot(quote, TRACKED)), "decline_reason": [None, reason[:300]]})
    _record_on_timeline(quote, subject=_("Quote %(number)s declined") % {"number": quote.display_number},
                        outcome=_("declined"), channel="web" if actor is None else "letter", event="declined",
                        notes=reason)
    return quote


@transaction.atomic
def quote_revise(*, actor: User, quote_id: int) -> Quote:
    """A new version of the quote as a draft with the same lines; the old one is superseded
    and its accept link stops working."""
    quote = selectors.access_quote_by_id(actor, quote_id, "change")
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    latest = Quote.objects.filter(number=quote.number).aggregate(last=Max("revision"))["last"]
    if quote.revision != latest:
        raise Conflict(_("Only the newest version of quote %(number)s can be revised.") % {"number": quote.number})
    if quote.status == QuoteStatus.ACCEPTED:
        raise Conflict(_("Quote %(number)s was accepted; it cannot be revised.") % {"number": quote.display_number})
    lines = list(quote.lines.order_by("position", "id"))
    revision = Quote.objects.get(pk=quote.pk)
    revision.pk = None
    revision.revision = quote.revision + 1
    revision.status = QuoteStatus.DRAFT
    revision.version = 1
    revision.created_at = revision.updated_at = timezone.now()
    revision.sent_at = revision.accepted_at = revision.declined_at = None
    revision.sent_to = revision.accepted_by_name = ""
    revision.accepted_ip = None
    revision.approval_status = ApprovalStatus.NOT_NEEDED
    revision.approved_by = revision.approved_at = None
    revision.approval_note = ""
    if revision.valid_until < timezone.localdate():
        revision.valid_until = timezone.localdate() + datetime.timedelta(days=DEFAULT_VALIDITY_DAYS)
    revision.save()
    copies: dict[int, QuoteLine] = {}
    for line in lines:
        original_id, parent_id = line.pk, line.parent_id
        line.pk = None
        line.quote = revision
        line.parent = copies.get(parent_id) if parent_id else None
        line.save()
        copies[original_id] = line
    _recalculate(revision)
    revision.save()
    quote.status = QuoteStatus.SUPERSEDED
    touch(quote)
    quote.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=revision,
                 changes={"revision": [quote.revision, revision.revision]})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=quote, changes={"status": [None, QuoteStatus.SUPERSEDED]})
    return revision


def quotes_expire() -> int:
    """Mark sent quotes past their last day as expired (a daily job)."""
    today = timezone.localdate()
    expired = list(Quote.objects.filter(status=QuoteStatus.SENT, valid_until__lt=today).values_list("pk", flat=True))
    with transaction.atomic():
        Quote.objects.filter(pk__in=expired).update(status=QuoteStatus.EXPIRED, updated_at=timezone.now())
        for quote_id in expired:
            audit_record(actor=None, action=AuditAction.UPDATE, object_type="quote", object_id=str(quote_id),
                         changes={"status": [QuoteStatus.SENT, QuoteStatus.EXPIRED]})
    return len(expired)


def _record_on_timeline(quote: Quote, *, subject: str, outcome: str, channel: str, event: str, notes: str = "") -> None:
    if not quote.contact_id and not quote.account_id:
        return
    from guanxi.interactions.services import interaction_record

    interaction_record(actor=None, check_access=False, data={
        "contact_id": quote.contact_id, "account_id": quote.account_id, "channel": channel, "direction": "in",
        "subject": subject, "reason": quote.title, "outcome": outcome, "notes": notes,
        "agent_id": quote.owner_id, "source_type": f"sales.quote.{event}", "source_id": str(quote.pk),
        "documents": [{"name": quote.display_number, "url": f"/sales/quotes/{quote.pk}/"}]})
