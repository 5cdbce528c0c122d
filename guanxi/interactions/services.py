"""Writes to the interaction log. Every domain records customer touches through
``interaction_record`` so that all of them land on one timeline (SPEC §0)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from guanxi.core import selectors as core_selectors
from guanxi.core.access import scope_for
from guanxi.core.audit import audit_record
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import AuditAction, User
from guanxi.core.audit import diff
from guanxi.core.realtime import contact_group, push
from guanxi.interactions.models import Episode, Interaction

FIELDS = ("direction", "channel", "occurred_at", "duration_seconds", "subject", "reason", "outcome", "effect",
          "script", "notes", "documents")


def _serialize(interaction: Interaction) -> dict:
    return {
        "id": interaction.pk, "contact_id": interaction.contact_id, "account_id": interaction.account_id,
        "channel": interaction.channel, "channel_label": str(interaction.get_channel_display()),
        "direction": interaction.direction, "direction_label": str(interaction.get_direction_display()),
        "occurred_at": interaction.occurred_at.isoformat(), "subject": interaction.subject,
        "reason": interaction.reason, "outcome": interaction.outcome,
        "agent": str(interaction.agent) if interaction.agent_id else "",
        "duration_seconds": interaction.duration_seconds,
    }


@transaction.atomic
def interaction_record(*, actor: User | None, data: dict, check_access: bool = True) -> Interaction:
    """Record one act on the customer's timeline and push it to open 360° pages.

    ``actor`` None (or ``check_access`` False) is for system sources — telephony events,
    email-in, portal — which authenticate on their own. A repeated ``source_type`` +
    ``source_id`` returns the interaction already recorded instead of a second one.
    """
    if actor is not None and check_access and scope_for(actor, "interaction", "create") == "none":
        raise PermissionDenied(_("You may not record interactions."))
    source_type, source_id = data.get("source_type", ""), str(data.get("source_id", "") or "")
    if source_id:
        existing = Interaction.objects.filter(source_type=source_type, source_id=source_id).first()
        if existing is not None:
            return existing

    errors: dict[str, list[str]] = {}
    interaction = Interaction(source_type=source_type, source_id=source_id)
    for field in FIELDS:
        if field in data and data[field] is not None:
            setattr(interaction, field, data[field])
    contact = None
    if data.get("contact_id"):
        try:
            contact = (core_selectors.access_contact_by_id(actor, data["contact_id"]) if actor is not None
                       and check_access else core_selectors.Contact.objects.get(pk=data["contact_id"]))
        except (core_selectors.NotFound, core_selectors.Contact.DoesNotExist):
            errors["contact_id"] = [_("Unknown contact.")]
    if contact is not None:
        interaction.contact = contact
        interaction.account_id = data.get("account_id") or contact.account_id
    elif data.get("account_id"):
        accounts = (core_selectors.visible_accounts(actor) if actor is not None and check_access
                    else core_selectors.Account.objects.all())
        if accounts.filter(pk=data["account_id"]).exists():
            interaction.account_id = data["account_id"]
        else:
            errors["account_id"] = [_("Unknown account.")]
    if not data.get("contact_id") and not data.get("account_id"):
        errors["contact_id"] = [_("Name the contact or the customer account.")]
    if "agent_id" in data:
        interaction.agent_id = data["agent_id"]
    elif actor is not None:
        interaction.agent = actor
    if data.get("episode_id"):
        interaction.episode_id = data["episode_id"]
    try:
        interaction.full_clean(exclude=["contact", "account", "agent", "episode"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            interaction.save()
    except IntegrityError:
        # Two deliveries of the same source event raced; the first one won.
        return Interaction.objects.get(source_type=source_type, source_id=source_id)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=interaction,
                 changes={"channel": [None, interaction.channel], "contact_id": [None, interaction.contact_id]})
    if interaction.contact_id:
        payload = _serialize(interaction)
        transaction.on_commit(lambda: push(contact_group(payload["contact_id"]), "interaction.created", payload))
    return interaction


# What may be corrected after the fact; who, whom, when and how stay as recorded.
CHANGEABLE_FIELDS = ("duration_seconds", "subject", "reason", "outcome", "effect", "script", "notes", "documents")


@transaction.atomic
def interaction_update(*, actor: User, interaction_id: int, data: dict) -> Interaction:
    """Correct the notes and results of an interaction the actor may change."""
    from guanxi.interactions.selectors import access_interaction_by_id

    interaction = access_interaction_by_id(actor, interaction_id, "change")
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk)
    errors: dict[str, list[str]] = {}
    for field in ("contact_id", "account_id", "agent_id", "channel", "direction", "occurred_at"):
        if field in data:
            errors[field] = [_("This cannot be changed once recorded.")]
    before = {field: getattr(interaction, field) for field in CHANGEABLE_FIELDS}
    for field in CHANGEABLE_FIELDS:
        if field in data and data[field] is not None:
            setattr(interaction, field, data[field])
    try:
        interaction.full_clean(exclude=["contact", "account", "agent", "episode"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    interaction.save(update_fields=list(CHANGEABLE_FIELDS))
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=interaction,
                 changes=diff(before, {field: getattr(interaction, field) for field in CHANGEABLE_FIELDS}))
    return interaction


@transaction.atomic
def interaction_delete(*, actor: User, interaction_id: int) -> None:
    """Remove an interaction from the timeline, e.g. one recorded on the wrong customer."""
    from guanxi.interactions.selectors import access_interaction_by_id

    interaction = access_interaction_by_id(actor, interaction_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=interaction,
                 changes={"channel": [interaction.channel, None], "contact_id": [interaction.contact_id, None]})
    interaction.delete()


@transaction.atomic
def episode_open(*, kind: str, title: str, source_type: str = "", source_id: str = "", contact_id=None,
                 account_id=None, sequence_id=None) -> Episode:
    """Open (or return the already open) episode for a source object, e.g. a case."""
    if source_id:
        episode, _created = Episode.objects.get_or_create(
            source_type=source_type, source_id=str(source_id),
            defaults={"kind": kind, "title": title, "contact_id": contact_id, "account_id": account_id,
                      "sequence_id": sequence_id})
        return episode
    return Episode.objects.create(kind=kind, title=title, contact_id=contact_id, account_id=account_id,
                                  sequence_id=sequence_id)
