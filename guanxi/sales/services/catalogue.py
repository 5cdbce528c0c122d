"""The sales catalogue and its settings: products with configurator options and bundles,
price lists per currency and customer tier, discount limits, exchange rates, competitors."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound
from guanxi.core.models import AuditAction, Role, User
from guanxi.sales.models import (
    BundleComponent, Competitor, DiscountLimit, ExchangeRate, PriceList, PriceListEntry, Product, ProductKind,
    ProductOption, QuoteLine,
)
from guanxi.sales.services.common import full_clean_into, raise_if, require, snapshot

PRODUCT_FIELDS = ("sku", "name", "name_zh", "description", "kind", "family", "unit", "is_active")
PRICE_LIST_FIELDS = ("name", "currency", "customer_tier", "is_active", "valid_from", "valid_until")
COMPETITOR_FIELDS = ("name", "website", "strengths", "weaknesses")


def _apply(instance, fields, data: dict) -> None:
    for field in fields:
        if field in data and data[field] is not None:
            value = data[field]
            setattr(instance, field, value.strip() if isinstance(value, str) else value)


# ======================================================================================
# Products
# ======================================================================================
def _options_and_components(product: Product, data: dict, errors: dict) -> tuple[list | None, list | None]:
    options = data.get("options")
    components = data.get("components")
    wanted = [item.get("option_id") for item in options or []] + [item.get("component_id")
                                                                     for item in components or []]
    known = set(Product.objects.filter(pk__in=[pk for pk in wanted if pk]).values_list("id", flat=True))
    for index, item in enumerate(options or []):
        if item.get("option_id") not in known or item.get("option_id") == product.pk:
            errors.setdefault(f"options.{index}.option_id", []).append(_("Choose another existing product."))
    for index, item in enumerate(components or []):
        if item.get("component_id") not in known or item.get("component_id") == product.pk:
            errors.setdefault(f"components.{index}.component_id", []).append(_("Choose another existing product."))
    if components and product.kind != ProductKind.BUNDLE:
        errors.setdefault("components", []).append(_("Only a bundle has components."))
    return options, components


def _save_options_and_components(product: Product, options, components) -> None:
    if options is not None:
        ProductOption.objects.filter(product=product).delete()
        ProductOption.objects.bulk_create([ProductOption(
            product=product, option_id=item["option_id"], group=(item.get("group") or "").strip()[:80],
            is_required=bool(item.get("is_required")),
            quantity_per_unit=Decimal(str(item.get("quantity_per_unit") or 1))) for item in options])
    if components is not None:
        BundleComponent.objects.filter(bundle=product).delete()
        BundleComponent.objects.bulk_create([BundleComponent(
            bundle=product, component_id=item["component_id"], quantity=Decimal(str(item.get("quantity") or 1)))
            for item in components])


def _save_prices(product: Product, prices: list[dict] | None, errors: dict) -> list | None:
    if prices is None:
        return None
    lists = {price_list.pk: price_list for price_list in PriceList.objects.filter(
        pk__in=[item.get("price_list_id") for item in prices])}
    for index, item in enumerate(prices):
        if item.get("price_list_id") not in lists:
            errors.setdefault(f"prices.{index}.price_list_id", []).append(_("Unknown price list."))
        if Decimal(str(item.get("unit_price", -1))) < 0:
            errors.setdefault(f"prices.{index}.unit_price", []).append(_("A price cannot be negative."))
    return prices


@transaction.atomic
def product_create(*, actor: User, data: dict) -> Product:
    require(actor, "product", "create", _("You may not add products."))
    product = Product()
    _apply(product, PRODUCT_FIELDS, data)
    errors: dict[str, list[str]] = {}
    full_clean_into(product, errors)
    if product.sku and Product.objects.filter(sku=product.sku).exists():
        errors.setdefault("sku", []).append(_("A product with this SKU already exists."))
    options, components = _options_and_components(product, data, errors)
    prices = _save_prices(product, data.get("prices"), errors)
    raise_if(errors)
    product.save()
    _save_options_and_components(product, options, components)
    for item in prices or []:
        PriceListEntry.objects.update_or_create(price_list_id=item["price_list_id"], product=product,
                                                defaults={"unit_price": Decimal(str(item["unit_price"]))})
    audit_record(actor=actor, action=AuditAction.CREATE, obj=product,
                 changes=diff({}, snapshot(product, PRODUCT_FIELDS)))
    return product


@transaction.atomic
def product_update(*, actor: User, product_id: int, data: dict) -> Product:
    require(actor, "product", "change", _("You may not change products."))
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound(f"product {product_id}")
    before = snapshot(product, PRODUCT_FIELDS)
    _apply(product, PRODUCT_FIELDS, data)
    errors: dict[str, list[str]] = {}
    full_clean_into(product, errors)
    if Product.objects.filter(sku=product.sku).exclude(pk=product.pk).exists():
        errors.setdefault("sku", []).append(_("A product with this SKU already exists."))
    options, components = _options_and_components(product, data, errors)
    prices = _save_prices(product, data.get("prices"), errors)
    raise_if(errors)
    product.save()
    _save_options_and_components(product, options, components)
    for item in prices or []:
        PriceListEntry.objects.update_or_create(price_list_id=item["price_list_id"], product=product,
                                                defaults={"unit_price": Decimal(str(item["unit_price"]))})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=product,
                 changes=diff(before, snapshot(product, PRODUCT_FIELDS)))
    return product


@transaction.atomic
def product_delete(*, actor: User, product_id: int) -> None:
    """Remove a product never quoted; a product on quotes or orders is deactivated instead."""
    require(actor, "product", "delete", _("You may not remove products."))
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise NotFound(f"product {product_id}")
    if QuoteLine.objects.filter(product=product).exists():
        raise Conflict(_("This product is on quotes; deactivate it instead of deleting it."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=product, changes={"sku": [product.sku, None]})
    try:
        with transaction.atomic():
            product.delete()
    except IntegrityError as error:
        raise Conflict(_("Other records still use this product; deactivate it instead.")) from error


# ======================================================================================
# Price lists
# ======================================================================================
def _price_list_checks(price_list: PriceList, errors: dict) -> None:
    full_clean_into(price_list, errors)
    if price_list.valid_from and price_list.valid_until and price_list.valid_until < price_list.valid_from:
        errors.setdefault("valid_until", []).append(_("The list cannot end before it starts."))
    if PriceList.objects.filter(name=price_list.name).exclude(pk=price_list.pk).exists():
        errors.setdefault("name", []).append(_("A price list with this name already exists."))


def _entries(data: dict, errors: dict) -> list[dict] | None:
    entries = data.get("entries")
    if entries is None:
        return None
    known = set(Product.objects.filter(pk__in=[entry.get("product_id") for entry in entries])
                .values_list("id", flat=True))
    for index, entry in enumerate(entries):
        if entry.get("product_id") not in known:
            errors.setdefault(f"entries.{index}.product_id", []).append(_("Unknown product."))
        if Decimal(str(entry.get("unit_price", -1))) < 0:
            errors.setdefault(f"entries.{index}.unit_price", []).append(_("A price cannot be negative."))
    return entries


@transaction.atomic
def price_list_create(*, actor: User, data: dict) -> PriceList:
    require(actor, "price_list", "create", _("You may not add price lists."))
    price_list = PriceList()
    _apply(price_list, PRICE_LIST_FIELDS, data)
    errors: dict[str, list[str]] = {}
    _price_list_checks(price_list, errors)
    entries = _entries(data, errors)
    raise_if(errors)
    price_list.save()
    for entry in entries or []:
        PriceListEntry.objects.update_or_create(price_list=price_list, product_id=entry["product_id"],
                                                defaults={"unit_price": Decimal(str(entry["unit_price"]))})
    audit_record(actor=actor, action=AuditAction.CREATE, obj=price_list,
                 changes=diff({}, snapshot(price_list, PRICE_LIST_FIELDS)))
    return price_list


@transaction.atomic
def price_list_update(*, actor: User, price_list_id: int, data: dict) -> PriceList:
    """Change a list; ``entries`` set prices of the products named (others stay). The
    currency cannot change once quotes use the list: their lines are in that currency."""
    require(actor, "price_list", "change", _("You may not change price lists."))
    price_list = PriceList.objects.select_for_update().filter(pk=price_list_id).first()
    if price_list is None:
        raise NotFound(f"price list {price_list_id}")
    before = snapshot(price_list, PRICE_LIST_FIELDS)
    errors: dict[str, list[str]] = {}
    if data.get("currency") and data["currency"] != price_list.currency and price_list.quotes.exists():
        errors["currency"] = [_("Quotes use this list; create a new list for another currency.")]
    _apply(price_list, PRICE_LIST_FIELDS, data)
    _price_list_checks(price_list, errors)
    entries = _entries(data, errors)
    raise_if(errors)
    price_list.save()
    for entry in entries or []:
        PriceListEntry.objects.update_or_create(price_list=price_list, product_id=entry["product_id"],
                                                defaults={"unit_price": Decimal(str(entry["unit_price"]))})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=price_list,
                 changes=diff(before, snapshot(price_list, PRICE_LIST_FIELDS)))
    return price_list


@transaction.atomic
def price_list_delete(*, actor: User, price_list_id: int) -> None:
    require(actor, "price_list", "delete", _("You may not remove price lists."))
    price_list = PriceList.objects.filter(pk=price_list_id).first()
    if price_list is None:
        raise NotFound(f"price list {price_list_id}")
    if price_list.quotes.exists():
        raise Conflict(_("Quotes use this price list; deactivate it instead of deleting it."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=price_list, changes={"name": [price_list.name, None]})
    price_list.delete()


# ======================================================================================
# Discount limits and exchange rates (sales settings)
# ======================================================================================
@transaction.atomic
def discount_limit_set(*, actor: User, role: str, max_percent: Decimal) -> DiscountLimit:
    require(actor, "sales_setup", "change", _("You may not change sales settings."))
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [_("Unknown role “%(role)s”.") % {"role": role}]
    if max_percent is None or not Decimal("0") <= Decimal(str(max_percent)) <= Decimal("100"):
        errors["max_percent"] = [_("Give a percentage from 0 to 100.")]
    raise_if(errors)
    limit = DiscountLimit.objects.filter(role=role).first()
    before = limit.max_percent if limit else None
    limit, _created = DiscountLimit.objects.update_or_create(role=role, defaults={"max_percent": max_percent})
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=limit, changes={"max_percent": [before, max_percent]})
    return limit


@transaction.atomic
def exchange_rate_set(*, actor: User, currency: str, rate_to_base: Decimal) -> ExchangeRate:
    """Set a rate; deals in that currency are re-converted by a background job."""
    from guanxi.jobs.services import job_enqueue

    require(actor, "sales_setup", "change", _("You may not change sales settings."))
    rate = ExchangeRate.objects.filter(currency=currency).first() or ExchangeRate(currency=currency)
    before = rate.rate_to_base
    rate.rate_to_base, rate.updated_at = rate_to_base, timezone.now()
    errors: dict[str, list[str]] = {}
    full_clean_into(rate, errors)
    raise_if(errors)
    rate.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=rate, changes={"rate_to_base": [before, rate_to_base]})
    transaction.on_commit(lambda: job_enqueue(actor=None, kind="sales.refresh_base_amounts",
                                              params={"currency": currency},
                                              title=_("Re-convert deal amounts in %(currency)s")
                                              % {"currency": currency}))
    return rate


# ======================================================================================
# Competitors
# ======================================================================================
@transaction.atomic
def competitor_create(*, actor: User, data: dict) -> Competitor:
    require(actor, "competitor", "create", _("You may not add competitors."))
    competitor = Competitor()
    _apply(competitor, COMPETITOR_FIELDS, data)
    errors: dict[str, list[str]] = {}
    full_clean_into(competitor, errors)
    if Competitor.objects.filter(name__iexact=competitor.name).exists():
        errors.setdefault("name", []).append(_("This competitor is already listed."))
    raise_if(errors)
    competitor.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=competitor,
                 changes=diff({}, snapshot(competitor, COMPETITOR_FIELDS)))
    return competitor


@transaction.atomic
def competitor_update(*, actor: User, competitor_id: int, data: dict) -> Competitor:
    require(actor, "competitor", "change", _("You may not change competitors."))
    competitor = Competitor.objects.select_for_update().filter(pk=competitor_id).first()
    if competitor is None:
        raise NotFound(f"competitor {competitor_id}")
    before = snapshot(competitor, COMPETITOR_FIELDS)
    _apply(competitor, COMPETITOR_FIELDS, data)
    errors: dict[str, list[str]] = {}
    full_clean_into(competitor, errors)
    if Competitor.objects.filter(name__iexact=competitor.name).exclude(pk=competitor.pk).exists():
        errors.setdefault("name", []).append(_("This competitor is already listed."))
    raise_if(errors)
    competitor.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=competitor,
                 changes=diff(before, snapshot(competitor, COMPETITOR_FIELDS)))
    return competitor


@transaction.atomic
def competitor_delete(*, actor: User, competitor_id: int) -> None:
    require(actor, "competitor", "delete", _("You may not remove competitors."))
    competitor = Competitor.objects.filter(pk=competitor_id).first()
    if competitor is None:
        raise NotFound(f"competitor {competitor_id}")
    if competitor.opportunities.exists() or competitor.deals_won_against_us.exists():
        raise Conflict(_("Deals name this competitor; their win/loss history needs it."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=competitor, changes={"name": [competitor.name, None]})
    competitor.delete()
