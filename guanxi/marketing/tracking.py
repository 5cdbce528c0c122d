"""Signed links in campaign messages: open pixel, click redirects, one-click unsubscribe,
event registration. ``django.core.signing`` makes every link tamper-proof: a changed
recipient number or target URL fails the signature, so the click redirect is never an
open redirect and nobody unsubscribes somebody else by editing a number.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from urllib.parse import urlencode

from django.core import signing
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import reverse
from django.utils.encoding import force_bytes

from guanxi.marketing import conf

OPEN_SALT = "guanxi.marketing.open"
CLICK_SALT = "guanxi.marketing.click"
UNSUBSCRIBE_SALT = "guanxi.marketing.unsubscribe"
_HREF = re.compile(r'(<a\b[^>]*?\bhref\s*=\s*)(["\'])(https?://[^"\']+)\2', re.IGNORECASE)


class BadToken(Exception):
    """A link whose signature does not match: tampered with or from another installation."""


# A bulk send makes four signed links per message; the pieces that do not change from one
# message to the next (the derived HMAC key, the URL around the token) are made once.
class _CachedKeySigner(signing.Signer):
    """Django's ``Signer`` — same format, same keys, ``unsign`` unchanged — with the HMAC key
    derived from the salt and secret once instead of at every signature: the keyed
    ``hmac`` object is made once and copied for each signature."""

    def __init__(self, *, salt: str):
        super().__init__(salt=salt)
        derived = hashlib.sha256(force_bytes(self.salt + "signer") + force_bytes(self.key)).digest()
        self._keyed = hmac.new(derived, digestmod=hashlib.sha256)

    def signature(self, value, key=None):
        if key is not None and key != self.key:
            return super().signature(value, key)
        mac = self._keyed.copy()
        mac.update(value.encode() if isinstance(value, str) else force_bytes(value))
        return _b64(mac.digest())

    def sign(self, value):
        value = str(value)
        return f"{value}{self.sep}{self.signature(value)}"


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(value: bytes) -> str:
    """``signing.b64_encode(value).decode()`` in one step (URL-safe base64 without padding)."""
    return binascii.b2a_base64(value, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


@functools.lru_cache(maxsize=None)
def _signer(salt: str) -> signing.Signer:
    return _CachedKeySigner(salt=salt)


@functools.lru_cache(maxsize=None)
def _route(name: str) -> tuple[str, str]:
    """The absolute URL of a tokenised route as (before, after) the token."""
    marker = "TOKEN0MARKER"
    before, after = reverse(name, args=[marker]).split(marker)
    return conf.public_url() + before, after


@receiver(setting_changed)
def _forget_cached(**kwargs) -> None:
    if kwargs["setting"] in ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "GUANXI_PUBLIC_URL", "ROOT_URLCONF"):
        _signer.cache_clear()
        _route.cache_clear()


def _link(name: str, token: str) -> str:
    before, after = _route(name)
    return f"{before}{token}{after}"


# ======================================================================================
# Opens and clicks: keyed by the recipient row
# ======================================================================================
def open_token(recipient_id: int) -> str:
    return _signer(OPEN_SALT).sign(signing.b62_encode(recipient_id))


def open_pixel_url(recipient_id: int) -> str:
    return _link("marketing:track_open", open_token(recipient_id))


def read_open_token(token: str) -> int:
    try:
        return signing.b62_decode(_signer(OPEN_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        raise BadToken(token) from None


def click_token(recipient_id: int, target: str) -> str:
    """``Signer.sign_object({"r": recipient_id, "u": target})`` — the same token, character
    for character — with the compact JSON written directly instead of by a JSON encoder
    built for every call (a bulk send makes one per link per message)."""
    payload = f'{{"r":{int(recipient_id)},"u":{encode_basestring_ascii(target)}}}'
    return _signer(CLICK_SALT).sign(_b64(payload.encode("latin-1")))


def click_url(recipient_id: int, target: str) -> str:
    return _link("marketing:track_click", click_token(recipient_id, target))


def read_click_token(token: str) -> tuple[int, str]:
    try:
        value = _signer(CLICK_SALT).unsign_object(token)
        return int(value["r"]), str(value["u"])
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        raise BadToken(token) from None


def track_links(html: str, recipient_id: int, *, skip: tuple[str, ...] = ()) -> str:
    """Every http(s) link in ``html`` through the click redirect, except those in ``skip``
    (the unsubscribe link must work without a detour)."""

    def replace(match: re.Match) -> str:
        target = match.group(3).replace("&amp;", "&")
        if target in skip:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{click_url(recipient_id, target)}{match.group(2)}"

    return _HREF.sub(replace, html)


# ======================================================================================
# Unsubscribe: keyed by contact and campaign, valid for ever
# ======================================================================================
@dataclass(frozen=True)
class UnsubscribeRequest:
    contact_id: int
    campaign_id: int | None


def unsubscribe_token(contact_id: int, campaign_id: int | None = None) -> str:
    value = f"{signing.b62_encode(contact_id)}.{_b62(campaign_id or 0)}"
    return _signer(UNSUBSCRIBE_SALT).sign(value)


@functools.lru_cache(maxsize=256)
def _b62(number: int) -> str:
    """A campaign's part of its unsubscribe tokens, the same for all its messages."""
    return signing.b62_encode(number)


def unsubscribe_url(contact_id: int, campaign_id: int | None = None) -> str:
    return _link("marketing:unsubscribe", unsubscribe_token(contact_id, campaign_id))


def read_unsubscribe_token(token: str) -> UnsubscribeRequest:
    try:
        contact, campaign = _signer(UNSUBSCRIBE_SALT).unsign(token).split(".")
        campaign_id = signing.b62_decode(campaign)
        return UnsubscribeRequest(signing.b62_decode(contact), campaign_id or None)
    except (signing.BadSignature, ValueError):
        raise BadToken(token) from None


# ======================================================================================
# Events and web campaigns
# ======================================================================================
def event_registration_url(event, campaign=None) -> str:
    path = reverse("marketing:event_register", args=[event.slug])
    if campaign is not None:
        path += "?" + urlencode({"c": campaign.pk})
    return f"{conf.public_url()}{path}"
