"""Normalization of what people type: phone numbers, emails, names.

Shared by forms, the API, imports and caller lookup so that one customer typed three
ways is still one customer.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

_CJK_RANGES = (
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F), (0x3040, 0x30FF), (0xAC00, 0xD7AF),
)
_PHONE_CHARS = re.compile(r"^[\d\s()+\-./]+$")
_CJK_CLASS = "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in _CJK_RANGES)
_SEARCH_TOKEN = re.compile(f"[{_CJK_CLASS}]|[^\\W_{_CJK_CLASS}]+")
# Shortcuts for the two most common inputs (a mainland mobile, a plain address); anything
# they do not recognise goes the full way through phonenumbers / Django's validator.
_MOBILE_SEPARATORS = str.maketrans("", "", " -().")
_CN_METADATA = phonenumbers.PhoneMetadata.metadata_for_region("CN")
_CN_GENERAL = re.compile(_CN_METADATA.general_desc.national_number_pattern)
_CN_MOBILE = re.compile(_CN_METADATA.mobile.national_number_pattern)
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*@[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}"
)


class PhoneError(ValueError):
    pass


def normalize_phone(raw: str, region: str | None = None) -> str:
    """Return ``raw`` in E.164 (``+8613812345678``), accepting any common format.

    ``0138-1234-5678`` and ``138 1234 5678`` are read in the default region (CN unless
    configured); ``+1 (415) 555-0100`` and ``00 44 20 7946 0958`` carry their own country.
    Raises ``PhoneError`` with a translated message when the number is not valid.
    """
    text = (raw or "").strip()
    if not text:
        raise PhoneError(_("Enter a phone number."))
    if text.startswith("00"):
        text = "+" + text[2:]
    region = region or settings.GUANXI_DEFAULT_REGION
    mobile = _mainland_mobile(text, region)
    if mobile is not None:
        return mobile
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise PhoneError(_("“%(value)s” is not a phone number.") % {"value": raw}) from error
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneError(_("“%(value)s” is not a valid phone number.") % {"value": raw})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _mainland_mobile(text: str, region: str) -> str | None:
    """E.164 of a mainland China mobile number written plainly, or None to take the full path.

    phonenumbers needs ~50 µs a number, too slow for a million-row import. An 11-digit
    national number that fits the CN mobile pattern of phonenumbers' own metadata is exactly
    what ``parse`` + ``is_valid_number`` would accept (no CN carrier prefix starts a mobile
    number), so the result is the same; the import tests compare both ways on many inputs.
    """
    compact = text.translate(_MOBILE_SEPARATORS)
    if compact.startswith("+86"):
        national = compact[3:]
    elif region == "CN":
        national = compact[1:] if compact.startswith("01") else compact
    else:
        return None
    if (len(national) == 11 and national.isascii() and national.isdigit()
            and _CN_GENERAL.fullmatch(national) and _CN_MOBILE.fullmatch(national)):
        return "+86" + national
    return None


def looks_like_phone(text: str) -> bool:
    digits = sum(character.isdigit() for character in text)
    return bool(_PHONE_CHARS.match(text.strip())) and digits >= 5


def format_phone(e164: str) -> str:
    """International format for display, e.g. ``+86 138 1234 5678``.

    List pages show fifty numbers at a time and phonenumbers needs ~60 µs to parse and
    format one, so a mainland mobile number (the usual case) is grouped 3-4-4 here, which
    is exactly phonenumbers' international format for every number its CN mobile pattern
    accepts (test_phone_formatting compares both ways).
    """
    national = e164[3:]
    if (e164.startswith("+86") and len(national) == 11 and national.isascii() and national.isdigit()
            and _CN_MOBILE.fullmatch(national)):
        return f"+86 {national[:3]} {national[3:7]} {national[7:]}"
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def normalize_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if len(email) <= 320 and _PLAIN_EMAIL.fullmatch(email):  # a subset of what validate_email accepts
        return email
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError(_("“%(value)s” is not a valid email address.") % {"value": raw}) from error
    return email


def is_cjk(character: str) -> bool:
    code = ord(character)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def has_cjk(text: str) -> bool:
    return any(is_cjk(character) for character in text)


def display_name(family_name: str, given_name: str) -> str:
    """Chinese names read family name first with no space; others given name first."""
    family_name, given_name = (family_name or "").strip(), (given_name or "").strip()
    if has_cjk(family_name + given_name):
        return f"{family_name}{given_name}"
    return " ".join(part for part in (given_name, family_name) if part)


def search_tokens(text: str) -> list[str]:
    """Tokens for full-text search: lower-cased words, each CJK character its own token.

    Both SQLite FTS5 (unicode61) and PostgreSQL ('simple' configuration) split on spaces
    and punctuation but keep a run of Chinese characters as one word; spacing them out
    lets "芳" or "王芳" find "王芳" on both engines with the same index text.
    A word is a run of characters for which ``str.isalnum()`` holds (a word character of
    ``re`` other than the underscore); one compiled pattern finds them all because imports
    compute this for a million contacts at a time.
    """
    return _SEARCH_TOKEN.findall(unicodedata.normalize("NFKC", text or "").lower())


def search_text(*parts: str) -> str:
    # Tokens never span a space, so tokenizing the joined parts once gives the same text.
    return " ".join(search_tokens(" ".join(part for part in parts if part)))
