"""Every read of the service domain, with the access check inside.

A case's record scope: "own" means assigned to the actor or about a customer (contact or
account) the actor owns; "team" follows the assignee's team and "territory" the
customer's territory, as for the other customer records. A case message is read and
written within the scope of its case. Configuration (calendars, SLA policies, queues,
agents) has no owner: all or nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, F, Q, QuerySet

from guanxi.core import selectors as core_selectors
from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.models import User
from guanxi.core.normalize import search_text
from guanxi.service import search
from guanxi.service.models import (
    ACTIVE_VISIT_STATUSES, OPEN_STATUSES, ArticleStatus, Case, CaseAttachment, CaseMessage, Complaint,
    EntitlementUsage, FieldVisit, InboundEmail, KnowledgeArticle, KnowledgeArticleVersion, ServiceAgent,
    ServiceCalendar, ServiceContract, ServiceNotification, ServiceQueue, SlaPolicy, Survey, TechnicianTimeOff,
)


def _require(actor: User, object_name: str, action: str) -> str:
    scope = scope_for(actor, object_name, action)
    if scope == "none":
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not {action} {object_name}")
    return scope


def _access(visible, actor: User, object_id, action: str, label: str):
    """The record if ``actor`` may ``action`` it. PermissionDenied when the role may not
    ``action`` such records at all, or may see this one but not ``action`` it; NotFound
    when the actor may not know it exists."""
    queryset = visible(actor, action)
    try:
        return queryset.get(pk=object_id)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        if action != "view":
            try:
                seen = visible(actor, "view").filter(pk=object_id).exists()
            except PermissionDenied:
                seen = False
            if seen:
                raise PermissionDenied(f"may not {action} {label} {object_id}") from None
        raise NotFound(f"{label} {object_id}") from None


# ======================================================================================
# Cases
# ======================================================================================
def case_scope_q(actor: User, scope: str) -> Q | None:
    own = Q(contact__owner_id=actor.pk) | Q(account__owner_id=actor.pk)
    return core_selectors.scope_q(actor, scope, owner="assignee", team="team", territory="territory",
                                  extra_own=own)


def visible_cases(actor: User, action: str = "view", object_name: str = "case") -> QuerySet[Case]:
    scope = _require(actor, object_name, action)
    condition = case_scope_q(actor, scope)
    return Case.objects.all() if condition is None else Case.objects.filter(condition)


def access_case_by_id(actor: User, case_id, action: str = "view") -> Case:
    return _access(lambda who, what: visible_cases(who, what).select_related(
        "contact", "account", "assignee", "queue", "sla_policy", "service_contract", "entitlement"),
        actor, case_id, action, "case")


def access_case_for_messages(actor: User, case_id, action: str = "view") -> Case:
    """The case whose thread ``actor`` may read (view) or add to (create)."""
    return _access(lambda who, what: visible_cases(who, what, "case_message").select_related(
        "contact", "account", "assignee"), actor, case_id, action, "case")


def access_attachment_by_id(actor: User, attachment_id) -> CaseAttachment:
    """An attachment of a case whose thread ``actor`` may read."""
    try:
        return CaseAttachment.objects.select_related("message").get(
            pk=attachment_id, message__case__in=visible_cases(actor, "view", "case_message"))
    except (CaseAttachment.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"attachment {attachment_id}") from None


CASE_SORTS = {
    "created": ("created_at", "id"), "-created": ("-created_at", "-id"),
    "updated": ("updated_at", "id"), "-updated": ("-updated_at", "-id"),
    "due": (F("resolution_due_at").asc(nulls_last=True), "id"),
    "priority": ("-priority_rank", "created_at", "id"),
    "number": ("number",), "-number": ("-number",),
}


@dataclass(frozen=True)
class CaseFilters:
    query: str = ""
    status: str = ""          # a status, or "open" for every open status
    priority: str = ""
    category: str = ""
    origin: str = ""
    assignee_id: int | None = None
    unassigned: bool = False
    queue_id: int | None = None
    contact_id: int | None = None
    account_id: int | None = None
    needs_triage: bool | None = None
    breached: bool | None = None
    mine: bool = False


def case_list(actor: User, filters: CaseFilters | None = None, sort: str = "-created",
              action: str = "view") -> QuerySet[Case]:
    from django.db.models import Case as When_, IntegerField, Value, When

    filters = filters or CaseFilters()
    queryset = visible_cases(actor, action).select_related("contact", "account", "assignee", "queue")
    if filters.query:
        number = filters.query.strip().upper()
        if Case.objects.filter(number=number).exists():
            queryset = queryset.filter(number=number)
        else:
            queryset = search.filter_text(queryset, filters.query)
    if filters.status == "open":
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif filters.status:
        queryset = queryset.filter(status=filters.status)
    for field in ("priority", "category", "origin", "assignee_id", "queue_id", "contact_id", "account_id"):
        value = getattr(filters, field)
        if value:
            queryset = queryset.filter(**{field: value})
    if filters.unassigned:
        queryset = queryset.filter(assignee__isnull=True)
    if filters.mine:
        queryset = queryset.filter(assignee_id=actor.pk)
    if filters.needs_triage is not None:
        queryset = queryset.filter(needs_triage=filters.needs_triage)
    if filters.breached is not None:
        breached = Q(first_response_breached=True) | Q(resolution_breached=True)
        queryset = queryset.filter(breached) if filters.breached else queryset.exclude(breached)
    if sort == "priority":
        queryset = queryset.annotate(priority_rank=When_(
            When(priority="urgent", then=Value(3)), When(priority="high", then=Value(2)),
            When(priority="normal", then=Value(1)), default=Value(0), output_field=IntegerField()))
    return queryset.order_by(*CASE_SORTS.get(sort, CASE_SORTS["-created"]))


def case_thread(actor: User, case_id: int, *, include_notes: bool = True) -> tuple[Case, QuerySet[CaseMessage]]:
    case = access_case_for_messages(actor, case_id)
    messages = case.messages.select_related("author").prefetch_related("attachments")
    if not include_notes:
        messages = messages.exclude(kind="note")
    return case, messages.order_by("created_at", "id")


def case_history(actor: User, case_id: int):
    case = access_case_by_id(actor, case_id)
    return case.events.select_related("actor").order_by("at", "id")


def customer_cases(actor: User, *, contact_id: int | None = None, account_id: int | None = None,
                   open_only: bool = True) -> QuerySet[Case]:
    """Cases of a customer that the actor may see (for the 360° page)."""
    queryset = visible_cases(actor).select_related("assignee")
    if contact_id:
        queryset = queryset.filter(contact_id=contact_id)
    if account_id:
        queryset = queryset.filter(Q(account_id=account_id) | Q(contact__account_id=account_id))
    if open_only:
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    return queryset.order_by("-created_at", "-id")


def notifications_for(actor: User, *, unread_only: bool = True) -> QuerySet[ServiceNotification]:
    queryset = ServiceNotification.objects.filter(recipient_id=actor.pk).select_related("case")
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset.order_by("-created_at", "-id")


# ======================================================================================
# Configuration: calendars, SLA policies, queues, agents (all or nothing)
# ======================================================================================
def calendar_list(actor: User, action: str = "view") -> QuerySet[ServiceCalendar]:
    _require(actor, "sla_policy", action)
    return ServiceCalendar.objects.prefetch_related("days").order_by("name")


def access_calendar_by_id(actor: User, calendar_id, action: str = "view") -> ServiceCalendar:
    return _access(calendar_list, actor, calendar_id, action, "calendar")


def sla_policy_list(actor: User, action: str = "view") -> QuerySet[SlaPolicy]:
    _require(actor, "sla_policy", action)
    return SlaPolicy.objects.select_related("calendar").prefetch_related(
        "escalation_rules__notify_users").order_by("position", "name")


def access_sla_policy_by_id(actor: User, policy_id, action: str = "view") -> SlaPolicy:
    return _access(sla_policy_list, actor, policy_id, action, "SLA policy")


def queue_list(actor: User, action: str = "view") -> QuerySet[ServiceQueue]:
    _require(actor, "service_queue", action)
    return ServiceQueue.objects.select_related("supervisor").order_by("name")


def access_queue_by_id(actor: User, queue_id, action: str = "view") -> ServiceQueue:
    return _access(queue_list, actor, queue_id, action, "queue")


def agent_list(actor: User, action: str = "view") -> QuerySet[ServiceAgent]:
    _require(actor, "service_queue", action)
    return ServiceAgent.objects.select_related("user", "calendar").order_by("user__username")


def access_agent_by_user_id(actor: User, user_id, action: str = "view") -> ServiceAgent:
    try:
        return agent_list(actor, action).get(user_id=user_id)
    except (ServiceAgent.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"service agent {user_id}") from None


def queue_waiting_counts() -> dict[int, int]:
    rows = (Case.objects.filter(queue__isnull=False, assignee__isnull=True, status__in=OPEN_STATUSES)
            .values("queue_id").annotate(count=Count("id")))
    return {row["queue_id"]: row["count"] for row in rows}


def agent_open_case_counts(user_ids=None) -> dict[int, int]:
    queryset = Case.objects.filter(assignee__isnull=False, status__in=OPEN_STATUSES)
    if user_ids is not None:
        queryset = queryset.filter(assignee_id__in=list(user_ids))
    return {row["assignee_id"]: row["count"] for row in queryset.values("assignee_id").annotate(count=Count("id"))}


# ======================================================================================
# Service contracts
# ======================================================================================
def visible_contracts(actor: User, action: str = "view") -> QuerySet[ServiceContract]:
    scope = _require(actor, "service_contract", action)
    condition = core_selectors.scope_q(actor, scope, owner="account__owner", team="account__team",
                                       territory="account__territory")
    queryset = ServiceContract.objects.select_related("account", "contact", "sla_policy")
    return queryset if condition is None else queryset.filter(condition)


def access_contract_by_id(actor: User, contract_id, action: str = "view") -> ServiceContract:
    return _access(visible_contracts, actor, contract_id, action, "service contract")


def contract_list(actor: User, *, account_id: int | None = None, active_on: dt.date | None = None,
                  action: str = "view") -> QuerySet[ServiceContract]:
    queryset = visible_contracts(actor, action).prefetch_related("entitlements")
    if account_id:
        queryset = queryset.filter(account_id=account_id)
    if active_on:
        queryset = queryset.filter(starts_on__lte=active_on, ends_on__gte=active_on)
    return queryset.order_by("-starts_on", "number")


def contract_usage(contract: ServiceContract) -> QuerySet[EntitlementUsage]:
    """What was charged to a contract's entitlements, newest first (read with the contract)."""
    return (EntitlementUsage.objects.filter(entitlement__contract=contract)
            .select_related("case", "entitlement", "actor").order_by("-at", "-id"))


