"""Fixed-window rate limits on login and the API, counted in the default cache."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

UNITS = {"s": 1, "m": 60, "h": 3600}


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"rate limited; retry after {retry_after}s")
        self.retry_after = retry_after


def parse_rate(rate: str) -> tuple[int, int]:
    count, unit = rate.split("/")
    return int(count), UNITS[unit]


def check_rate(key: str, kind: str, rate: str | None = None) -> None:
    """Count one hit for ``key``; raise RateLimited past the configured rate for ``kind``
    (or past ``rate``, e.g. ``"5/m"``, for kinds with their own limit such as public forms)."""
    if rate is None:
        rate = settings.GUANXI_API_RATE_LIMIT if kind == "api" else settings.GUANXI_LOGIN_RATE_LIMIT
    limit, window = parse_rate(rate)
    now = int(time.time())
    bucket = f"rl:{kind}:{key}:{now // window}"
    added = cache.add(bucket, 1, timeout=window + 1)
    hits = 1 if added else cache.incr(bucket)
    if hits > limit:
        raise RateLimited(retry_after=window - now % window)
