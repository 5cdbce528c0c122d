"""Which rep a new lead goes to: territory rules first, then round-robin.

A lead's territory is found from what it says about itself, most specific first: a
named account with the lead's company name, then the postcode prefix, the city, the
province and the industry the territories list (``core.Territory``). The lead then goes
to the next sales rep, in turn, among those who cover that territory (their own
territory, or a team covering it). With no territory match, or nobody covering it, the
turn goes round all sales reps. The cursor of each turn is stored, so the rotation
survives restarts and is shared by every process.
"""

from __future__ import annotations

from django.db.models import Q

from guanxi.core.models import Role, Territory, User
from guanxi.sales.models import AssignmentCursor, Lead, NamedAccount


def _normalized(text: str) -> str:
    return (text or "").strip().lower()


def territory_for(lead: Lead) -> Territory | None:
    """The most specific territory whose rules cover the lead, if any."""
    if lead.company:
        named = (NamedAccount.objects.select_related("territory")
                 .filter(account__name__iexact=lead.company.strip()).first())
        if named is not None:
            return named.territory
    territories = list(Territory.objects.all().order_by("id"))
    postcode = (lead.postcode or "").replace(" ", "")
    if postcode:
        best, best_length = None, 0
        for territory in territories:
            for prefix in territory.postcode_prefixes or []:
                prefix = str(prefix).replace(" ", "")
                if prefix and postcode.startswith(prefix) and len(prefix) > best_length:
                    best, best_length = territory, len(prefix)
        if best is not None:
            return best
    for field, attribute in (("city", "cities"), ("province", "provinces"), ("industry", "industries")):
        wanted = _normalized(getattr(lead, field))
        if not wanted:
            continue
        for territory in territories:
            if wanted in {_normalized(value) for value in getattr(territory, attribute) or []}:
                return territory
    return None


def reps_covering(territory: Territory | None):
    reps = User.objects.filter(is_active=True, role=Role.SALES_REP)
    if territory is not None:
        reps = reps.filter(Q(territory_id=territory.pk) | Q(team__territory_id=territory.pk))
    return reps.order_by("id")


def next_in_turn(key: str, candidates: list[User]) -> User | None:
    """The candidate after the one who got the last lead under ``key`` (callers hold a
    transaction: the cursor row is locked until it commits)."""
    if not candidates:
        return None
    cursor, _created = AssignmentCursor.objects.select_for_update().get_or_create(key=key)
    chosen = candidates[0]
    if cursor.last_user_id is not None:
        later = [candidate for candidate in candidates if candidate.pk > cursor.last_user_id]
        chosen = later[0] if later else candidates[0]
    cursor.last_user = chosen
    cursor.save(update_fields=["last_user"])
    return chosen


def choose_owner(lead: Lead) -> tuple[User | None, Territory | None]:
    """(owner, territory) for ``lead`` by the rules above."""
    territory = territory_for(lead)
    if territory is not None:
        owner = next_in_turn(f"territory:{territory.pk}", list(reps_covering(territory)))
        if owner is not None:
            return owner, territory
    return next_in_turn("all", list(reps_covering(None))), territory
