"""Writes to cases: open, update, move through the status flow, assign, reply, escalate.

Every function is ``case_<verb>(*, actor, ...)``, atomic, audited, and announces the
change after commit. ``actor`` None is a system source (email-in, the SLA sweep, the
portal) that authenticated on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import os
from dataclasses import dataclass
from email.utils import make_msgid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from guanxi.core import selectors as core_selectors
from guanxi.core.access import can, scope_for
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.events import record_changed, send_on_commit
from guanxi.core.models import Account, AuditAction, Contact, User
from guanxi.core.normalize import normalize_email, search_text
from guanxi.core.realtime import push, user_group
from guanxi.interactions.models import Direction
from guanxi.interactions.services import episode_open, interaction_record
from guanxi.service import case_routing, selectors, sla
from guanxi.service.models import (
    ALLOWED_TRANSITIONS, OPEN_STATUSES, ORIGIN_CHANNEL, PRIORITY_ORDER, Case, CaseAttachment, CaseEvent,
    CaseEventKind, CaseMessage, CaseOrigin, CasePriority, CaseStatus, DeliveryStatus, EntitlementStatus,
    EntitlementUnit, EntitlementUsage, MessageKind, NumberSequence, QueueMembership, ServiceAgent,
    ServiceContract, ServiceNotification, ServiceQueue, SlaTrigger,
)

CASE_FIELDS = ("subject", "description", "priority", "category", "origin", "product", "product_ref", "order_ref",
               "sales_contract_ref", "requester_name")
CHANGEABLE_FIELDS = ("subject", "priority", "category", "product", "product_ref", "order_ref", "sales_contract_ref",
                     "requester_name")
MAX_ATTACHMENTS = 10


def attachment_limit() -> int:
    """Largest attachment kept, in bytes (``GUANXI_SERVICE_ATTACHMENT_MAX_BYTES``, 10 MB by default)."""
    return int(getattr(settings, "GUANXI_SERVICE_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def service_mailbox() -> str:
    """Address cases are emailed from and replied to (``GUANXI_SERVICE_EMAIL``)."""
    return getattr(settings, "GUANXI_SERVICE_EMAIL", "") or settings.DEFAULT_FROM_EMAIL


# ======================================================================================
# Shared pieces
# ======================================================================================
@dataclass(frozen=True)
class IncomingFile:
    """An attachment on its way in, from a form, the API or an email."""

    name: str
    content_type: str
    content: bytes

    @classmethod
    def from_upload(cls, upload) -> IncomingFile:
        if upload.size is not None and upload.size > attachment_limit():
            # Read nothing more: the size alone refuses it.
            return cls(upload.name or "attachment", upload.content_type or "", b"\0" * (attachment_limit() + 1))
        return cls(upload.name or "attachment", upload.content_type or "", upload.read())


def attachment_errors(files: list[IncomingFile], field: str = "attachments") -> dict[str, list[str]]:
    errors: list[str] = []
    if len(files) > MAX_ATTACHMENTS:
        errors.append(_("At most %(count)d attachments per message.") % {"count": MAX_ATTACHMENTS})
    for item in files:
        if len(item.content) > attachment_limit():
            errors.append(_("“%(name)s” is larger than %(limit)s MB.") % {
                "name": item.name, "limit": f"{attachment_limit() / (1024 * 1024):g}"})
    return {field: errors} if errors else {}


def _store_attachments(message: CaseMessage, files: list[IncomingFile]) -> None:
    for item in files:
        name = os.path.basename(item.name.replace("\\", "/")) or "attachment"
        content_type = item.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        attachment = CaseAttachment(message=message, name=name[:255], content_type=content_type[:120],
                                    size=len(item.content), sha256=hashlib.sha256(item.content).hexdigest())
        stored_name = get_valid_filename(name)[-120:] or "attachment"
        attachment.file.save(f"{message.case.number}-{stored_name}", ContentFile(item.content), save=False)
        attachment.save()


def next_number(prefix: str, now: dt.datetime | None = None) -> str:
    """The next number of a yearly series, e.g. ``CS-2026-000123``, safe under concurrency."""
    year = timezone.localtime(now or timezone.now()).year
    key = f"{prefix}-{year}"
    with transaction.atomic():
        sequence, _created = NumberSequence.objects.select_for_update().get_or_create(key=key)
        NumberSequence.objects.filter(pk=sequence.pk).update(last=F("last") + 1)
        sequence.refresh_from_db()
    return f"{key}-{sequence.last:06d}"


def _event(case: Case, kind: str, actor: User | None, *, from_value="", to_value="", detail="",
           at: dt.datetime | None = None) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor if getattr(actor, "pk", None) else None,
                                    from_value=str(from_value)[:200], to_value=str(to_value)[:200],
                                    detail=str(detail)[:500], at=at or timezone.now())


def notify(user: User | None, case: Case | None, kind: str, message: str, **values) -> None:
    """Leave a notice for ``user`` in their language and push it to their open pages.

    ``message`` is an untranslated source string (wrap it in ``gettext_noop``); it is
    translated here into the recipient's language.
    """
    if user is None or not user.is_active:
        return
    with translation.override(user.language or settings.LANGUAGE_CODE):
        text = (_(message) % values)[:500]
    notice = ServiceNotification.objects.create(recipient=user, case=case, kind=kind, text=text)
    payload = {"id": notice.pk, "kind": kind, "text": text, "case_id": case.pk if case else None,
               "case_number": case.number if case else ""}
    transaction.on_commit(lambda: push(user_group(user.pk), "service.notification", payload))


def case_search_text(case: Case) -> str:
    return search_text(case.number, case.subject, case.description[:4000], case.requester_email,
                       case.requester_name, case.product, case.order_ref,
                       case.contact.full_name if case.contact_id and case.contact else "",
                       case.account.name if case.account_id and case.account else "")


def _touch(case: Case, now: dt.datetime) -> None:
    case.updated_at = now
    case.version = F("version") + 1


def _save(case: Case) -> Case:
    case.search_text = case_search_text(case)
    case.save()
    case.refresh_from_db(fields=["version"])
    return case


def _lock(case_id: int) -> Case:
    return Case.objects.select_for_update(of=("self",)).select_related(
        "contact", "account", "sla_policy__calendar", "service_contract", "assignee", "queue").get(pk=case_id)


def _check_version(case: Case, expected_version: int | None) -> None:
    if expected_version is not None and case.version != expected_version:
        raise Conflict(_("This case was changed by someone else (version %(current)d, you edited %(yours)d). "
                         "Reload and try again.") % {"current": case.version, "yours": expected_version})


def may_work_cases(user: User) -> bool:
    return user.is_active and scope_for(user, "case", "change") != "none"


# ======================================================================================
# The interaction log
# ======================================================================================
def _ensure_episode(case: Case) -> None:
    episode = episode_open(kind="case", title=f"{case.number} {case.subject}"[:200], source_type="case",
                           source_id=str(case.pk), contact_id=case.contact_id, account_id=case.account_id)
    if (episode.contact_id, episode.account_id) != (case.contact_id, case.account_id):
        type(episode).objects.filter(pk=episode.pk).update(contact_id=case.contact_id, account_id=case.account_id)
    if case.episode_id != episode.pk:
        case.episode_id = episode.pk
        Case.objects.filter(pk=case.pk).update(episode_id=episode.pk)


def _record_interaction(case: Case, message: CaseMessage) -> None:
    """Put a customer message or a reply on the customer's timeline (notes stay internal)."""
    if message.kind == MessageKind.NOTE or not (case.contact_id or case.account_id):
        return
    inbound = message.kind == MessageKind.CUSTOMER
    documents = [{"name": attachment.name, "url": attachment.file.url} for attachment in message.attachments.all()]
    interaction = interaction_record(actor=None, check_access=False, data={
        "contact_id": case.contact_id, "account_id": case.account_id, "channel": message.channel,
        "direction": Direction.INBOUND if inbound else Direction.OUTBOUND, "occurred_at": message.created_at,
        "subject": (message.subject or case.email_subject)[:200], "reason": case.get_category_display()[:120],
        "notes": message.body[:10000], "documents": documents,
        "agent_id": message.author_id if not inbound else case.assignee_id,
        "episode_id": case.episode_id, "source_type": "case_message", "source_id": str(message.pk)})
    CaseMessage.objects.filter(pk=message.pk).update(interaction=interaction)
    message.interaction = interaction


