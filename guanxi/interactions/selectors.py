"""Reads of the interaction log, with record-level access checks."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet

from guanxi.core import selectors as core_selectors
from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound
from guanxi.core.models import Contact, User
from guanxi.interactions.models import Interaction

TIMELINE_PAGE_SIZE = 25


def visible_interactions(actor: User, action: str = "view") -> QuerySet[Interaction]:
    """Interactions in the actor's scope: ``own`` means handled by the actor or about a
    customer the actor owns; wider scopes follow the contact's team/territory."""
    scope = scope_for(actor, "interaction", action)
    if scope == "none":
        raise core_selectors.PermissionDenied(f"may not {action} interactions")
    own = Q(agent_id=actor.pk) | Q(contact__owner_id=actor.pk) | Q(account__owner_id=actor.pk)
    condition = core_selectors.scope_q(actor, scope, owner="contact__owner", team="contact__team",
                                       territory="contact__territory", extra_own=own)
    queryset = Interaction.objects.all()
    return queryset if condition is None else queryset.filter(condition)


def access_interaction_by_id(actor: User, interaction_id: int, action: str = "view") -> Interaction:
    """The interaction if ``actor`` may ``action`` it. PermissionDenied when the role may
    not ``action`` interactions at all, or may see this one but not ``action`` it;
    NotFound when the actor may not know it exists."""
    allowed = visible_interactions(actor, action)
    try:
        return allowed.select_related("contact", "account", "agent").get(pk=interaction_id)
    except (Interaction.DoesNotExist, ValueError, TypeError):
        if action != "view" and visible_interactions(actor, "view").filter(pk=interaction_id).exists():
            raise core_selectors.PermissionDenied(f"may not {action} interaction {interaction_id}") from None
        raise NotFound(f"interaction {interaction_id}") from None


def _contact_interactions(contact: Contact) -> QuerySet[Interaction]:
    return (Interaction.objects.filter(contact_id=contact.pk)
            .select_related("agent", "episode", "contact", "account").order_by("-occurred_at", "-id"))


def _account_interactions(account) -> QuerySet[Interaction]:
    return (Interaction.objects.filter(Q(account_id=account.pk) | Q(contact__account_id=account.pk))
            .select_related("agent", "contact", "account", "episode").order_by("-occurred_at", "-id"))


def contact_timeline_queryset(actor: User, contact_id: int) -> QuerySet[Interaction]:
    """Every interaction with the contact, newest first; callers paginate.

    Visibility of the timeline follows visibility of the contact: whoever may open the
    customer may read its history.
    """
    return _contact_interactions(core_selectors.access_contact_by_id(actor, contact_id))


def account_timeline_queryset(actor: User, account_id: int) -> QuerySet[Interaction]:
    """Every interaction with the account or any of its contacts, newest first."""
    return _account_interactions(core_selectors.access_account_by_id(actor, account_id))


def contact_timeline(actor: User, contact_id: int, page: int = 1, page_size: int = TIMELINE_PAGE_SIZE):
    """The 360° timeline as a page: (contact, page of interactions newest first)."""
    contact = core_selectors.access_contact_by_id(actor, contact_id)
    return contact, Paginator(_contact_interactions(contact), page_size).get_page(page)


def account_timeline(actor: User, account_id: int, page: int = 1, page_size: int = TIMELINE_PAGE_SIZE):
    account = core_selectors.access_account_by_id(actor, account_id)
    return account, Paginator(_account_interactions(account), page_size).get_page(page)


def interaction_list(actor: User, *, channel: str = "", direction: str = "", agent_id: int | None = None,
                     contact_id: int | None = None, account_id: int | None = None,
                     action: str = "view") -> QuerySet[Interaction]:
    queryset = visible_interactions(actor, action).select_related("contact", "account", "agent")
    if channel:
        queryset = queryset.filter(channel=channel)
    if direction:
        queryset = queryset.filter(direction=direction)
    if agent_id:
        queryset = queryset.filter(agent_id=agent_id)
    if contact_id:
        queryset = queryset.filter(contact_id=contact_id)
    if account_id:
        queryset = queryset.filter(account_id=account_id)
    return queryset.order_by("-occurred_at", "-id")


def contact_summary(contact: Contact) -> dict:
    """Counts by channel and the last touch, for the 360° header."""
    from django.db.models import Count, Max

    rows = (Interaction.objects.filter(contact=contact).values("channel")
            .annotate(count=Count("id"), last=Max("occurred_at")).order_by("-count"))
    return {"by_channel": list(rows), "last_at": max((row["last"] for row in rows), default=None)}