# ======================================================================================
# Knowledge base
# ======================================================================================
def visible_articles(actor: User, action: str = "view") -> QuerySet[KnowledgeArticle]:
    scope = _require(actor, "knowledge_article", action)
    condition = core_selectors.scope_q(actor, scope, owner="created_by", team="created_by__team",
                                       territory="created_by__territory")
    queryset = KnowledgeArticle.objects.all()
    return queryset if condition is None else queryset.filter(condition)


def access_article_by_id(actor: User, article_id, action: str = "view") -> KnowledgeArticle:
    return _access(visible_articles, actor, article_id, action, "article")


def article_current_versions(article: KnowledgeArticle) -> dict[str, KnowledgeArticleVersion]:
    return {version.language: version for version in article.versions.filter(is_current=True)}


def article_versions(actor: User, article_id: int, language: str = "") -> QuerySet[KnowledgeArticleVersion]:
    article = access_article_by_id(actor, article_id)
    queryset = article.versions.select_related("author")
    if language:
        queryset = queryset.filter(language=language)
    return queryset.order_by("language", "-number")


def article_search(actor: User, query: str = "", *, language: str = "", status: str = "",
                   category: str = "") -> QuerySet[KnowledgeArticleVersion]:
    """Current versions of the articles matching every word of ``query`` (any language)."""
    articles = visible_articles(actor)
    queryset = (KnowledgeArticleVersion.objects.filter(is_current=True, article__in=articles)
                .select_related("article", "author"))
    if status:
        queryset = queryset.filter(article__status=status)
    if category:
        queryset = queryset.filter(article__category=category)
    if language:
        queryset = queryset.filter(language=language)
    if query.strip():
        queryset = search.filter_text(queryset, query)
    return queryset.order_by("-article__updated_at", "article_id", "language")


