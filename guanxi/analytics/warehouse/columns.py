"""Rows from the operational database turned into NumPy columns DuckDB reads directly.

DuckDB scans a dict of NumPy arrays without copying it row by row, which is what makes a
million customers load in seconds without pyarrow or pandas. The database drivers hand
back Python values of different shapes (SQLite: text for times, 0/1 for booleans, floats
for decimals; PostgreSQL: aware datetimes, ``Decimal``), so each warehouse type has one
conversion here. ``None`` stays a SQL NULL: nullable columns become object arrays, times
use NaT.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from django.conf import settings

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
NOT_A_TIME = np.datetime64("NaT", "us")


def _integers(values: Sequence) -> np.ndarray:
    if None in values:
        return np.array([None if value is None else int(value) for value in values], dtype=object)
    return np.array(values, dtype=np.int64)


def _floats(values: Sequence) -> np.ndarray:
    converted = [None if value is None else float(value) for value in values]
    if None in converted:
        return np.array(converted, dtype=object)
    return np.array(converted, dtype=np.float64)


def _booleans(values: Sequence) -> np.ndarray:
    return np.array([None if value is None else bool(value) for value in values], dtype=object)


def _texts(values: Sequence) -> np.ndarray:
    # Blank choice fields ("not given") are NULL in the warehouse, so reports group them once.
    return np.array([None if value == "" else value for value in values], dtype=object)


def _first_present(values: Sequence):
    return next((value for value in values if value is not None), None)


def _utc_times(values: Sequence) -> np.ndarray:
    sample = _first_present(values)
    if sample is None:
        return np.full(len(values), NOT_A_TIME)
    if isinstance(sample, str):  # SQLite: naive UTC text as Django wrote it
        return np.array(values, dtype="datetime64[us]")
    # PostgreSQL: aware datetimes (naive ones are UTC, as Django stores them). Seconds since
    # the epoch as floats are exact to the microsecond for any date before the year 2255
    # and much faster than datetime64(datetime).
    seconds = np.fromiter((np.nan if value is None else
                           (value if value.tzinfo else value.replace(tzinfo=datetime.UTC)).timestamp()
                           for value in values), dtype=np.float64, count=len(values))
    missing = np.isnan(seconds)
    micros = np.round(np.where(missing, 0, seconds) * 1_000_000).astype(np.int64)
    times = micros.astype("datetime64[us]")
    times[missing] = NOT_A_TIME
    return times


@lru_cache(maxsize=1)
def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_wall_clock(utc: np.ndarray) -> np.ndarray:
    """UTC times → local times in ``settings.TIME_ZONE`` (naive), DST included.

    Offsets change on whole hours in every zone that matters here, so each distinct hour is
    looked up once and the answer broadcast to all times within it.
    """
    present = ~np.isnat(utc)
    if not present.any():
        return utc
    hours = utc[present].astype("datetime64[h]")
    distinct, index = np.unique(hours, return_inverse=True)
    zone = _zone()
    offsets = np.array([
        int(datetime.datetime.fromtimestamp(int(hour.astype("datetime64[s]").astype(np.int64)), zone)
            .utcoffset().total_seconds())
        for hour in distinct], dtype=np.int64).astype("timedelta64[s]")
    local = utc.copy()
    local[present] = utc[present] + offsets[index].astype("timedelta64[us]")
    return local


def _times(values: Sequence) -> np.ndarray:
    return local_wall_clock(_utc_times(values))


def _dates(values: Sequence) -> np.ndarray:
    # DuckDB reads datetime64 in seconds or finer; a DATE column takes the midnight.
    sample = _first_present(values)
    if sample is None:
        return np.full(len(values), NOT_A_TIME)
    return np.array(values, dtype="datetime64[D]").astype("datetime64[us]")


CONVERTERS = {
    "BIGINT": _integers, "INTEGER": _integers, "DOUBLE": _floats, "BOOLEAN": _booleans,
    "VARCHAR": _texts, "TIMESTAMP": _times, "DATE": _dates,
}


def to_columns(rows: Sequence[Sequence], names: Sequence[str], types: Sequence[str]) -> dict[str, np.ndarray]:
    """Rows (tuples in ``names`` order) → ``{name: array}``."""
    if not rows:
        return {name: np.array([], dtype=object) for name in names}
    transposed = list(zip(*rows, strict=True))
    return {name: CONVERTERS[type_name](values) for name, type_name, values in zip(names, types, transposed,
                                                                                    strict=True)}
