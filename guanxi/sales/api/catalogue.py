"""REST routes of the catalogue and its settings: products, price lists, competitors,
discount limits and exchange rates."""

import datetime
from decimal import Decimal

from ninja import Field, ModelSchema, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.core.api_conventions import READ_ERRORS, WRITE_ERRORS, ApiListPagination, InputSchema, model_field
from guanxi.core.models import Role, ValueTier
from guanxi.sales import forecasting, selectors, services
from guanxi.sales.api.refs import ProductRef
from guanxi.sales.models import (
    Competitor, Currency, DiscountLimit, ExchangeRate, PriceList, Product, ProductKind,
)

router = Router(tags=["catalogue"])


# ======================================================================================
# Products
# ======================================================================================
class OptionOut(Schema):
    option: ProductRef
    group: str
    is_required: bool
    quantity_per_unit: Decimal


class ComponentOut(Schema):
    component: ProductRef
    quantity: Decimal


class PriceOut(Schema):
    price_list_id: int
    price_list: str
    currency: str
    unit_price: Decimal


class ProductOut(ModelSchema):
    options: list[OptionOut] = Field(description="Add-ons the configurator offers.")
    components: list[ComponentOut] = Field(description="Products a bundle includes.")
    prices: list[PriceOut] = Field(description="Price in each list.")

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "name_zh", "description", "kind", "family", "unit", "is_active", "created_at"]

    @staticmethod
    def resolve_options(product: Product) -> list:
        return list(product.options.select_related("option"))

    @staticmethod
    def resolve_components(product: Product) -> list:
        return list(product.components.select_related("component"))

    @staticmethod
    def resolve_prices(product: Product) -> list:
        return [{"price_list_id": entry.price_list_id, "price_list": entry.price_list.name,
                 "currency": entry.price_list.currency, "unit_price": entry.unit_price}
                for entry in product.prices.select_related("price_list").order_by("price_list__currency", "id")]


class OptionIn(InputSchema):
    option_id: int = Field(description="Add-on product.")
    group: str = Field("", max_length=80, description="Options of one group exclude each other.")
    is_required: bool = False
    quantity_per_unit: Decimal = Field(Decimal("1"), gt=0)


class ComponentIn(InputSchema):
    component_id: int
    quantity: Decimal = Field(Decimal("1"), gt=0)


class PriceIn(InputSchema):
    price_list_id: int
    unit_price: Decimal = Field(ge=0)


class ProductIn(InputSchema):
    sku: str | None = model_field(Product, "sku")
    name: str | None = model_field(Product, "name")
    name_zh: str | None = model_field(Product, "name_zh")
    description: str | None = model_field(Product, "description")
    kind: ProductKind | None = None
    family: str | None = model_field(Product, "family")
    unit: str | None = model_field(Product, "unit")
    is_active: bool | None = None
    options: list[OptionIn] | None = Field(None, description="Replaces the configurator options.")
    components: list[ComponentIn] | None = Field(None, description="Replaces a bundle's components.")
    prices: list[PriceIn] | None = Field(None, description="Sets the price in these lists.")


@router.get("/products", response={200: list[ProductOut], **READ_ERRORS}, summary="List products")
@paginate(ApiListPagination)
def product_list(request, q: str = "", active: bool = False, family: str = ""):
    return selectors.products(request.auth, query=q.strip(), active_only=active, family=family)


