"""Every read of the marketing domain, with the access check inside.

Marketing records belong to their owner; the team and territory scopes of the access
matrix follow the owner's team and territory. Contacts are read through core's
``visible_contacts`` so a segment never shows a person the user may not see.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from guanxi.core import selectors as core_selectors
from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.models import Contact, User, Visibility
from guanxi.marketing import segment_rules
from guanxi.marketing.models import (
    AbTest, CallListEntry, Campaign, CampaignRecipient, CampaignResponse, Event, EventRegistration, Material,
    MessageTemplate, RecipientState, ResponseKind, Segment, SegmentKind, SegmentMember,
)

# Object names of the access matrix.
SEGMENT, CAMPAIGN, TEMPLATE, EVENT, MATERIAL = (
    "segment", "campaign", "message_template", "marketing_event", "marketing_material")


# ======================================================================================
# Scopes shared by every owned marketing record
# ======================================================================================
def _visible(model, actor: User, object_name: str, action: str) -> QuerySet:
    scope = scope_for(actor, object_name, action)
    if scope == Visibility.NONE:
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not {action} {object_name}")
    condition = core_selectors.scope_q(actor, scope, owner="owner", team="owner__team",
                                       territory="owner__territory")
    queryset = model.objects.all()
    return queryset if condition is None else queryset.filter(condition)


def _access(model, actor: User, object_name: str, record_id, action: str):
    try:
        return _visible(model, actor, object_name, action).select_related("owner").get(pk=record_id)
    except (model.DoesNotExist, ValueError, TypeError):
        if action != "view":
            try:
                seen = _visible(model, actor, object_name, "view").filter(pk=record_id).exists()
            except (PermissionDenied, ValueError, TypeError):
                seen = False
            if seen:
                raise PermissionDenied(f"may not {action} {object_name} {record_id}") from None
        raise NotFound(f"{object_name} {record_id}") from None


# ======================================================================================
# Segments
# ======================================================================================
def visible_segments(actor: User, action: str = "view") -> QuerySet[Segment]:
    return _visible(Segment, actor, SEGMENT, action)


def access_segment_by_id(actor: User, segment_id: int, action: str = "view") -> Segment:
    return _access(Segment, actor, SEGMENT, segment_id, action)


def segment_list(actor: User, *, query: str = "", kind: str = "") -> QuerySet[Segment]:
    queryset = visible_segments(actor).select_related("owner")
    if query:
        queryset = queryset.filter(Q(name__icontains=query) | Q(description__icontains=query))
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.order_by("name", "id")


def segment_contacts(segment: Segment, base: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """Every contact in the segment (no user scope): one SQL query. For system work such as a
    launch; pages use ``segment_members``, which applies the user's contact scope."""
    base = Contact.objects.all() if base is None else base
    if segment.kind == SegmentKind.STATIC:
        return base.filter(pk__in=SegmentMember.objects.filter(segment_id=segment.pk).values("contact_id"))
    return segment_rules.matching_contacts(segment.rules, base)


def segment_members(actor: User, segment_id: int) -> QuerySet[Contact]:
    """Members of a segment the actor may see, restricted to contacts the actor may see."""
    segment = access_segment_by_id(actor, segment_id)
    return segment_contacts(segment, core_selectors.visible_contacts(actor)).select_related("account") \
        .order_by("full_name", "id")


def segment_preview_count(actor: User, rules: dict) -> int:
    """How many contacts the actor may see match ``rules`` (the editor's live count)."""
    if scope_for(actor, SEGMENT, "view") == Visibility.NONE:
        raise PermissionDenied(_("You may not use segments."))
    return segment_rules.matching_contacts(rules, core_selectors.visible_contacts(actor)).count()


# ======================================================================================
# Templates
# ======================================================================================
def visible_templates(actor: User, action: str = "view") -> QuerySet[MessageTemplate]:
    return _visible(MessageTemplate, actor, TEMPLATE, action)


def access_template_by_id(actor: User, template_id: int, action: str = "view") -> MessageTemplate:
    return _access(MessageTemplate, actor, TEMPLATE, template_id, action)


def template_list(actor: User, *, channel: str = "", query: str = "") -> QuerySet[MessageTemplate]:
    queryset = visible_templates(actor).select_related("owner")
    if channel:
        queryset = queryset.filter(channel=channel)
    if query:
        queryset = queryset.filter(name__icontains=query)
    return queryset.order_by("name", "id")


# ======================================================================================
# Campaigns
# ======================================================================================
def visible_campaigns(actor: User, action: str = "view") -> QuerySet[Campaign]:
    return _visible(Campaign, actor, CAMPAIGN, action)


def access_campaign_by_id(actor: User, campaign_id: int, action: str = "view") -> Campaign:
    return _access(Campaign, actor, CAMPAIGN, campaign_id, action)


def campaign_list(actor: User, *, status: str = "", channel: str = "", query: str = "") -> QuerySet[Campaign]:
    queryset = visible_campaigns(actor).select_related("owner", "segment", "template")
    if status:
        queryset = queryset.filter(status=status)
    if channel:
        queryset = queryset.filter(channel=channel)
    if query:
        queryset = queryset.filter(name__icontains=query)
    return queryset.order_by("-created_at", "-id")


