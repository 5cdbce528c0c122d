"""Settings a new installation starts with, all editable afterwards under Sales settings:
a default pipeline with its stages, exchange rates to the base currency (CNY), and the
discount each role may give without approval.

Seeded by migration 0002 and again after every ``migrate``/``flush`` when missing (the
``post_migrate`` signal), so a database emptied by ``flush`` still has a pipeline."""

from decimal import Decimal

STAGES = [
    # name, Chinese, probability, kind, forecast category
    ("Prospecting", "初步接触", 10, "open", "pipeline"),
    ("Qualification", "需求确认", 20, "open", "pipeline"),
    ("Needs analysis", "方案分析", 40, "open", "pipeline"),
    ("Proposal", "方案报价", 60, "open", "best_case"),
    ("Negotiation", "商务谈判", 80, "open", "commit"),
    ("Closed won", "赢单", 100, "won", "closed"),
    ("Closed lost", "丢单", 0, "lost", "omitted"),
]
RATES = {"CNY": "1", "USD": "7.20", "EUR": "7.80", "GBP": "9.10", "HKD": "0.92", "JPY": "0.048"}
DISCOUNT_LIMITS = {"admin": "100", "sales_manager": "25", "sales_rep": "10", "partner": "5"}


def seed(apps, schema_editor=None):
    Pipeline = apps.get_model("sales", "Pipeline")
    Stage = apps.get_model("sales", "Stage")
    ExchangeRate = apps.get_model("sales", "ExchangeRate")
    DiscountLimit = apps.get_model("sales", "DiscountLimit")
    if not Pipeline.objects.exists():
        pipeline = Pipeline.objects.create(name="Standard sales 标准销售流程", is_default=True)
        for position, (name, name_zh, probability, kind, category) in enumerate(STAGES):
            Stage.objects.create(pipeline=pipeline, name=name, name_zh=name_zh, position=position,
                                 probability=probability, kind=kind, forecast_category=category)
    for currency, rate in RATES.items():
        ExchangeRate.objects.get_or_create(currency=currency, defaults={"rate_to_base": Decimal(rate)})
    for role, percent in DISCOUNT_LIMITS.items():
        DiscountLimit.objects.get_or_create(role=role, defaults={"max_percent": Decimal(percent)})


def seed_after_migrate(sender, apps=None, **kwargs) -> None:
    """``post_migrate`` receiver: put the defaults back when a flush removed them."""
    if apps is None:  # ``flush`` sends the signal without the migration state
        from django.apps import apps
    try:
        apps.get_model("sales", "Pipeline")
        apps.get_model("sales", "DiscountLimit")
    except LookupError:  # migrated back before the sales tables existed
        return
    seed(apps)