@router.post("/products", response={201: ProductOut, **WRITE_ERRORS}, summary="Add a product")
def product_create(request, payload: ProductIn):
    return Status(201, services.product_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/products/{product_id}", response={200: ProductOut, **READ_ERRORS}, summary="Read a product")
def product_detail(request, product_id: int):
    return selectors.access_product_by_id(request.auth, product_id)


@router.patch("/products/{product_id}", response={200: ProductOut, **WRITE_ERRORS}, summary="Change a product")
def product_update(request, product_id: int, payload: ProductIn):
    return services.product_update(actor=request.auth, product_id=product_id, data=payload.dict(exclude_unset=True))


@router.delete("/products/{product_id}", response={204: None, **WRITE_ERRORS}, summary="Remove a product",
               description="A product on quotes answers 409: deactivate it instead.")
def product_delete(request, product_id: int):
    services.product_delete(actor=request.auth, product_id=product_id)
    return Status(204, None)


# ======================================================================================
# Price lists
# ======================================================================================
class EntryOut(Schema):
    product: ProductRef
    unit_price: Decimal


class PriceListOut(ModelSchema):
    class Meta:
        model = PriceList
        fields = ["id", "name", "currency", "customer_tier", "is_active", "valid_from", "valid_until"]


class PriceListDetailOut(PriceListOut):
    entries: list[EntryOut]

    @staticmethod
    def resolve_entries(price_list: PriceList) -> list:
        return list(price_list.entries.select_related("product").order_by("product__sku"))


class EntryIn(InputSchema):
    product_id: int
    unit_price: Decimal = Field(ge=0)


class PriceListIn(InputSchema):
    name: str | None = model_field(PriceList, "name")
    currency: Currency | None = None
    customer_tier: ValueTier | None = Field(None, description="Only for this tier; empty for everybody.")
    is_active: bool | None = None
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None
    entries: list[EntryIn] | None = Field(None, description="Prices to set; other products keep theirs.")


@router.get("/price-lists", response={200: list[PriceListOut], **READ_ERRORS}, summary="List price lists")
@paginate(ApiListPagination)
def price_list_list(request, currency: Currency | None = None):
    return selectors.price_lists(request.auth, currency=currency or "")


@router.post("/price-lists", response={201: PriceListDetailOut, **WRITE_ERRORS}, summary="Add a price list")
def price_list_create(request, payload: PriceListIn):
    data = payload.dict(exclude_unset=True)
    if data.get("customer_tier") is None:
        data.pop("customer_tier", None)
    return Status(201, services.price_list_create(actor=request.auth, data=data))


@router.get("/price-lists/{price_list_id}", response={200: PriceListDetailOut, **READ_ERRORS},
            summary="Read a price list with its prices")
def price_list_detail(request, price_list_id: int):
    return selectors.access_price_list_by_id(request.auth, price_list_id)


@router.patch("/price-lists/{price_list_id}", response={200: PriceListDetailOut, **WRITE_ERRORS},
              summary="Change a price list")
def price_list_update(request, price_list_id: int, payload: PriceListIn):
    return services.price_list_update(actor=request.auth, price_list_id=price_list_id,
                                      data=payload.dict(exclude_unset=True))


@router.delete("/price-lists/{price_list_id}", response={204: None, **WRITE_ERRORS}, summary="Remove a price list")
def price_list_delete(request, price_list_id: int):
    services.price_list_delete(actor=request.auth, price_list_id=price_list_id)
    return Status(204, None)


# ======================================================================================
# Competitors
# ======================================================================================
class CompetitorOut(ModelSchema):
    class Meta:
        model = Competitor
        fields = ["id", "name", "website", "strengths", "weaknesses"]


class CompetitorIn(InputSchema):
    name: str | None = model_field(Competitor, "name")
    website: str | None = model_field(Competitor, "website")
    strengths: str | None = model_field(Competitor, "strengths")
    weaknesses: str | None = model_field(Competitor, "weaknesses")


class WinLossOut(Schema):
    competitor_id: int
    competitor: str
    deals: int = Field(description="Closed deals the competitor was in.")
    won: int = Field(description="Of those, won by us.")
    lost: int
    lost_to_them: int = Field(description="Deals recorded as lost to this competitor.")
    win_rate: float | None


@router.get("/competitors", response={200: list[CompetitorOut], **READ_ERRORS}, tags=["competitors"],
            summary="List competitors")
@paginate(ApiListPagination)
def competitor_list(request):
    return selectors.competitors(request.auth)


@router.get("/competitors/win-loss", response={200: list[WinLossOut], **READ_ERRORS}, tags=["competitors"],
            summary="Win/loss per competitor", description="Over the closed deals you may see.")
def competitor_win_loss(request):
    return forecasting.competitor_win_loss(request.auth)


@router.post("/competitors", response={201: CompetitorOut, **WRITE_ERRORS}, tags=["competitors"],
             summary="Add a competitor")
def competitor_create(request, payload: CompetitorIn):
    return Status(201, services.competitor_create(actor=request.auth, data=payload.dict(exclude_unset=True)))


@router.get("/competitors/{competitor_id}", response={200: CompetitorOut, **READ_ERRORS}, tags=["competitors"],
            summary="Read a competitor")
def competitor_detail(request, competitor_id: int):
    return selectors.access_competitor_by_id(request.auth, competitor_id)


@router.patch("/competitors/{competitor_id}", response={200: CompetitorOut, **WRITE_ERRORS}, tags=["competitors"],
              summary="Change a competitor")
def competitor_update(request, competitor_id: int, payload: CompetitorIn):
    return services.competitor_update(actor=request.auth, competitor_id=competitor_id,
                                      data=payload.dict(exclude_unset=True))


@router.delete("/competitors/{competitor_id}", response={204: None, **WRITE_ERRORS}, tags=["competitors"],
               summary="Remove a competitor")
def competitor_delete(request, competitor_id: int):
    services.competitor_delete(actor=request.auth, competitor_id=competitor_id)
    return Status(204, None)


# ======================================================================================
# Discount limits and exchange rates
# ======================================================================================
class DiscountLimitOut(ModelSchema):
    class Meta:
        model = DiscountLimit
        fields = ["role", "max_percent"]


class DiscountLimitIn(InputSchema):
    max_percent: Decimal = Field(ge=0, le=100, description="Largest discount given without approval, in percent.")


class ExchangeRateOut(ModelSchema):
    class Meta:
        model = ExchangeRate
        fields = ["currency", "rate_to_base", "updated_at"]


class ExchangeRateIn(InputSchema):
    rate_to_base: Decimal = Field(gt=0, description="Value of one unit in the base currency.")


@router.get("/discount-limits", response={200: list[DiscountLimitOut], **READ_ERRORS}, tags=["sales settings"],
            summary="Discount limits per role")
def discount_limit_list(request):
    return list(selectors.discount_limits(request.auth))


@router.put("/discount-limits/{role}", response={200: DiscountLimitOut, **WRITE_ERRORS}, tags=["sales settings"],
            summary="Set a role's discount limit")
def discount_limit_set(request, role: Role, payload: DiscountLimitIn):
    return services.discount_limit_set(actor=request.auth, role=role, max_percent=payload.max_percent)


@router.get("/exchange-rates", response={200: list[ExchangeRateOut], **READ_ERRORS}, tags=["sales settings"],
            summary="Exchange rates to the base currency")
def exchange_rate_list(request):
    return list(selectors.exchange_rates(request.auth))


@router.put("/exchange-rates/{currency}", response={200: ExchangeRateOut, **WRITE_ERRORS}, tags=["sales settings"],
            summary="Set an exchange rate", description="Deal amounts in the currency are re-converted by a job.")
def exchange_rate_set(request, currency: Currency, payload: ExchangeRateIn):
    return services.exchange_rate_set(actor=request.auth, currency=currency, rate_to_base=payload.rate_to_base)