@dataclass(frozen=True)
class Suggestion:
    version: KnowledgeArticleVersion
    score: float


def article_suggestions(actor: User, text: str, *, limit: int = 5, language: str = "") -> list[Suggestion]:
    """Published articles that may solve a case described by ``text`` (subject and body),
    best first; one entry per article, in the preferred language when it has one."""
    articles = visible_articles(actor).filter(status=ArticleStatus.PUBLISHED)
    candidates = KnowledgeArticleVersion.objects.filter(is_current=True, article__in=articles)
    matches = search.ranked_matches(candidates, text, limit * 4)
    if not matches:
        return []
    versions = {version.pk: version for version in
                KnowledgeArticleVersion.objects.filter(pk__in=[pk for pk, _score in matches]).select_related("article")}
    best: dict[int, Suggestion] = {}
    for pk, score in matches:
        version = versions.get(pk)
        if version is None:
            continue
        current = best.get(version.article_id)
        preferred = language and version.language == language
        if current is None or score > current.score or (preferred and score >= current.score * 0.8):
            best[version.article_id] = Suggestion(version, score)
    return sorted(best.values(), key=lambda suggestion: -suggestion.score)[:limit]


def knowledge_search_text(version: KnowledgeArticleVersion) -> str:
    return search_text(version.title, version.problem, version.solution, version.keywords)


