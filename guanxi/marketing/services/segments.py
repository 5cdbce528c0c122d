"""Writes of segments: create, change, delete, freeze a snapshot, manage static members."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import selectors as core_selectors
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict
from guanxi.core.models import AuditAction, User
from guanxi.marketing import segment_rules, selectors
from guanxi.marketing.models import Segment, SegmentKind, SegmentMember
from guanxi.marketing.services.common import check_version, full_clean_errors, raise_if, require_create, snapshot

SEGMENT_FIELDS = ("name", "description", "kind", "rules")


def _apply(segment: Segment, data: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in ("name", "description", "kind"):
        if field in data and data[field] is not None:
            setattr(segment, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if "rules" in data:
        segment.rules = data["rules"] or {}
    if segment.kind == SegmentKind.DYNAMIC:
        try:
            segment_rules.compile_rules(segment.rules)
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                errors.setdefault(key if key.startswith("rules") else f"rules.{key}", []).extend(messages)
    elif segment.rules:
        errors.setdefault("rules", []).append(_("A static segment keeps a list of contacts, not rules."))
    full_clean_errors(segment, ["owner", "frozen_from", "rules"], errors)
    return errors


def _insert_members(segment: Segment, contacts) -> int:
    """Copy the contacts of a queryset into a static segment with one INSERT … SELECT."""
    sql, params = contacts.order_by().values("id").query.sql_with_params()
    table = SegmentMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (segment_id, contact_id) SELECT %s, member.id FROM ({sql}) member "
                       f"WHERE NOT EXISTS (SELECT 1 FROM {table} existing WHERE existing.segment_id = %s "
                       f"AND existing.contact_id = member.id)", [segment.pk, *params, segment.pk])
        return cursor.rowcount


def _count(segment: Segment) -> int:
    count = selectors.segment_contacts(segment).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=count, counted_at=timezone.now())
    segment.member_count = count
    return count


@transaction.atomic
def segment_create(*, actor: User, data: dict) -> Segment:
    require_create(actor, selectors.SEGMENT, _("You may not create segments."))
    segment = Segment(owner=actor)
    errors = _apply(segment, data)
    contact_ids = data.get("contact_ids") or []
    if contact_ids and segment.kind != SegmentKind.STATIC:
        errors.setdefault("contact_ids", []).append(_("Only a static segment lists its contacts."))
    raise_if(errors)
    segment.save()
    if contact_ids:
        segment_add_members(actor=actor, segment_id=segment.pk, contact_ids=contact_ids)
    _count(segment)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=segment,
                 changes=diff({}, snapshot(segment, SEGMENT_FIELDS)))
    return segment


@transaction.atomic
def segment_update(*, actor: User, segment_id: int, data: dict, expected_version: int | None = None) -> Segment:
    segment = selectors.access_segment_by_id(actor, segment_id, "change")
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    check_version(segment, expected_version)
    before = snapshot(segment, SEGMENT_FIELDS)
    if "kind" in data and data["kind"] != segment.kind:
        raise_if({"kind": [_("A segment cannot change between dynamic and static; freeze a snapshot instead.")]})
    raise_if(_apply(segment, data))
    segment.updated_at = timezone.now()
    segment.version = F("version") + 1
    segment.save()
    segment.refresh_from_db()
    _count(segment)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=segment,
                 changes=diff(before, snapshot(segment, SEGMENT_FIELDS)))
    return segment


@transaction.atomic
def segment_delete(*, actor: User, segment_id: int) -> None:
    segment = selectors.access_segment_by_id(actor, segment_id, "delete")
    in_use = list(segment.campaigns.values_list("name", flat=True)[:3])
    if in_use:
        raise Conflict(_("The segment is the target of campaigns (%(names)s); change their target first.")
                       % {"names": ", ".join(in_use)})
    audit_record(actor=actor, action=AuditAction.DELETE, obj=segment, changes={"name": [segment.name, None]})
    segment.delete()


@transaction.atomic
def segment_freeze(*, actor: User, segment_id: int, name: str = "") -> Segment:
    """A static snapshot of the segment's members now (those the actor may see)."""
    source = selectors.access_segment_by_id(actor, segment_id)
    require_create(actor, selectors.SEGMENT, _("You may not create segments."))
    now = timezone.now()
    snapshot_segment = Segment.objects.create(
        name=(name or "").strip() or _("%(name)s (snapshot %(date)s)") % {
            "name": source.name, "date": timezone.localtime(now).strftime("%Y-%m-%d %H:%M")},
        description=source.description, kind=SegmentKind.STATIC, frozen_from=source, frozen_at=now, owner=actor)
    members = selectors.segment_contacts(source, core_selectors.visible_contacts(actor))
    inserted = _insert_members(snapshot_segment, members)
    Segment.objects.filter(pk=snapshot_segment.pk).update(member_count=inserted, counted_at=now)
    snapshot_segment.member_count = inserted
    audit_record(actor=actor, action=AuditAction.CREATE, obj=snapshot_segment,
                 changes={"frozen_from": [None, source.pk], "member_count": [None, inserted]})
    return snapshot_segment


def _static_for_change(actor: User, segment_id: int) -> Segment:
    segment = selectors.access_segment_by_id(actor, segment_id, "change")
    if segment.kind != SegmentKind.STATIC:
        raise_if({"contact_ids": [_("Members are added to static segments only; a dynamic segment follows its "
                                    "rules.")]})
    return segment


@transaction.atomic
def segment_add_members(*, actor: User, segment_id: int, contact_ids: list[int]) -> int:
    segment = _static_for_change(actor, segment_id)
    wanted = {int(pk) for pk in contact_ids}
    visible = set(core_selectors.visible_contacts(actor).filter(pk__in=wanted).values_list("pk", flat=True))
    unknown = sorted(wanted - visible)
    if unknown:
        raise_if({"contact_ids": [_("Unknown contacts: %(ids)s.") % {"ids": ", ".join(map(str, unknown[:20]))}]})
    existing = set(SegmentMember.objects.filter(segment=segment, contact_id__in=visible)
                   .values_list("contact_id", flat=True))
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, contact_id=pk)
                                       for pk in sorted(visible - existing)])
    added = len(visible - existing)
    _count(segment)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=segment, changes={"members_added": [None, added]})
    return added


@transaction.atomic
def segment_remove_members(*, actor: User, segment_id: int, contact_ids: list[int]) -> int:
    segment = _static_for_change(actor, segment_id)
    removed, _detail = SegmentMember.objects.filter(segment=segment, contact_id__in=contact_ids).delete()
    _count(segment)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=segment, changes={"members_removed": [None, removed]})
    return removed


def segment_recount(*, actor: User, segment_id: int) -> int:
    segment = selectors.access_segment_by_id(actor, segment_id)
    return _count(segment)
