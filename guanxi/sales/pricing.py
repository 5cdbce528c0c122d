"""Prices and totals of quotes: which price list applies, what a line costs, and how far
below list price a quote goes (which decides whether a discount needs approval).

Totals: ``subtotal`` is every line at list price; each line may be priced below list
(a lower unit price and/or a line discount); the quote discount then applies to the sum
of the lines; tax is added on what remains.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils import timezone

from guanxi.sales.models import DiscountLimit, PriceList, PriceListEntry, QuoteLineKind

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def price_list_for(currency: str, customer_tier: str = "") -> PriceList | None:
    """The active list in ``currency`` valid today: one for the customer's tier first,
    then one for every tier."""
    today = timezone.localdate()
    lists = (PriceList.objects.filter(currency=currency, is_active=True)
             .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
             .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today)))
    if customer_tier:
        tiered = lists.filter(customer_tier=customer_tier).order_by("id").first()
        if tiered is not None:
            return tiered
    return lists.filter(customer_tier="").order_by("id").first()


def list_price(price_list: PriceList, product_id: int) -> Decimal | None:
    return PriceListEntry.objects.filter(price_list=price_list, product_id=product_id).values_list(
        "unit_price", flat=True).first()


def line_total(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal:
    return money(Decimal(quantity) * Decimal(unit_price) * (HUNDRED - Decimal(discount_percent)) / HUNDRED)


@dataclass(frozen=True)
class QuoteTotals:
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    max_discount_percent: Decimal


def quote_totals(lines, quote_discount_percent: Decimal, tax_percent: Decimal) -> QuoteTotals:
    """``lines``: objects with kind, quantity, list_price, unit_price, discount_percent, line_total."""
    subtotal = Decimal("0")
    net = Decimal("0")
    largest = Decimal("0")
    header = Decimal(quote_discount_percent or 0)
    for line in lines:
        if line.kind == QuoteLineKind.COMPONENT:
            continue  # included in the bundle's price
        subtotal += Decimal(line.quantity) * Decimal(line.list_price)
        net += Decimal(line.line_total)
        if line.list_price and Decimal(line.list_price) > 0:
            charged = Decimal(line.unit_price) * (HUNDRED - Decimal(line.discount_percent)) / HUNDRED
            remaining = charged / Decimal(line.list_price) * (HUNDRED - header) / HUNDRED
            largest = max(largest, HUNDRED - remaining * HUNDRED)
    after_header = money(net * (HUNDRED - header) / HUNDRED)
    tax = money(after_header * Decimal(tax_percent or 0) / HUNDRED)
    subtotal = money(subtotal)
    if subtotal == 0 and header > 0:
        largest = max(largest, header)
    return QuoteTotals(subtotal=subtotal, discount_total=money(subtotal - after_header), tax_total=tax,
                       total=money(after_header + tax),
                       max_discount_percent=max(Decimal("0"), largest).quantize(CENT, rounding=ROUND_HALF_UP))


def discount_limit_of(role: str) -> Decimal:
    limit = DiscountLimit.objects.filter(role=role).values_list("max_percent", flat=True).first()
    return DiscountLimit.DEFAULT_PERCENT if limit is None else Decimal(limit)