# ======================================================================================
# Complaints, surveys, field visits, inbound email
# ======================================================================================
def visible_complaints(actor: User, action: str = "view") -> QuerySet[Complaint]:
    scope = _require(actor, "complaint", action)
    condition = core_selectors.scope_q(actor, scope)
    queryset = Complaint.objects.select_related("contact", "account", "owner", "case")
    return queryset if condition is None else queryset.filter(condition)


def access_complaint_by_id(actor: User, complaint_id, action: str = "view") -> Complaint:
    return _access(visible_complaints, actor, complaint_id, action, "complaint")


def complaint_list(actor: User, *, status: str = "", open_only: bool = False, action: str = "view"):
    queryset = visible_complaints(actor, action)
    if status:
        queryset = queryset.filter(status=status)
    if open_only:
        queryset = queryset.exclude(status="closed")
    return queryset.order_by("-received_at", "-id")


def visible_surveys(actor: User, action: str = "view") -> QuerySet[Survey]:
    _require(actor, "survey", action)
    return Survey.objects.select_related("case", "contact", "account", "agent")


def access_survey_by_id(actor: User, survey_id, action: str = "view") -> Survey:
    return _access(visible_surveys, actor, survey_id, action, "survey")


def survey_by_token(token: str) -> Survey:
    """The survey behind a link sent to a customer (no user: the link is the credential)."""
    survey = Survey.objects.select_related("case").filter(token=token).first()
    if survey is None:
        raise NotFound("survey")
    return survey


def visible_visits(actor: User, action: str = "view") -> QuerySet[FieldVisit]:
    scope = _require(actor, "field_visit", action)
    condition = core_selectors.scope_q(actor, scope, owner="technician", team="technician__team",
                                       territory="technician__territory")
    queryset = FieldVisit.objects.select_related("case", "technician")
    return queryset if condition is None else queryset.filter(condition)


def access_visit_by_id(actor: User, visit_id, action: str = "view") -> FieldVisit:
    return _access(visible_visits, actor, visit_id, action, "field visit")


def visit_calendar(actor: User, start: dt.datetime, end: dt.datetime, *,
                   technician_id: int | None = None) -> QuerySet[FieldVisit]:
    queryset = visible_visits(actor).filter(starts_at__lt=end, ends_at__gt=start)
    if technician_id:
        queryset = queryset.filter(technician_id=technician_id)
    return queryset.order_by("starts_at", "id")


