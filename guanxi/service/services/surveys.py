"""Satisfaction surveys: sent when a case is resolved, answered once through a signed link."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.access import can
from guanxi.core.audit import audit_record
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.models import AuditAction, User
from guanxi.interactions.models import Direction
from guanxi.interactions.services import interaction_record
from guanxi.service import selectors
from guanxi.service.models import Case, DeliveryStatus, Language, Survey, SurveyKind

SIGNING_SALT = "guanxi.service.survey"


def survey_days() -> int:
    """How long a survey link works (``GUANXI_SERVICE_SURVEY_DAYS``, 14 days)."""
    return int(getattr(settings, "GUANXI_SERVICE_SURVEY_DAYS", 14))


def survey_link_token(survey: Survey) -> str:
    """The signed token in the survey link: tampering with it makes the link invalid."""
    return signing.Signer(salt=SIGNING_SALT).sign(survey.token)


def survey_token_from_link(signed: str) -> str:
    try:
        return signing.Signer(salt=SIGNING_SALT).unsign(signed)
    except signing.BadSignature:
        raise NotFound("survey") from None


def survey_path(survey: Survey) -> str:
    return reverse("service:survey_answer", args=[survey_link_token(survey)])


def survey_url(survey: Survey) -> str:
    """The link for emails: ``GUANXI_BASE_URL`` (the address customers reach Guanxi at)."""
    base = getattr(settings, "GUANXI_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + survey_path(survey)


def survey_send_for_case(*, case: Case, actor: User | None = None, kind: str = SurveyKind.BOTH) -> Survey | None:
    """Create the case's survey (once) and email its link to the customer.

    A case without an address to write to gets no survey; a case resolved again after
    reopening keeps its first survey.
    """
    existing = Survey.objects.filter(case=case).first()
    if existing is not None:
        return existing
    recipient = case.requester_email or (case.contact.email if case.contact_id and case.contact else "")
    if not recipient:
        return None
    language = (case.contact.preferred_language if case.contact_id and case.contact
                else Language.CHINESE if any("\u4e00" <= char <= "\u9fff" for char in case.subject)
                else Language.ENGLISH)
    now = timezone.now()
    survey = Survey.objects.create(
        case=case, kind=kind, token=secrets.token_urlsafe(24), language=language, recipient_email=recipient,
        contact=case.contact, account=case.account, agent=case.assignee, product=case.product[:200],
        channel=case.origin, sent_at=now, expires_at=now + dt.timedelta(days=survey_days()),
        delivery_status=DeliveryStatus.QUEUED)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=survey, changes={"case": [None, case.number]})
    from guanxi.jobs.services import job_enqueue

    job_enqueue(actor=None, kind="service.send_survey", params={"survey_id": survey.pk},
                title=f"Satisfaction survey for {case.number}", idempotency_key=f"service.send_survey:{survey.pk}")
    return survey


@transaction.atomic
def survey_send(*, actor: User, case_id: int, kind: str = SurveyKind.BOTH) -> Survey:
    """Send the survey of a resolved or closed case by hand (e.g. when resolution sent none)."""
    if not can(actor, "survey", "create"):
        raise PermissionDenied(_("You may not send surveys."))
    case = selectors.access_case_by_id(actor, case_id)
    if case.status not in ("resolved", "closed"):
        raise Conflict(_("A survey is sent once the case is resolved."))
    if kind not in SurveyKind.values:
        raise ValidationError({"kind": [_("Unknown survey kind.")]})
    if Survey.objects.filter(case=case).exists():
        raise Conflict(_("This case already has a survey."))
    survey = survey_send_for_case(case=case, actor=actor, kind=kind)
    if survey is None:
        raise ValidationError({"case_id": [_("The case has no email address to send the survey to.")]})
    return survey


def _score(value, low: int, high: int, field: str, required: bool, errors: dict) -> int | None:
    if value in (None, ""):
        if required:
            errors[field] = [_("Choose a score from %(low)d to %(high)d.") % {"low": low, "high": high}]
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high or str(value).strip() not in (str(number), f"{number}.0"):
        errors[field] = [_("Choose a score from %(low)d to %(high)d.") % {"low": low, "high": high}]
        return None
    return number


@transaction.atomic
def survey_answer(*, token: str, csat_score=None, nps_score=None, comment: str = "") -> Survey:
    """The customer's answer, accepted once before the link expires; it lands on the
    customer's timeline as a web self-service act of the case's episode."""
    survey = Survey.objects.select_for_update(of=("self",)).filter(token=token).select_related("case").first()
    if survey is None:
        raise NotFound("survey")
    if survey.answered_at is not None:
        raise Conflict(_("This survey has already been answered. Thank you!"))
    if timezone.now() > survey.expires_at:
        raise Conflict(_("This survey link has expired."))
    errors: dict[str, list[str]] = {}
    csat = _score(csat_score, 1, 5, "csat_score", survey.kind in (SurveyKind.CSAT, SurveyKind.BOTH), errors)
    nps = _score(nps_score, 0, 10, "nps_score", survey.kind in (SurveyKind.NPS, SurveyKind.BOTH), errors)
    comment = (comment or "").strip()
    if len(comment) > 5000:
        errors["comment"] = [_("Keep the comment under 5,000 characters.")]
    if errors:
        raise ValidationError(errors)
    survey.csat_score, survey.nps_score, survey.comment = csat, nps, comment
    survey.answered_at = timezone.now()
    survey.save(update_fields=["csat_score", "nps_score", "comment", "answered_at"])
    case = survey.case
    if survey.contact_id or survey.account_id:
        parts = [f"CSAT {csat}/5" if csat is not None else "", f"NPS {nps}/10" if nps is not None else ""]
        interaction_record(actor=None, check_access=False, data={
            "contact_id": survey.contact_id, "account_id": survey.account_id, "channel": "web",
            "direction": Direction.INBOUND, "subject": _("Satisfaction survey answered: %(number)s") % {
                "number": case.number}, "outcome": ", ".join(part for part in parts if part),
            "notes": comment, "agent_id": survey.agent_id, "episode_id": case.episode_id,
            "source_type": "service_survey", "source_id": str(survey.pk)})
    audit_record(actor=None, action=AuditAction.UPDATE, obj=survey,
                 changes={"csat_score": [None, csat], "nps_score": [None, nps]})
    return survey