# ======================================================================================
# Entitlements (checked when a case opens)
# ======================================================================================
def check_entitlement(case: Case, today: dt.date, contract: ServiceContract | None = None) -> None:
    """Find the contract and entitlement covering the case and set ``entitlement_status``.

    An incident entitlement is charged one incident when the case is saved
    (``_charge_entitlement``); hour entitlements are charged as time is logged.
    """
    if contract is not None:
        contracts = [contract]
    elif case.account_id:
        contracts = list(ServiceContract.objects.filter(account_id=case.account_id)
                         .prefetch_related("entitlements").order_by("-ends_on", "id"))
    else:
        contracts = []
    if not contracts:
        case.entitlement_status = EntitlementStatus.NO_CONTRACT
        return
    current = [item for item in contracts if item.covers_date(today)]
    if not current:
        case.service_contract = contracts[0]
        case.entitlement_status = EntitlementStatus.EXPIRED
        return
    exhausted = None
    for item in current:
        for entitlement in item.entitlements.all():
            if not entitlement.covers(case.category, case.product):
                continue
            if entitlement.remaining > 0:
                case.service_contract, case.entitlement = item, entitlement
                case.entitlement_status = EntitlementStatus.COVERED
                return
            exhausted = exhausted or (item, entitlement)
    if exhausted is not None:
        case.service_contract, case.entitlement = exhausted
        case.entitlement_status = EntitlementStatus.EXHAUSTED
        return
    case.service_contract = current[0]
    case.entitlement_status = EntitlementStatus.NOT_COVERED


def _charge_entitlement(case: Case, actor: User | None) -> None:
    entitlement = case.entitlement
    if (entitlement is None or case.entitlement_status != EntitlementStatus.COVERED
            or entitlement.unit != EntitlementUnit.INCIDENTS
            or EntitlementUsage.objects.filter(entitlement=entitlement, case=case).exists()):
        return
    type(entitlement).objects.filter(pk=entitlement.pk).update(used=F("used") + 1)
    EntitlementUsage.objects.create(entitlement=entitlement, case=case, quantity=1, note=case.number,
                                    actor=actor if getattr(actor, "pk", None) else None)


# ======================================================================================
# Opening a case
# ======================================================================================
def _customer(actor: User | None, data: dict, errors: dict) -> tuple[Contact | None, Account | None]:
    """The contact and account named in ``data``, checked against what ``actor`` may see."""
    contact = account = None
    if data.get("contact_id"):
        try:
            contact = (core_selectors.access_contact_by_id(actor, data["contact_id"]) if actor is not None
                       else Contact.objects.select_related("account").get(pk=data["contact_id"]))
        except (NotFound, Contact.DoesNotExist, PermissionDenied):
            errors["contact_id"] = [_("Unknown contact.")]
    if data.get("account_id"):
        accounts = core_selectors.visible_accounts(actor) if actor is not None else Account.objects.all()
        try:
            account = accounts.get(pk=data["account_id"])
        except (Account.DoesNotExist, PermissionDenied, ValueError, TypeError):
            errors["account_id"] = [_("Unknown account.")]
    if contact is not None and account is None and contact.account_id:
        account = contact.account
    if contact is not None and account is not None and contact.account_id and contact.account_id != account.pk:
        errors["account_id"] = [_("The contact belongs to another account.")]
    return contact, account