def technicians(actor: User) -> QuerySet[ServiceAgent]:
    _require(actor, "field_visit", "view")
    return ServiceAgent.objects.filter(is_technician=True, user__is_active=True).select_related("user", "calendar")


def technician_free_slots(actor: User, technician_id: int, start: dt.datetime, end: dt.datetime
                          ) -> list[tuple[dt.datetime, dt.datetime]]:
    """When a technician could take a visit between ``start`` and ``end``: their working
    hours (round the clock without a calendar) less time off and booked visits."""
    from django.conf import settings

    from guanxi.service import sla
    from guanxi.service.business_time import BusinessCalendar

    agent = technicians(actor).filter(user_id=technician_id).first()
    if agent is None:
        raise NotFound(f"technician {technician_id}")
    calendar = (sla.business_calendar(agent.calendar) if agent.calendar_id
                else BusinessCalendar.always_open(settings.TIME_ZONE))
    open_intervals = []
    day = calendar.local_date(start) - dt.timedelta(days=1)
    while day <= calendar.local_date(end):
        for opening, closing in calendar.intervals_on(day):
            if closing > start and opening < end:
                open_intervals.append((max(opening, start), min(closing, end)))
        day += dt.timedelta(days=1)
    busy = sorted([(item.starts_at, item.ends_at) for item in TechnicianTimeOff.objects.filter(
        technician_id=technician_id, starts_at__lt=end, ends_at__gt=start)] + [
        (item.starts_at, item.ends_at) for item in FieldVisit.objects.filter(
            technician_id=technician_id, status__in=ACTIVE_VISIT_STATUSES, starts_at__lt=end, ends_at__gt=start)])
    free = []
    for opening, closing in open_intervals:
        cursor = opening
        for busy_start, busy_end in busy:
            if busy_end <= cursor or busy_start >= closing:
                continue
            if busy_start > cursor:
                free.append((cursor, busy_start))
            cursor = max(cursor, busy_end)
        if cursor < closing:
            free.append((cursor, closing))
    return free


def inbound_email_list(actor: User) -> QuerySet[InboundEmail]:
    _require(actor, "inbound_email", "view")
    return InboundEmail.objects.select_related("case").order_by("-received_at", "-id")


# ======================================================================================
# Satisfaction and reports
# ======================================================================================
def satisfaction_of_customer(*, contact_id: int | None = None, account_id: int | None = None) -> dict:
    """Average CSAT (1-5), NPS and answer count of a customer's answered surveys."""
    queryset = Survey.objects.filter(answered_at__isnull=False)
    if contact_id:
        queryset = queryset.filter(contact_id=contact_id)
    if account_id:
        queryset = queryset.filter(Q(account_id=account_id) | Q(contact__account_id=account_id))
    return nps_and_csat(queryset)


SATISFACTION_AGGREGATES = {
    "answers": Count("id"), "csat": Avg("csat_score"),
    "csat_answers": Count("id", filter=Q(csat_score__isnull=False)),
    "satisfied": Count("id", filter=Q(csat_score__gte=4)),
    "nps_answers": Count("id", filter=Q(nps_score__isnull=False)),
    "promoters": Count("id", filter=Q(nps_score__gte=9)),
    "detractors": Count("id", filter=Q(nps_score__lte=6)),
}


def satisfaction_figures(row: dict) -> dict:
    """CSAT average and share satisfied (4-5), and NPS (promoters − detractors, in %),
    from one row of ``SATISFACTION_AGGREGATES``."""
    csat_answers, nps_answers = row["csat_answers"], row["nps_answers"]
    return {
        "answers": row["answers"],
        "csat_average": round(row["csat"], 2) if row["csat"] is not None else None,
        "csat_percent": round(100 * row["satisfied"] / csat_answers, 1) if csat_answers else None,
        "nps": round(100 * (row["promoters"] - row["detractors"]) / nps_answers, 1) if nps_answers else None,
        "nps_answers": nps_answers,
    }


def nps_and_csat(queryset: QuerySet[Survey]) -> dict:
    return satisfaction_figures(queryset.aggregate(**SATISFACTION_AGGREGATES))
