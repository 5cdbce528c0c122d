"""Orders made from accepted quotes, their tracking, and the commissions they earn."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound
from guanxi.core.events import record_changed, send_on_commit
from guanxi.core.models import AuditAction, User
from guanxi.sales import selectors
from guanxi.sales.models import (
    CommissionEntry, CommissionRule, Order, OrderLine, OrderStatus, OrderStatusChange, Quote, QuoteLineKind,
    QuoteStatus,
)
from guanxi.sales.pricing import HUNDRED, line_total, money
from guanxi.sales.services.common import check_version, next_number, raise_if, require, snapshot, touch

# Where an order may go next; cancelled and completed are final.
NEXT_STATUSES = {
    OrderStatus.CONFIRMED: {OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.PROCESSING: {OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.SHIPPED: {OrderStatus.DELIVERED},
    OrderStatus.DELIVERED: {OrderStatus.COMPLETED},
    OrderStatus.COMPLETED: set(),
    OrderStatus.CANCELLED: set(),
}
EDITABLE_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PROCESSING)


# ======================================================================================
# Orders
# ======================================================================================
def _totals(order: Order, tax_percent: Decimal) -> None:
    subtotal = sum((line.line_total for line in order.lines.all()), Decimal("0"))
    order.subtotal = money(subtotal)
    order.tax_total = money(subtotal * tax_percent / HUNDRED)
    order.total = money(order.subtotal + order.tax_total)


@transaction.atomic
def order_create_from_quote(*, actor: User, quote_id: int, notes: str = "") -> Order:
    """The order of an accepted quote: its lines at the prices accepted (the quote
    discount spread over the lines), the deal closed as won, commissions computed."""
    from guanxi.sales.services.opportunities import opportunity_mark_won

    require(actor, "order", "create", _("You may not create orders."))
    quote = selectors.access_quote_by_id(actor, quote_id, "view")
    quote = Quote.objects.select_for_update(of=("self",)).select_related("opportunity__pipeline").get(pk=quote.pk)
    if quote.status != QuoteStatus.ACCEPTED:
        raise Conflict(_("Quote %(number)s is %(status)s; orders are made from accepted quotes.")
                       % {"number": quote.display_number, "status": quote.get_status_display().lower()})
    existing = Order.objects.filter(quote=quote).first()
    if existing is not None:
        raise Conflict(_("Quote %(number)s already became order %(order)s.")
                       % {"number": quote.display_number, "order": existing.number})
    order = Order(number=next_number("SO"), quote=quote, opportunity=quote.opportunity, account=quote.account,
                  contact=quote.contact, currency=quote.currency, notes=(notes or "").strip(),
                  owner=quote.owner, team_id=quote.team_id, territory_id=quote.territory_id)
    order.save()
    header = quote.discount_percent
    for position, line in enumerate(quote.lines.exclude(kind=QuoteLineKind.COMPONENT).order_by("position", "id"),
                                    start=1):
        combined = HUNDRED - (HUNDRED - line.discount_percent) * (HUNDRED - header) / HUNDRED
        OrderLine.objects.create(order=order, position=position, product=line.product,
                                 description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                                 discount_percent=combined.quantize(Decimal("0.01")),
                                 line_total=line_total(line.quantity, line.unit_price, combined))
    _totals(order, quote.tax_percent)
    order.save()
    OrderStatusChange.objects.create(order=order, from_status="", to_status=order.status, changed_by=actor)
    opportunity_mark_won(actor=actor, opportunity=quote.opportunity, amount=order.subtotal, currency=order.currency)
    commissions_recalculate(order=order)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=order,
                 changes={"quote": [None, quote.display_number], "total": [None, order.total]})
    send_on_commit(record_changed, Order, instance=order, action="create", actor=actor)
    return order


def _tax_percent(order: Order) -> Decimal:
    return order.quote.tax_percent if order.quote_id else Decimal("0")


@transaction.atomic
def order_set_status(*, actor: User, order_id: int, status: str, note: str = "", carrier: str = "",
                     tracking_number: str = "", expected_version: int | None = None) -> Order:
    """Track an order: confirmed → processing → shipped (with carrier and tracking number) →
    delivered → completed, or cancelled before it ships. Commissions follow."""
    order = selectors.access_order_by_id(actor, order_id, "change")
    order = Order.objects.select_for_update().get(pk=order.pk)
    check_version(order, expected_version)
    if status not in OrderStatus.values:
        raise ValidationError({"status": [_("Unknown order status.")]})
    if status == order.status:
        return order
    if status not in NEXT_STATUSES[order.status]:
        raise Conflict(_("An order that is %(current)s cannot become %(next)s.")
                       % {"current": order.get_status_display().lower(),
                          "next": OrderStatus(status).label.lower()})
    errors: dict[str, list[str]] = {}
    if status == OrderStatus.SHIPPED:
        order.carrier = (carrier or order.carrier).strip()[:80]
        order.tracking_number = (tracking_number or order.tracking_number).strip()[:80]
        if not order.tracking_number:
            errors["tracking_number"] = [_("Give the tracking number of the shipment.")]
    if status == OrderStatus.CANCELLED and not (note or "").strip():
        errors["note"] = [_("Say why the order is cancelled.")]
    raise_if(errors)
    before = order.status
    OrderStatusChange.objects.create(order=order, from_status=before, to_status=status,
                                     note=(note or "").strip()[:300], changed_by=actor)
    order.status = status
    touch(order)
    order.save()
    commissions_recalculate(order=order)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=order,
                 changes={"status": [before, status], "tracking_number": [None, order.tracking_number or None]})
    send_on_commit(record_changed, Order, instance=order, action="update", actor=actor)
    return order


ORDER_FIELDS = ("notes", "carrier", "tracking_number")


@transaction.atomic
def order_update(*, actor: User, order_id: int, data: dict, expected_version: int | None = None) -> Order:
    """Notes and shipment details; lines and status have their own services."""
    order = selectors.access_order_by_id(actor, order_id, "change")
    order = Order.objects.select_for_update().get(pk=order.pk)
    check_version(order, expected_version)
    before = snapshot(order, ORDER_FIELDS)
    errors: dict[str, list[str]] = {}
    for field in ORDER_FIELDS:
        if field in data and data[field] is not None:
            value = data[field].strip()
            if field != "notes" and len(value) > 80:
                errors[field] = [_("Keep it under 80 characters.")]
            setattr(order, field, value)
    if order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) and not order.tracking_number:
        errors["tracking_number"] = [_("A shipped order keeps its tracking number.")]
    raise_if(errors)
    touch(order)
    order.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=order, changes=diff(before, snapshot(order, ORDER_FIELDS)))
    return order


@transaction.atomic
def order_line_update(*, actor: User, order_id: int, line_id: int, quantity: Decimal | None = None,
                      discount_percent: Decimal | None = None, expected_version: int | None = None) -> OrderLine:
    """Correct a line before the order ships; totals and commissions follow."""
    order = selectors.access_order_by_id(actor, order_id, "change")
    order = Order.objects.select_for_update(of=("self",)).select_related("quote").get(pk=order.pk)
    check_version(order, expected_version)
    if order.status not in EDITABLE_STATUSES:
        raise Conflict(_("Order %(number)s is %(status)s; its lines can no longer change.")
                       % {"number": order.number, "status": order.get_status_display().lower()})
    line = order.lines.filter(pk=line_id).first()
    if line is None:
        raise NotFound(f"order line {line_id}")
    errors: dict[str, list[str]] = {}
    if quantity is not None and Decimal(quantity) <= 0:
        errors["quantity"] = [_("Enter a quantity above zero.")]
    if discount_percent is not None and not Decimal("0") <= Decimal(discount_percent) <= HUNDRED:
        errors["discount_percent"] = [_("Give a discount from 0 to 100 percent.")]
    raise_if(errors)
    before = snapshot(line, ("quantity", "discount_percent", "line_total"))
    if quantity is not None:
        line.quantity = Decimal(quantity)
    if discount_percent is not None:
        line.discount_percent = Decimal(discount_percent)
    line.line_total = line_total(line.quantity, line.unit_price, line.discount_percent)
    line.save()
    _totals(order, _tax_percent(order))
    touch(order)
    order.save()
    commissions_recalculate(order=order)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=order,
                 changes={f"line {line.pk}.{key}": value for key, value in
                          diff(before, snapshot(line, ("quantity", "discount_percent", "line_total"))).items()})
    return line


# ======================================================================================
# Commissions
# ======================================================================================
def _rule_for(rules: list[CommissionRule], *, user_id: int, product_id: int, family: str,
              tier: str) -> CommissionRule | None:
    matching = [rule for rule in rules
                if (rule.user_id is None or rule.user_id == user_id)
                and (rule.product_id is None or rule.product_id == product_id)
                and (not rule.product_family or rule.product_family == family)
                and (not rule.customer_tier or rule.customer_tier == tier)]
    if not matching:
        return None
    return max(matching, key=lambda rule: (rule.specificity, rule.rate_percent))


def commissions_recalculate(*, order: Order) -> int:
    """Rebuild the order's commission entries: one per line for the order's owner at the
    rate of the most specific rule; none for a cancelled order or an order without owner."""
    CommissionEntry.objects.filter(order=order).delete()
    if order.status == OrderStatus.CANCELLED or order.owner_id is None:
        return 0
    rules = list(CommissionRule.objects.filter(is_active=True))
    tier = order.account.value_tier if order.account_id else ""
    period = timezone.localtime(order.ordered_at).strftime("%Y-%m")
    entries = []
    for line in order.lines.select_related("product"):
        rule = _rule_for(rules, user_id=order.owner_id, product_id=line.product_id, family=line.product.family,
                         tier=tier)
        if rule is None:
            continue
        entries.append(CommissionEntry(user_id=order.owner_id, order=order, order_line=line, rule=rule,
                                       period=period, base_amount=line.line_total, rate_percent=rule.rate_percent,
                                       amount=money(line.line_total * rule.rate_percent / HUNDRED),
                                       currency=order.currency))
    CommissionEntry.objects.bulk_create(entries)
    return len(entries)


RULE_FIELDS = ("name", "user_id", "product_id", "product_family", "customer_tier", "rate_percent", "is_active")


def _rule_apply(rule: CommissionRule, data: dict) -> None:
    from guanxi.sales.models import Product
    from guanxi.sales.services.common import full_clean_into

    errors: dict[str, list[str]] = {}
    for field in RULE_FIELDS:
        if field in data:
            value = data[field]
            setattr(rule, field, value.strip() if isinstance(value, str) else value)
    if rule.user_id and not User.objects.filter(pk=rule.user_id).exists():
        errors["user_id"] = [_("Unknown user.")]
    if rule.product_id and not Product.objects.filter(pk=rule.product_id).exists():
        errors["product_id"] = [_("Unknown product.")]
    if rule.rate_percent is None:
        errors["rate_percent"] = [_("Give the commission rate in percent.")]
    full_clean_into(rule, errors, exclude=["user", "product"])
    raise_if(errors)


def _recalculate_open_orders() -> None:
    from guanxi.jobs.services import job_enqueue

    transaction.on_commit(lambda: job_enqueue(actor=None, kind="sales.recalculate_commissions",
                                              title=_("Recalculate commissions")))


@transaction.atomic
def commission_rule_create(*, actor: User, data: dict) -> CommissionRule:
    require(actor, "commission", "create", _("You may not change commission rules."))
    rule = CommissionRule()
    _rule_apply(rule, data)
    rule.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=rule, changes=diff({}, snapshot(rule, RULE_FIELDS)))
    _recalculate_open_orders()
    return rule


@transaction.atomic
def commission_rule_update(*, actor: User, rule_id: int, data: dict) -> CommissionRule:
    require(actor, "commission", "change", _("You may not change commission rules."))
    rule = CommissionRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(f"commission rule {rule_id}")
    before = snapshot(rule, RULE_FIELDS)
    _rule_apply(rule, data)
    rule.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=rule, changes=diff(before, snapshot(rule, RULE_FIELDS)))
    _recalculate_open_orders()
    return rule


@transaction.atomic
def commission_rule_delete(*, actor: User, rule_id: int) -> None:
    require(actor, "commission", "delete", _("You may not change commission rules."))
    rule = CommissionRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(f"commission rule {rule_id}")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=rule, changes={"name": [rule.name, None]})
    rule.delete()
    _recalculate_open_orders()


def commissions_recalculate_all(*, since_period: str | None = None, progress=None) -> int:
    """Rebuild entries of every order (from ``since_period`` on, YYYY-MM) after the rules
    changed; statements of closed months keep what they said unless asked."""
    orders = Order.objects.select_related("account").order_by("id")
    if since_period:
        year, month = (int(part) for part in since_period.split("-"))
        orders = orders.filter(ordered_at__date__gte=datetime.date(year, month, 1))
    if progress is not None:
        progress.set_total(orders.count())
    count = 0
    for order in orders.iterator(chunk_size=200):
        with transaction.atomic():
            count += commissions_recalculate(order=order)
        if progress is not None:
            progress.advance(1)
    return count