def _link_sales_documents(case: Case, actor: User | None, contact: Contact | None, account: Account | None,
                          errors: dict) -> None:
    """An order or sales-contract number of this customer becomes a real link to the sales
    document (closed loop: order → contract → service). A number the CRM does not know
    (an outside system's, a customer's typo) stays as typed; one of another customer's
    documents is refused for staff and left unlinked for customers' own channels."""
    from guanxi.sales.models import Contract, Order

    for field, link, model in (("order_ref", "order", Order), ("sales_contract_ref", "sales_contract", Contract)):
        number = (getattr(case, field) or "").strip()
        document = model.objects.filter(number__iexact=number).first() if number else None
        same_customer = document is not None and (
            (account is not None and document.account_id == account.pk)
            or (contact is not None and document.contact_id == contact.pk))
        if same_customer:
            setattr(case, link, document)
            setattr(case, field, document.number)
            continue
        setattr(case, link, None)
        if document is not None and actor is not None:
            errors.setdefault(field, []).append(_("%(number)s belongs to another customer.") % {"number": number})


def _apply_fields(case: Case, data: dict, fields: tuple[str, ...]) -> None:
    for field in fields:
        if field in data and data[field] is not None:
            value = data[field]
            setattr(case, field, value.strip() if isinstance(value, str) else value)


def _clean(case: Case, errors: dict) -> None:
    try:
        case.full_clean(exclude=["number", "contact", "account", "order", "sales_contract", "assignee", "queue",
                                 "team", "territory", "created_by", "service_contract", "entitlement", "sla_policy",
                                 "episode", "search_text", "version"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)


@dataclass(frozen=True)
class FirstMessage:
    """How the first message of a case arrived (email-in fills the headers)."""

    from_address: str = ""
    to_addresses: str = ""
    message_id: str | None = None
    in_reply_to: str = ""
    references: str = ""


@transaction.atomic
def case_open(*, actor: User | None, data: dict, attachments: list[IncomingFile] = (),
              first_message: FirstMessage | None = None, ip_address: str | None = None) -> Case:
    """Open a case from any channel.

    Staff name the customer (``contact_id`` or ``account_id``); a system source may open a
    case for an unknown sender (``requester_email``), which is flagged for triage. The
    case gets its number, SLA deadlines and entitlement check, its description becomes the
    first message (and the first act of the case's episode on the customer's timeline),
    and it is assigned: to ``assignee_id`` if given, else through its queue (``queue_id``,
    or the queue serving its category) by the routing engine.
    """
    if actor is not None and not can(actor, "case", "create"):
        raise PermissionDenied(_("You may not open cases."))
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    case = Case(created_at=now, updated_at=now, created_by=actor if getattr(actor, "pk", None) else None)
    _apply_fields(case, data, CASE_FIELDS)
    if not data.get("origin"):
        case.origin = CaseOrigin.PHONE if actor is not None else CaseOrigin.API
    contact, account = _customer(actor, data, errors)
    if data.get("requester_email"):
        try:
            case.requester_email = normalize_email(str(data["requester_email"]))
        except ValidationError as error:
            errors["requester_email"] = list(error.messages)
    elif contact is not None and contact.email:
        case.requester_email = contact.email
    if contact is None and account is None and "contact_id" not in errors and "account_id" not in errors:
        if actor is not None and not case.requester_email:
            errors["contact_id"] = [_("Name the contact or the customer account.")]
        else:
            case.needs_triage = True
    if contact is not None and not case.requester_name:
        case.requester_name = contact.full_name
    contract = None
    if data.get("service_contract_id"):
        contract = ServiceContract.objects.filter(pk=data["service_contract_id"]).prefetch_related(
            "entitlements").first()
        if contract is None or account is None or contract.account_id != account.pk:
            errors["service_contract_id"] = [_("Unknown service contract for this customer.")]
    queue = assignee = None
    if data.get("queue_id"):
        queue = ServiceQueue.objects.filter(pk=data["queue_id"], is_active=True).first()
        if queue is None:
            errors["queue_id"] = [_("Unknown queue.")]
    if data.get("assignee_id"):
        assignee = User.objects.filter(pk=data["assignee_id"]).first()
        if assignee is None or not may_work_cases(assignee):
            errors["assignee_id"] = [_("This person cannot work on cases.")]
    _link_sales_documents(case, actor, contact, account, errors)
    errors.update(attachment_errors(list(attachments)))
    _clean(case, errors)
    if errors:
        raise ValidationError(errors)

    case.contact, case.account = contact, account
    case.territory_id = (contact.territory_id if contact is not None and contact.territory_id
                         else account.territory_id if account is not None else None)
    case.number = next_number("CS", now)
    if not case.needs_triage or contract is not None:
        check_entitlement(case, timezone.localdate(now), contract)
    sla.apply_policy(case, sla.policy_for(case), now, opening=True)
    _save(case)
    _charge_entitlement(case, actor)
    _event(case, CaseEventKind.CREATED, actor, to_value=case.get_origin_display(), at=now,
           detail=_("Flagged for triage: unknown sender.") if case.needs_triage else "")
    if case.entitlement_status:
        _event(case, CaseEventKind.ENTITLEMENT, actor, to_value=case.get_entitlement_status_display(), at=now,
               detail=str(case.entitlement or case.service_contract or ""))
    _ensure_episode(case)
    if case.description or attachments:
        first = first_message or FirstMessage(from_address=case.requester_email)
        message = CaseMessage.objects.create(
            case=case, kind=MessageKind.CUSTOMER, channel=ORIGIN_CHANNEL.get(case.origin, "web"),
            author=actor if actor is not None and case.origin not in (CaseOrigin.EMAIL, CaseOrigin.WEB) else None,
            from_address=first.from_address[:320], to_addresses=first.to_addresses[:1000],
            subject=case.subject[:300], body=case.description, message_id=first.message_id,
            in_reply_to=first.in_reply_to[:300], references=first.references, created_at=now)
        _store_attachments(message, list(attachments))
        _record_interaction(case, message)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=case, ip_address=ip_address, changes=diff({}, {
        "number": case.number, "status": case.status, "priority": case.priority, "category": case.category,
        "origin": case.origin, "contact_id": case.contact_id, "account_id": case.account_id}))
    if assignee is not None:
        _assign(case, assignee, actor, now, detail=_("Assigned when opened."))
        _save(case)
    else:
        queue = queue or _queue_for_category(case.category)
        if queue is not None:
            _enqueue(case, queue, actor, now)
            _save(case)
            queue_route(queue_id=queue.pk)
            case.refresh_from_db()
    send_on_commit(record_changed, Case, instance=case, action="create", actor=actor)
    return case


