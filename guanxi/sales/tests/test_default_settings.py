"""A new or emptied database starts with a default pipeline, exchange rates and discount limits."""

import pytest
from django.core.management import call_command

from guanxi.sales.models import DiscountLimit, ExchangeRate, Pipeline


def _defaults():
    pipeline = Pipeline.objects.get(is_default=True)
    return (list(pipeline.stages.order_by("position").values_list("name", "probability")),
            ExchangeRate.objects.get(currency="USD").rate_to_base,
            DiscountLimit.objects.get(role="sales_rep").max_percent)


@pytest.mark.django_db
def test_a_migrated_database_has_the_default_sales_settings():
    stages, usd, rep_limit = _defaults()
    assert stages[0] == ("Prospecting", 10) and stages[-1] == ("Closed lost", 0) and len(stages) == 7
    assert str(usd) == "7.200000" or float(usd) == 7.2
    assert float(rep_limit) == 10


@pytest.mark.django_db(transaction=True)
def test_a_flushed_database_gets_them_back_once():
    call_command("flush", interactive=False, verbosity=0)
    assert len(_defaults()[0]) == 7
    call_command("flush", interactive=False, verbosity=0)
    assert Pipeline.objects.count() == 1 and ExchangeRate.objects.filter(currency="USD").count() == 1
