"""Marketing settings, each read from Django settings first and the environment second, so
that a deployment configures them either way without the shared settings module knowing
about marketing.

==================================== =========================================================
``GUANXI_PUBLIC_URL``                Base of links in messages (tracking, unsubscribe, forms).
``GUANXI_MARKETING_FROM_EMAIL``      Sender of campaign email (default ``DEFAULT_FROM_EMAIL``).
``GUANXI_MARKETING_FROM_NAME``       Sender's display name.
``GUANXI_MARKETING_SEND_RATE``       Messages per second a bulk send hands to SMTP; 0: no limit.
``GUANXI_MARKETING_SMTP_CONNECTIONS`` SMTP connections a bulk send uses side by side.
``GUANXI_MARKETING_BATCH``           Recipients claimed (written ``handed_off``) per commit.
``GUANXI_MARKETING_RETRY_DELAYS``    Seconds before retrying a temporary SMTP failure, by attempt.
``GUANXI_MARKETING_RETURN_ADDRESS``  JSON: the sender on envelopes and letters, e.g. {"company": "关系科技",
                                     "province": "广东省", "city": "深圳市", "street": "…", "postcode": "518000"}
``GUANXI_MARKETING_LEASE_SECONDS``  A sending run silent this long is presumed dead and taken over.
``GUANXI_SMS_GATEWAY``               ``simulator`` (default) or ``twilio``.
``GUANXI_TWILIO_ACCOUNT_SID`` / ``GUANXI_TWILIO_AUTH_TOKEN`` / ``GUANXI_TWILIO_FROM`` / ``GUANXI_TWILIO_API_BASE``
==================================== =========================================================
"""

from __future__ import annotations

import os

from django.conf import settings


def _setting(name: str, default: str) -> str:
    value = getattr(settings, name, None)
    if value is None or value == "":
        value = os.environ.get(name) or default
    return str(value)


def public_url() -> str:
    return _setting("GUANXI_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")


def from_email() -> str:
    return _setting("GUANXI_MARKETING_FROM_EMAIL", settings.DEFAULT_FROM_EMAIL)


def from_name() -> str:
    return _setting("GUANXI_MARKETING_FROM_NAME", "Guanxi")


def send_rate() -> float:
    return float(_setting("GUANXI_MARKETING_SEND_RATE", "50"))


def smtp_connections() -> int:
    return max(1, int(_setting("GUANXI_MARKETING_SMTP_CONNECTIONS", "2")))


def batch_size() -> int:
    return max(1, int(_setting("GUANXI_MARKETING_BATCH", "200")))


def retry_delays() -> tuple[int, ...]:
    return tuple(int(part) for part in _setting("GUANXI_MARKETING_RETRY_DELAYS", "60,300,1800").split(",") if part)


def lease_seconds() -> float:
    return max(1.0, float(_setting("GUANXI_MARKETING_LEASE_SECONDS", "60")))


def sms_gateway() -> str:
    return _setting("GUANXI_SMS_GATEWAY", "simulator")


def twilio() -> dict:
    return {"account_sid": _setting("GUANXI_TWILIO_ACCOUNT_SID", ""),
            "auth_token": _setting("GUANXI_TWILIO_AUTH_TOKEN", ""),
            "from_number": _setting("GUANXI_TWILIO_FROM", ""),
            "api_base": _setting("GUANXI_TWILIO_API_BASE", "")}


def return_address() -> dict:
    import json

    try:
        value = json.loads(_setting("GUANXI_MARKETING_RETURN_ADDRESS", "{}"))
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}