def _queue_for_category(category: str) -> ServiceQueue | None:
    for queue in ServiceQueue.objects.filter(is_active=True).order_by("name", "pk"):
        if category in (queue.categories or []):
            return queue
    return None


# ======================================================================================
# Changing a case
# ======================================================================================
@transaction.atomic
def case_update(*, actor: User, case_id: int, data: dict, expected_version: int | None = None,
                ip_address: str | None = None) -> Case:
    """Correct what the case is about; a new priority re-selects the SLA policy and moves
    the deadlines (working time already counted stays counted)."""
    case = selectors.access_case_by_id(actor, case_id, "change")
    case = _lock(case.pk)
    _check_version(case, expected_version)
    before = {field: getattr(case, field) for field in CHANGEABLE_FIELDS}
    errors: dict[str, list[str]] = {}
    for field in ("status", "assignee_id", "queue_id", "contact_id", "account_id"):
        if field in data:
            errors[field] = [_("Use the dedicated action to change this.")]
    _apply_fields(case, data, CHANGEABLE_FIELDS)
    if case.order_ref != before["order_ref"] or case.sales_contract_ref != before["sales_contract_ref"]:
        _link_sales_documents(case, actor, case.contact, case.account, errors)
    _clean(case, errors)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    if case.priority != before["priority"]:
        _event(case, CaseEventKind.PRIORITY, actor, from_value=before["priority"], to_value=case.priority, at=now)
        sla.apply_policy(case, sla.policy_for(case), now, opening=False)
    _touch(case, now)
    _save(case)
    after = {field: getattr(case, field) for field in CHANGEABLE_FIELDS}
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=case, changes=diff(before, after), ip_address=ip_address)
    send_on_commit(record_changed, Case, instance=case, action="update", actor=actor)
    return case


def _set_status(case: Case, status: str, actor: User | None, now: dt.datetime, *, note: str = "") -> None:
    """Move ``case`` (locked) to ``status`` with everything that goes with it; the caller saves."""
    previous = case.status
    if status == previous:
        return
    if status not in ALLOWED_TRANSITIONS.get(previous, ()):
        raise ValidationError({"status": [_("A case cannot go from “%(from)s” to “%(to)s”.") % {
            "from": case.get_status_display(), "to": CaseStatus(status).label}]})
    case.status = status
    if status == CaseStatus.PENDING_CUSTOMER:
        sla.stop_clock(case, now)
    elif status in (CaseStatus.OPEN, CaseStatus.ESCALATED, CaseStatus.REOPENED):
        sla.start_clock(case, now)
    if status == CaseStatus.ESCALATED:
        case.escalation_level += 1
        case.escalated_at = now
    if status == CaseStatus.RESOLVED:
        sla.stop_clock(case, now)
        case.resolved_at = now
        if case.resolution_target_seconds is not None and not case.resolution_breached and \
                case.resolution_used_seconds > case.resolution_target_seconds:
            case.resolution_breached = True
        if case.first_responded_at is None and case.first_response_due_at and now > case.first_response_due_at:
            case.first_response_breached = True
        replies = case.messages.filter(kind=MessageKind.REPLY).count()
        case.first_contact_resolution = replies <= 1 and case.reopened_count == 0
        if note:
            case.resolution_note = note
    if status == CaseStatus.CLOSED:
        case.closed_at = now
    if status == CaseStatus.REOPENED:
        case.reopened_count += 1
        case.resolved_at = case.closed_at = None
        case.first_contact_resolution = False
    kind = CaseEventKind.REOPENED if status == CaseStatus.REOPENED else (
        CaseEventKind.ESCALATED if status == CaseStatus.ESCALATED else CaseEventKind.STATUS)
    _event(case, kind, actor, from_value=previous, to_value=status, detail=note, at=now)


@transaction.atomic
def case_change_status(*, actor: User, case_id: int, status: str, note: str = "",
                       expected_version: int | None = None) -> Case:
    """Move a case along the status flow (``ALLOWED_TRANSITIONS``).

    Pending customer pauses the resolution clock; resolving stops it, records whether the
    targets were met and whether it was a first-contact resolution, and sends the
    satisfaction survey; reopening resumes the clock.
    """
    case = selectors.access_case_by_id(actor, case_id, "change")
    case = _lock(case.pk)
    _check_version(case, expected_version)
    if status not in CaseStatus.values:
        raise ValidationError({"status": [_("Unknown status “%(status)s”.") % {"status": status}]})
    previous = case.status
    now = timezone.now()
    _set_status(case, status, actor, now, note=note)
    _touch(case, now)
    _save(case)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=case, changes={"status": [previous, case.status]})
    _after_status(case, previous, actor)
    send_on_commit(record_changed, Case, instance=case, action="update", actor=actor)
    return case


def _after_status(case: Case, previous: str, actor: User | None) -> None:
    if case.status == CaseStatus.RESOLVED:
        from guanxi.service.services.surveys import survey_send_for_case

        survey_send_for_case(case=case)
    if previous in OPEN_STATUSES and case.status not in OPEN_STATUSES and case.assignee_id:
        route_after_capacity_freed(case.assignee_id)


