"""Signed links in campaign messages: open pixel, click redirects, one-click unsubscribe,
event registration. ``django.core.signing`` makes every link tamper-proof: a changed
recipient number or target URL fails the signature, so the click redirect is never an
open redirect and nobody unsubscribes somebody else by editing a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core import signing
from django.urls import reverse

from guanxi.marketing import conf

OPEN_SALT = "guanxi.marketing.open"
CLICK_SALT = "guanxi.marketing.click"
UNSUBSCRIBE_SALT = "guanxi.marketing.unsubscribe"
_HREF = re.compile(r'(<a\b[^>]*?\bhref\s*=\s*)(["\'])(https?://[^"\']+)\2', re.IGNORECASE)


class BadToken(Exception):
    """A link whose signature does not match: tampered with or from another installation."""


def _absolute(path: str) -> str:
    return f"{conf.public_url()}{path}"


# ======================================================================================
# Opens and clicks: keyed by the recipient row
# ======================================================================================
def open_token(recipient_id: int) -> str:
    return signing.Signer(salt=OPEN_SALT).sign(signing.b62_encode(recipient_id))


def open_pixel_url(recipient_id: int) -> str:
    return _absolute(reverse("marketing:track_open", args=[open_token(recipient_id)]))


def read_open_token(token: str) -> int:
    try:
        return signing.b62_decode(signing.Signer(salt=OPEN_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        raise BadToken(token) from None


def click_url(recipient_id: int, target: str) -> str:
    token = signing.Signer(salt=CLICK_SALT).sign_object({"r": recipient_id, "u": target}, compress=True)
    return _absolute(reverse("marketing:track_click", args=[token]))


def read_click_token(token: str) -> tuple[int, str]:
    try:
        value = signing.Signer(salt=CLICK_SALT).unsign_object(token)
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
    value = f"{signing.b62_encode(contact_id)}.{signing.b62_encode(campaign_id or 0)}"
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(value)


def unsubscribe_url(contact_id: int, campaign_id: int | None = None) -> str:
    return _absolute(reverse("marketing:unsubscribe", args=[unsubscribe_token(contact_id, campaign_id)]))


def read_unsubscribe_token(token: str) -> UnsubscribeRequest:
    try:
        contact, campaign = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token).split(".")
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
    return _absolute(path)
