"""Reads of the outbox, with the access check inside: only roles the access matrix lets
view ``outbox_message`` (administrators) read kept mail, which may hold customers' data."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.outbox.models import SEARCH_FIELDS, OutboxMessage


def visible_outbox(actor) -> QuerySet[OutboxMessage]:
    if scope_for(actor, "outbox_message", "view") == "none":
        raise PermissionDenied(_("Only administrators may read the outbox."))
    return OutboxMessage.objects.all()


def outbox_message_list(actor, *, query: str = "") -> QuerySet[OutboxMessage]:
    """Newest first, without the raw message (a page lists fifty of them)."""
    messages = visible_outbox(actor).defer("raw")
    query = query.strip()
    if query:
        condition = Q()
        for name in SEARCH_FIELDS:
            condition |= Q(**{f"{name}__icontains": query})
        messages = messages.filter(condition)
    return messages.order_by("-created_at", "-id")


def access_outbox_message_by_id(actor, message_id: int) -> OutboxMessage:
    try:
        return visible_outbox(actor).select_related("job").get(pk=message_id)
    except (OutboxMessage.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"outbox message {message_id}") from None


@dataclass
class Attachment:
    name: str
    content_type: str
    size: int


@dataclass
class MessageParts:
    """A kept message taken apart for reading: headers in order, the bodies, attachments."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)


def outbox_message_parts(message: OutboxMessage) -> MessageParts:
    parsed = BytesParser(policy=policy.default).parsebytes(message.raw.encode("utf-8"))
    parts = MessageParts(headers=[(name, str(value)) for name, value in parsed.items()])
    for preference, attribute in (("plain", "text"), ("html", "html")):
        body = parsed.get_body(preferencelist=(preference,))
        if body is not None:
            setattr(parts, attribute, _content(body))
    for attachment in parsed.iter_attachments():
        payload = attachment.get_payload(decode=True) or b""
        parts.attachments.append(Attachment(attachment.get_filename() or _("(no name)"),
                                            attachment.get_content_type(), len(payload)))
    return parts


def _content(part) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset: show the bytes as best we can
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