# ======================================================================================
# Assignment (through the routing engine)
# ======================================================================================
def _assign(case: Case, user: User, actor: User | None, now: dt.datetime, *, detail: str = "") -> None:
    previous = case.assignee
    case.assignee = user
    case.team_id = user.team_id
    case.queued_at = None
    if case.status == CaseStatus.NEW and actor is not None and actor.pk == user.pk:
        case.status = CaseStatus.OPEN
    _event(case, CaseEventKind.ASSIGNED, actor, from_value=str(previous or ""), to_value=str(user), detail=detail,
           at=now)
    ServiceAgent.objects.filter(user=user).update(last_assigned_at=now)
    if actor is None or actor.pk != user.pk:
        notify(user, case, "assigned", "Case %(number)s was assigned to you: %(subject)s",
               number=case.number, subject=case.subject)


def _enqueue(case: Case, queue: ServiceQueue, actor: User | None, now: dt.datetime) -> None:
    previous = case.assignee
    case.queue = queue
    case.assignee = None
    case.queued_at = now
    _event(case, CaseEventKind.QUEUED, actor, from_value=str(previous or ""), to_value=queue.name, at=now)


@transaction.atomic
def case_assign(*, actor: User, case_id: int, assignee_id: int | None = None, queue_id: int | None = None,
                note: str = "", expected_version: int | None = None) -> Case:
    """Give the case to a person, or put it (back) in a queue for the routing engine.

    Every reassignment is kept in the case history with who did it and why.
    """
    case = selectors.access_case_by_id(actor, case_id, "change")
    case = _lock(case.pk)
    _check_version(case, expected_version)
    if (assignee_id is None) == (queue_id is None):
        raise ValidationError({"assignee_id": [_("Name either a person or a queue.")]})
    if case.status not in OPEN_STATUSES:
        raise Conflict(_("Only open cases can be assigned."))
    now = timezone.now()
    previous = case.assignee_id
    queue = None
    if assignee_id is not None:
        user = User.objects.filter(pk=assignee_id).first()
        if user is None or not may_work_cases(user):
            raise ValidationError({"assignee_id": [_("This person cannot work on cases.")]})
        _assign(case, user, actor, now, detail=note)
    else:
        queue = ServiceQueue.objects.filter(pk=queue_id, is_active=True).first()
        if queue is None:
            raise ValidationError({"queue_id": [_("Unknown queue.")]})
        _enqueue(case, queue, actor, now)
    _touch(case, now)
    _save(case)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=case,
                 changes={"assignee_id": [previous, case.assignee_id], "queue_id": [None, queue_id]})
    if queue is not None:
        queue_route(queue_id=queue.pk)
        case.refresh_from_db()
    if previous and previous != case.assignee_id:
        route_after_capacity_freed(previous)
    send_on_commit(record_changed, Case, instance=case, action="update", actor=actor)
    return case


def _qualifies(agent: ServiceAgent, queue: ServiceQueue, explicit: set[int]) -> bool:
    if agent.pk in explicit:
        return True
    required = case_routing.valid_skills(queue.required_skills)
    skills = case_routing.valid_skills(agent.skills)
    return bool(required) and all(skills.get(skill, 0) >= level for skill, level in required.items())


@transaction.atomic
def queue_route(*, queue_id: int) -> list[tuple[int, int]]:
    """Assign the queue's waiting cases to free agents, as the routing engine decides.

    Runs when a case joins the queue, when an agent frees capacity or starts accepting
    cases, and every minute from the SLA sweep. The queue row is locked, so two passes
    never hand out the same agent's last free slot twice.
    """
    queue = ServiceQueue.objects.select_for_update().filter(pk=queue_id, is_active=True).first()
    if queue is None:
        return []
    waiting = list(Case.objects.filter(queue=queue, assignee__isnull=True, status__in=OPEN_STATUSES)
                   .select_related("account", "contact"))
    if not waiting:
        return []
    penalties = dict(QueueMembership.objects.filter(queue=queue).values_list("agent_id", "penalty"))
    agents = [agent for agent in ServiceAgent.objects.filter(user__is_active=True).select_related("user")
              if _qualifies(agent, queue, set(penalties)) and may_work_cases(agent.user)]
    loads = selectors.agent_open_case_counts(agent.user_id for agent in agents)
    decisions = case_routing.decide_assignments(
        case_routing.QueueSnapshot(queue.code, queue.strategy, queue.required_skills or {},
                                   queue.experts_from_priority, queue.last_assigned_id),
        [case_routing.AgentSnapshot(agent.user_id, agent.skills or {}, agent.max_open_cases, agent.accepting_cases,
                                    loads.get(agent.user_id, 0), penalties.get(agent.pk),
                                    agent.last_assigned_at.timestamp() if agent.last_assigned_at else 0.0)
         for agent in agents],
        [case_routing.WaitingCase(case.pk, case.priority, sla.customer_tier(case),
                                  (case.queued_at or case.created_at).timestamp()) for case in waiting])
    if not decisions:
        return []
    users = {agent.user_id: agent.user for agent in agents}
    by_id = {case.pk: case for case in waiting}
    now = timezone.now()
    strategy = queue.get_strategy_display()
    for case_id, user_id in decisions:
        case = _lock(case_id)
        if case.assignee_id is not None or case.queue_id != queue.pk:
            continue
        _assign(case, users[user_id], None, now, detail=_("By queue %(queue)s (%(strategy)s).") % {
            "queue": queue.name, "strategy": strategy})
        _touch(case, now)
        _save(case)
        by_id[case_id] = case
    ServiceQueue.objects.filter(pk=queue.pk).update(last_assigned_id=decisions[-1][1])
    return decisions


def route_after_capacity_freed(user_id: int) -> None:
    """An agent finished a case or came back: let the queues they serve try again."""
    agent = ServiceAgent.objects.filter(user_id=user_id).first()
    if agent is None:
        return
    explicit = set(QueueMembership.objects.filter(agent=agent).values_list("queue_id", flat=True))
    waiting = set(Case.objects.filter(queue__isnull=False, assignee__isnull=True, status__in=OPEN_STATUSES)
                  .values_list("queue_id", flat=True))
    for queue in ServiceQueue.objects.filter(pk__in=waiting, is_active=True):
        if queue.pk in explicit or _qualifies(agent, queue, set()):
            queue_route(queue_id=queue.pk)