def campaign_recipients(actor: User, campaign_id: int, *, state: str = "") -> QuerySet[CampaignRecipient]:
    campaign = access_campaign_by_id(actor, campaign_id)
    queryset = CampaignRecipient.objects.filter(campaign=campaign).select_related("contact")
    if state:
        queryset = queryset.filter(state=state)
    return queryset.order_by("id")


def campaign_responses(actor: User, campaign_id: int, *, kind: str = "") -> QuerySet[CampaignResponse]:
    campaign = access_campaign_by_id(actor, campaign_id)
    queryset = CampaignResponse.objects.filter(campaign=campaign).select_related("contact")
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.order_by("-occurred_at", "-id")


def campaign_call_list(actor: User, campaign_id: int, *, status: str = "") -> QuerySet[CallListEntry]:
    """The call list as the contact center works it. Someone who since launch was erased,
    marked do-not-contact or withdrew phone consent drops out of what is still to call
    (done calls stay as history)."""
    from guanxi.marketing.models import CallListStatus, CampaignChannel
    from guanxi.marketing.sending import reachable

    campaign = access_campaign_by_id(actor, campaign_id)
    queryset = CallListEntry.objects.filter(campaign=campaign).select_related("contact", "contact__account").exclude(
        Q(status__in=(CallListStatus.PENDING, CallListStatus.CALLBACK))
        & ~Q(contact__in=Contact.objects.filter(reachable(CampaignChannel.PHONE)).values("pk")))
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("priority", "id")


def recipient_state_counts(campaign: Campaign) -> dict[str, int]:
    counts = dict(CampaignRecipient.objects.filter(campaign=campaign).order_by().values_list("state")
                  .annotate(total=Count("id")).values_list("state", "total"))
    return {state: counts.get(state, 0) for state in RecipientState.values}


def response_counts(campaign: Campaign) -> dict[str, int]:
    """Responses by kind, counting each person once per kind."""
    rows = (CampaignResponse.objects.filter(campaign=campaign).order_by().values("kind")
            .annotate(people=Count("contact", distinct=True), total=Count("id")))
    found = {row["kind"]: row["people"] or row["total"] for row in rows}
    return {kind: found.get(kind, 0) for kind in ResponseKind.values}


def campaign_ab_test(campaign: Campaign) -> AbTest | None:
    return AbTest.objects.filter(campaign=campaign).select_related("template_b").first()


# ======================================================================================
# Events
# ======================================================================================
def visible_events(actor: User, action: str = "view") -> QuerySet[Event]:
    return _visible(Event, actor, EVENT, action)


def access_event_by_id(actor: User, event_id: int, action: str = "view") -> Event:
    return _access(Event, actor, EVENT, event_id, action)


def event_list(actor: User, *, upcoming: bool | None = None) -> QuerySet[Event]:
    from django.utils import timezone

    queryset = visible_events(actor).select_related("owner").annotate(
        registered=Count("registrations", filter=Q(registrations__status__in=["registered", "attended"])))
    if upcoming is True:
        queryset = queryset.filter(starts_at__gte=timezone.now())
    return queryset.order_by("-starts_at", "id")


def event_registrations(actor: User, event_id: int, *, status: str = "") -> QuerySet[EventRegistration]:
    event = access_event_by_id(actor, event_id)
    queryset = EventRegistration.objects.filter(event=event).select_related("contact")
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("registered_at", "id")


def event_by_slug(slug: str) -> Event:
    """The public registration page's event (no user: the page is public)."""
    event = Event.objects.filter(slug=slug).first()
    if event is None:
        raise NotFound(f"event {slug}")
    return event


# ======================================================================================
# Materials
# ======================================================================================
def visible_materials(actor: User, action: str = "view") -> QuerySet[Material]:
    return _visible(Material, actor, MATERIAL, action)


def access_material_by_id(actor: User, material_id: int, action: str = "view") -> Material:
    return _access(Material, actor, MATERIAL, material_id, action)


def material_list(actor: User, *, query: str = "", tag: str = "") -> QuerySet[Material]:
    queryset = visible_materials(actor).select_related("owner").prefetch_related("tags")
    if query:
        queryset = queryset.filter(Q(title__icontains=query) | Q(description__icontains=query)
                                   | Q(tags__name__icontains=query)).distinct()
    if tag:
        queryset = queryset.filter(tags__name=tag)
    return queryset.order_by("title", "id")


# ======================================================================================
# 360° panels
# ======================================================================================
def contact_marketing_history(actor: User, contact_id: int, limit: int = 20) -> dict:
    """Campaign responses and event registrations of one contact, for the 360° page."""
    contact = core_selectors.access_contact_by_id(actor, contact_id)
    campaigns = visible_campaigns(actor).values("pk")
    events = visible_events(actor).values("pk")
    responses = list(CampaignResponse.objects.filter(contact=contact, campaign__in=campaigns)
                     .select_related("campaign").order_by("-occurred_at", "-id")[:limit])
    registrations = list(EventRegistration.objects.filter(contact=contact, event__in=events)
                         .select_related("event").order_by("-registered_at", "-id")[:limit])
    return {"contact": contact, "responses": responses, "registrations": registrations}

