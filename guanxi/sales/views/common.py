"""What the signed-in sales pages share."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from guanxi.core.errors import PermissionDenied


def may(visible, actor, action: str, record_id: int) -> bool:
    """True when ``actor`` may ``action`` this record (one indexed query)."""
    try:
        return visible(actor, action).filter(pk=record_id).exists()
    except PermissionDenied:
        return False


def messages_of(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(message for messages in error.message_dict.values() for message in messages)
    return " ".join(error.messages)


def back_to(request, fallback: str) -> HttpResponseRedirect:
    """Redirect to ``next`` when it is a local address, else to ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(fallback)
