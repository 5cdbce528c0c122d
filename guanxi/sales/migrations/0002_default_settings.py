"""Settings a new installation starts with, all editable afterwards under Sales settings:
a default pipeline with its stages, exchange rates to the base currency (CNY), and the
discount each role may give without approval."""

from django.db import migrations

from guanxi.sales.defaults import seed


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
