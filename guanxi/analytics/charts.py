"""Chart descriptions for the pages: plain data that ``static/js/analytics-charts.js`` draws
with Chart.js, always shown next to a table of the same numbers."""

from __future__ import annotations

import datetime
from decimal import Decimal

CHART_TYPES = ("bar", "line", "pie", "doughnut")


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None:
        return None
    if isinstance(value, float):
        return round(value, 4)
    return value


def chart(chart_id: str, chart_type: str, title: str, labels, datasets: list[tuple], *,
          second_axis: tuple[str, ...] = ()) -> dict | None:
    """``datasets`` is [(label, values)]; labels of ``second_axis`` datasets use a right-hand
    axis (e.g. a rate next to counts). ``None`` for a table-only view or no data."""
    if chart_type not in CHART_TYPES or not labels:
        return None
    return {
        "id": chart_id, "type": chart_type, "title": str(title),
        "labels": [str(_plain(label)) if label is not None else "—" for label in labels],
        "datasets": [{"label": str(label), "data": [_plain(value) for value in values],
                      **({"axis": "y2"} if label in second_axis else {})} for label, values in datasets],
    }