def route_all_waiting() -> int:
    """Route every queue that has waiting cases (the periodic sweep calls this)."""
    assigned = 0
    queue_ids = set(Case.objects.filter(queue__isnull=False, assignee__isnull=True, status__in=OPEN_STATUSES)
                    .values_list("queue_id", flat=True))
    for queue_id in sorted(queue_ids):
        assigned += len(queue_route(queue_id=queue_id))
    return assigned


# ======================================================================================
# The thread: replies, notes, customer messages
# ======================================================================================
@transaction.atomic
def case_reply(*, actor: User, case_id: int, body: str, kind: str = MessageKind.REPLY,
               attachments: list[IncomingFile] = (), new_status: str = "", channel: str = "",
               expected_version: int | None = None) -> CaseMessage:
    """Add an agent's reply to the customer (emailed when the case has an address) or an
    internal note. The first reply meets the first-response target; ``new_status`` moves
    the case on in the same step (e.g. pending customer, resolved)."""
    case = selectors.access_case_for_messages(actor, case_id, "create")
    case = _lock(case.pk)
    _check_version(case, expected_version)
    errors: dict[str, list[str]] = {}
    body = (body or "").strip()
    if kind not in (MessageKind.REPLY, MessageKind.NOTE):
        errors["kind"] = [_("Choose reply or note.")]
    if not body and not attachments:
        errors["body"] = [_("Write a message or attach a file.")]
    errors.update(attachment_errors(list(attachments)))
    if new_status and new_status not in CaseStatus.values:
        errors["new_status"] = [_("Unknown status “%(status)s”.") % {"status": new_status}]
    if errors:
        raise ValidationError(errors)
    if case.status == CaseStatus.CLOSED and kind == MessageKind.REPLY:
        raise Conflict(_("The case is closed; reopen it before replying."))
    now = timezone.now()
    recipient = case.requester_email or (case.contact.email if case.contact_id and case.contact else "")
    # A written reply goes by email when there is an address; a reply given another way
    # (on the phone, in the shop) is recorded with that channel.
    channel = channel or ("email" if recipient else ORIGIN_CHANNEL.get(case.origin, "phone"))
    emailed = kind == MessageKind.REPLY and channel == "email" and bool(recipient)
    last_inbound = case.messages.filter(kind=MessageKind.CUSTOMER).exclude(message_id=None).order_by("-created_at",
                                                                                                     "-id").first()
    message = CaseMessage.objects.create(
        case=case, kind=kind, channel=channel, author=actor, from_address=service_mailbox() if emailed else "",
        to_addresses=recipient if emailed else "", subject=case.email_subject[:300], body=body,
        message_id=make_msgid(idstring=f"case{case.pk}", domain=_mail_domain()) if emailed else None,
        in_reply_to=(last_inbound.message_id or "") if last_inbound and emailed else "",
        references=_references(case) if emailed else "",
        delivery_status=DeliveryStatus.QUEUED if emailed else DeliveryStatus.NONE, created_at=now)
    _store_attachments(message, list(attachments))
    previous = case.status
    if kind == MessageKind.REPLY:
        if case.first_responded_at is None:
            case.first_responded_at = now
            if case.first_response_due_at and now > case.first_response_due_at:
                case.first_response_breached = True
            _event(case, CaseEventKind.FIRST_RESPONSE, actor, at=now)
        if not new_status and case.status in (CaseStatus.NEW, CaseStatus.REOPENED):
            _set_status(case, CaseStatus.OPEN, actor, now)
        _record_interaction(case, message)
    if new_status:
        _set_status(case, new_status, actor, now)
    _touch(case, now)
    _save(case)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=message,
                 changes={"case": [None, case.number], "kind": [None, kind]})
    if case.status != previous:
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=case, changes={"status": [previous, case.status]})
        _after_status(case, previous, actor)
    if emailed:
        from guanxi.jobs.services import job_enqueue

        job_enqueue(actor=None, kind="service.send_case_message", params={"message_id": message.pk},
                    title=f"Email reply on {case.number}", idempotency_key=f"service.send_case_message:{message.pk}")
        message.refresh_from_db(fields=["delivery_status"])
    send_on_commit(record_changed, Case, instance=case, action="update", actor=actor)
    return message


def _mail_domain() -> str:
    address = service_mailbox()
    return address.rsplit("@", 1)[-1] if "@" in address else "guanxi.invalid"


def _references(case: Case) -> str:
    ids = [message_id for message_id in case.messages.exclude(message_id=None).order_by("created_at", "id")
           .values_list("message_id", flat=True)]
    return " ".join(ids[-20:])


@transaction.atomic
def case_add_customer_message(*, case_id: int, body: str, channel: str = "email", from_address: str = "",
                              subject: str = "", message_id: str | None = None, in_reply_to: str = "",
                              references: str = "", attachments: list[IncomingFile] = (),
                              author: User | None = None) -> CaseMessage:
    """A message from the customer (email-in, portal): added to the thread and timeline.

    Nothing the customer sends is lost: an answer to a case pending the customer resumes
    it, and a message to a resolved or closed case reopens it.
    """
    case = _lock(case_id)
    now = timezone.now()
    message = CaseMessage.objects.create(
        case=case, kind=MessageKind.CUSTOMER, channel=channel, author=author, from_address=from_address[:320],
        to_addresses=service_mailbox()[:1000], subject=subject[:300], body=body, message_id=message_id,
        in_reply_to=in_reply_to[:300], references=references, created_at=now)
    _store_attachments(message, list(attachments))
    previous = case.status
    if case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        _set_status(case, CaseStatus.REOPENED, None, now, note=_("The customer wrote again."))
        notify(case.assignee, case, "reopened", "Case %(number)s was reopened by a message from the customer.",
               number=case.number)
    elif case.status == CaseStatus.PENDING_CUSTOMER:
        _set_status(case, CaseStatus.OPEN, None, now, note=_("The customer answered."))
        notify(case.assignee, case, "customer_answered", "The customer answered on case %(number)s.",
               number=case.number)
    else:
        notify(case.assignee, case, "customer_message", "New message from the customer on case %(number)s.",
               number=case.number)
    _touch(case, now)
    _save(case)
    _record_interaction(case, message)
    audit_record(actor=author, action=AuditAction.CREATE, obj=message,
                 changes={"case": [None, case.number], "kind": [None, MessageKind.CUSTOMER]})
    if previous != case.status:
        audit_record(actor=author, action=AuditAction.UPDATE, obj=case, changes={"status": [previous, case.status]})
        if case.assignee_id is None and case.queue_id:
            queue_route(queue_id=case.queue_id)
    send_on_commit(record_changed, Case, instance=case, action="update", actor=author)
    return message


