"""SMS gateways behind one small interface, so a campaign does not care who carries its texts.

``SmsGateway.send(to, body, reference)`` hands one text over and returns the gateway's
message ID, or raises one of three errors that tell the sender what to do:

* ``SmsTemporaryError`` — not accepted, try again later (rate limit, gateway down);
* ``SmsPermanentError`` — not accepted and never will be (bad number, blocked);
* ``SmsAmbiguous`` — the request left but no answer came: it may have been accepted, so
  the sender must not send it again (the at-most-once rule of ``sending``).

Two gateways ship: ``SimulatorGateway`` (default; keeps texts in memory, for development,
demos and tests) and ``TwilioGateway`` (Twilio's Messaging API through the official
``twilio`` client). ``GUANXI_SMS_GATEWAY`` chooses.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass

from django.utils.translation import gettext as _

from guanxi.marketing import conf

logger = logging.getLogger(__name__)


class SmsError(Exception):
    pass


class SmsTemporaryError(SmsError):
    pass


class SmsPermanentError(SmsError):
    pass


class SmsAmbiguous(SmsError):
    pass


class SmsGateway:
    name = ""

    def send(self, *, to: str, body: str, reference: str = "") -> str:  # pragma: no cover - interface
        raise NotImplementedError


# ======================================================================================
# Simulator
# ======================================================================================
@dataclass(frozen=True)
class SimulatedText:
    message_id: str
    to: str
    body: str
    reference: str


class SimulatorGateway(SmsGateway):
    """Accepts every text into ``outbox`` unless told otherwise with ``fail(number, error)``."""

    name = "simulator"
    outbox: list[SimulatedText] = []
    failures: dict[str, list[SmsError]] = {}
    _lock = threading.Lock()
    _numbers = itertools.count(1)

    def send(self, *, to: str, body: str, reference: str = "") -> str:
        with self._lock:
            planned = self.failures.get(to)
            if planned:
                raise planned.pop(0)
            message_id = f"SIM{next(self._numbers):08d}"
            self.outbox.append(SimulatedText(message_id, to, body, reference))
        logger.info("simulated SMS %s to %s", message_id, to)
        return message_id

    @classmethod
    def fail(cls, number: str, error: SmsError, times: int = 1) -> None:
        with cls._lock:
            cls.failures.setdefault(number, []).extend([error] * times)

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.outbox.clear()
            cls.failures.clear()


# ======================================================================================
# Twilio
# ======================================================================================
def _twilio_http_client(api_base: str):
    """Twilio's own HTTP client, pointed at ``api_base`` instead of api.twilio.com when set
    (a regional proxy, or a local stand-in in tests)."""
    from twilio.http.http_client import TwilioHttpClient

    class RedirectedHttpClient(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            if api_base and url.startswith("https://api.twilio.com"):
                url = api_base.rstrip("/") + url[len("https://api.twilio.com"):]
            return super().request(method, url, *args, **kwargs)

    return RedirectedHttpClient(timeout=10)


class TwilioGateway(SmsGateway):
    name = "twilio"

    def __init__(self, account_sid: str = "", auth_token: str = "", from_number: str = "", api_base: str = ""):
        settings = conf.twilio()
        self.account_sid = account_sid or settings["account_sid"]
        self.auth_token = auth_token or settings["auth_token"]
        self.from_number = from_number or settings["from_number"]
        api_base = api_base or settings["api_base"]
        if not (self.account_sid and self.auth_token and self.from_number):
            raise SmsPermanentError(_("Twilio is not configured: set GUANXI_TWILIO_ACCOUNT_SID, "
                                      "GUANXI_TWILIO_AUTH_TOKEN and GUANXI_TWILIO_FROM."))
        from twilio.rest import Client

        self.client = Client(self.account_sid, self.auth_token, http_client=_twilio_http_client(api_base))

    def send(self, *, to: str, body: str, reference: str = "") -> str:
        import requests
        from twilio.base.exceptions import TwilioRestException

        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body)
        except TwilioRestException as error:
            detail = f"Twilio {error.status} ({error.code}): {error.msg}"
            if error.status == 429 or error.status >= 500:
                raise SmsTemporaryError(detail) from None
            raise SmsPermanentError(detail) from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.ConnectionError) as error:
            if isinstance(error, requests.exceptions.ConnectTimeout) or "Connection refused" in str(error):
                raise SmsTemporaryError(_("Twilio could not be reached: %(error)s") % {"error": error}) from None
            raise SmsAmbiguous(_("No answer from Twilio: %(error)s") % {"error": error}) from None
        except requests.exceptions.RequestException as error:
            raise SmsAmbiguous(_("No answer from Twilio: %(error)s") % {"error": error}) from None
        return message.sid


def gateway() -> SmsGateway:
    chosen = conf.sms_gateway()
    if chosen == "twilio":
        return TwilioGateway()
    if chosen == "simulator":
        return SimulatorGateway()
    raise SmsPermanentError(_("Unknown SMS gateway “%(name)s”.") % {"name": chosen})