# ======================================================================================
# The public web form
# ======================================================================================
def contact_by_email(address: str) -> Contact | None:
    """The contact an email address belongs to (a primary address first), if any."""
    from guanxi.core.models import ContactEmail

    if not address:
        return None
    row = ContactEmail.objects.filter(email=address).select_related("contact").order_by("-is_primary", "id").first()
    if row is not None:
        return row.contact
    return Contact.objects.filter(email=address).order_by("id").first()


@transaction.atomic
def case_submit_from_web(*, data: dict, attachments: list[IncomingFile] = (), ip_address: str | None = None
                         ) -> Case:
    """A case sent by a customer through the public web form (no sign-in).

    A known email address links the case to its contact; an unknown one leaves it for
    triage, as for email-in. Only what a customer may set is taken from ``data``.
    """
    errors: dict[str, list[str]] = {}
    email = ""
    try:
        email = normalize_email(str(data.get("email") or ""))
    except ValidationError as error:
        errors["email"] = list(error.messages)
    if not (data.get("subject") or "").strip():
        errors["subject"] = [_("Say in a few words what it is about.")]
    if not (data.get("description") or "").strip():
        errors["description"] = [_("Describe the problem.")]
    if errors:
        raise ValidationError(errors)
    contact = contact_by_email(email)
    case_data = {"subject": data["subject"], "description": data["description"],
                 "category": data.get("category") or "other", "origin": CaseOrigin.WEB,
                 "requester_email": email, "requester_name": (data.get("name") or "").strip()[:200],
                 "product": (data.get("product") or "").strip()[:200],
                 "order_ref": (data.get("order_ref") or "").strip()[:64]}
    if contact is not None:
        case_data["contact_id"] = contact.pk
    return case_open(actor=None, data=case_data, attachments=attachments, ip_address=ip_address,
                     first_message=FirstMessage(from_address=email))


# ======================================================================================
# Triage: linking a contact-less case to its customer
# ======================================================================================
@transaction.atomic
def case_link_customer(*, actor: User, case_id: int, contact_id: int | None = None,
                       account_id: int | None = None) -> Case:
    """Name the customer of a case (e.g. one from an unknown sender): the case leaves
    triage, its SLA follows the customer's tier, its entitlement is checked, and its
    messages so far land on the customer's timeline."""
    case = selectors.access_case_by_id(actor, case_id, "change")
    case = _lock(case.pk)
    errors: dict[str, list[str]] = {}
    if not contact_id and not account_id:
        errors["contact_id"] = [_("Name the contact or the customer account.")]
    contact, account = _customer(actor, {"contact_id": contact_id, "account_id": account_id}, errors)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    before = {"contact_id": case.contact_id, "account_id": case.account_id}
    case.contact, case.account = contact, account
    case.needs_triage = False
    _link_sales_documents(case, None, contact, account, {})   # numbers the sender gave now find their documents
    if contact is not None and not case.requester_name:
        case.requester_name = contact.full_name
    case.territory_id = (contact.territory_id if contact is not None and contact.territory_id
                         else account.territory_id if account is not None else None)
    if case.entitlement_status in ("", EntitlementStatus.NO_CONTRACT):
        check_entitlement(case, timezone.localdate(now))
    sla.apply_policy(case, sla.policy_for(case), now, opening=False)
    _event(case, CaseEventKind.CUSTOMER_LINKED, actor, to_value=str(contact or account), at=now)
    _touch(case, now)
    _save(case)
    _charge_entitlement(case, actor)
    _ensure_episode(case)
    for message in case.messages.filter(interaction__isnull=True).exclude(kind=MessageKind.NOTE):
        _record_interaction(case, message)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=case, changes=diff(before, {
        "contact_id": case.contact_id, "account_id": case.account_id}))
    send_on_commit(record_changed, Case, instance=case, action="update", actor=actor)
    return case


@transaction.atomic
def case_delete(*, actor: User, case_id: int) -> None:
    case = selectors.access_case_by_id(actor, case_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=case, changes={"number": [case.number, None]})
    case.delete()
    send_on_commit(record_changed, Case, instance=case, action="delete", actor=actor)


@transaction.atomic
def notification_mark_read(*, actor: User, notification_ids: list[int] | None = None) -> int:
    """Mark the actor's notices read (all of them when no IDs are given)."""
    queryset = ServiceNotification.objects.filter(recipient_id=actor.pk, read_at__isnull=True)
    if notification_ids is not None:
        queryset = queryset.filter(pk__in=notification_ids)
    return queryset.update(read_at=timezone.now())


# ======================================================================================
# SLA sweep and escalation
# ======================================================================================
SWEEP_ORDER = (
    (SlaTrigger.FIRST_RESPONSE_WARNING, "first_response_warning_at", "first_response_warned", True),
    (SlaTrigger.RESOLUTION_WARNING, "resolution_warning_at", "resolution_warned", False),
    (SlaTrigger.FIRST_RESPONSE_BREACH, "first_response_due_at", "first_response_breached", True),
    (SlaTrigger.RESOLUTION_BREACH, "resolution_due_at", "resolution_breached", False),
)
BREACH_TRIGGERS = (SlaTrigger.FIRST_RESPONSE_BREACH, SlaTrigger.RESOLUTION_BREACH)


def sla_sweep(*, now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """Fire the warnings and breaches that are due, each once, with their escalation rules.

    Called every minute by the job system's scheduler (``tasks.sla_sweep_every_minute``),
    which runs inside ``guanxi serve`` with zero services configured. Finding the due
    cases is one indexed query per trigger over the stored deadlines; each case then
    changes in its own transaction, so one bad case never holds up the others.
    """
    now = now or timezone.now()
    fired = {trigger.value: 0 for trigger, *_rest in SWEEP_ORDER}
    for trigger, deadline, flag, first_response in SWEEP_ORDER:
        condition = {f"{deadline}__lte": now, flag: False, "status__in": OPEN_STATUSES}
        if first_response:
            condition["first_responded_at__isnull"] = True
        due = list(Case.objects.filter(**condition).order_by(deadline, "pk").values_list("pk", flat=True)[:limit])
        for case_id in due:
            if _fire(case_id, trigger, deadline, flag, first_response, now):
                fired[trigger.value] += 1
    return fired


@transaction.atomic
def _fire(case_id: int, trigger: str, deadline: str, flag: str, first_response: bool, now: dt.datetime) -> bool:
    case = _lock(case_id)
    due_at = getattr(case, deadline)
    if (getattr(case, flag) or due_at is None or due_at > now or case.status not in OPEN_STATUSES
            or (first_response and case.first_responded_at is not None)):
        return False  # another sweep got here first, or the case moved on
    setattr(case, flag, True)
    breach = trigger in BREACH_TRIGGERS
    label = SlaTrigger(trigger).label
    _event(case, CaseEventKind.SLA_BREACH if breach else CaseEventKind.SLA_WARNING, None, to_value=trigger,
           detail=_("%(what)s (due %(due)s).") % {"what": label, "due": timezone.localtime(due_at).strftime(
               "%Y-%m-%d %H:%M")}, at=now)
    previous = {"status": case.status, "priority": case.priority, "assignee_id": case.assignee_id}
    queue_to_route = None
    rules = list(case.sla_policy.escalation_rules.prefetch_related("notify_users").filter(trigger=trigger)) \
        if case.sla_policy_id else []
    for rule in rules:
        queue_to_route = _apply_rule(case, rule, now) or queue_to_route
    if not rules and case.assignee_id:
        notify(case.assignee, case, trigger, "Case %(number)s: %(what)s.", number=case.number, what=label)
    _touch(case, now)
    _save(case)
    changes = {flag: [False, True]}
    for field, value in previous.items():
        if getattr(case, field) != value:
            changes[field] = [value, getattr(case, field)]
    audit_record(actor=None, action=AuditAction.UPDATE, obj=case, changes=changes)
    if queue_to_route is not None:
        queue_route(queue_id=queue_to_route)
    send_on_commit(record_changed, Case, instance=case, action="update", actor=None)
    return True


def _apply_rule(case: Case, rule, now: dt.datetime) -> int | None:
    """Carry out one escalation rule on a locked case; returns a queue to route, if any."""
    label = rule.get_trigger_display()
    if rule.raise_priority and case.priority != CasePriority.URGENT:
        old = case.priority
        case.priority = PRIORITY_ORDER[min(PRIORITY_ORDER.index(old) + 1, len(PRIORITY_ORDER) - 1)]
        _event(case, CaseEventKind.PRIORITY, None, from_value=old, to_value=case.priority, detail=str(label), at=now)
        sla.apply_policy(case, sla.policy_for(case), now, opening=False)
    if rule.mark_escalated and CaseStatus.ESCALATED in ALLOWED_TRANSITIONS.get(case.status, ()):
        _set_status(case, CaseStatus.ESCALATED, None, now, note=str(label))
    previous_assignee = case.assignee
    queue_id = None
    if rule.reassign_to_id and rule.reassign_to.is_active and rule.reassign_to_id != case.assignee_id:
        _assign(case, rule.reassign_to, None, now, detail=str(label))
    elif rule.reassign_queue_id and rule.reassign_queue.is_active:
        _enqueue(case, rule.reassign_queue, None, now)
        queue_id = rule.reassign_queue_id
    recipients = {user.pk: user for user in rule.notify_users.all()}
    if rule.notify_assignee:
        for person in (previous_assignee, case.assignee):
            if person is not None:
                recipients[person.pk] = person
    for person in recipients.values():
        notify(person, case, rule.trigger, "Case %(number)s escalated: %(what)s.", number=case.number, what=label)
    return queue_id


def auto_close_resolved(*, days: int | None = None, now: dt.datetime | None = None) -> int:
    """Close cases resolved more than ``days`` ago (``GUANXI_SERVICE_AUTO_CLOSE_DAYS``, 7)."""
    days = int(getattr(settings, "GUANXI_SERVICE_AUTO_CLOSE_DAYS", 7) if days is None else days)
    now = now or timezone.now()
    closed = 0
    for case_id in Case.objects.filter(status=CaseStatus.RESOLVED, resolved_at__lte=now - dt.timedelta(days=days)) \
            .values_list("pk", flat=True)[:5000]:
        with transaction.atomic():
            case = _lock(case_id)
            if case.status != CaseStatus.RESOLVED:
                continue
            _set_status(case, CaseStatus.CLOSED, None, now, note=_("Closed automatically after resolution."))
            _touch(case, now)
            _save(case)
            audit_record(actor=None, action=AuditAction.UPDATE, obj=case,
                         changes={"status": [CaseStatus.RESOLVED, CaseStatus.CLOSED]})
            closed += 1
    return closed
