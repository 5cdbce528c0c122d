"""Record-level visibility inside warehouse queries.

Reports count only the customers the user may see, exactly as the contact and account
lists do: the ids come from ``guanxi.core.selectors.visible_contacts`` /
``visible_accounts`` (own / team / territory / all, key-account teams included) and are
passed into the warehouse query as one array parameter. A user who sees every record
gets no filter at all, so the common analyst's report stays a plain scan.
"""

from __future__ import annotations

from dataclasses import dataclass

from guanxi.core import selectors as core_selectors
from guanxi.core.access import scope_for
from guanxi.core.models import User, Visibility


@dataclass(frozen=True)
class RecordScope:
    ids: tuple[int, ...] | None  # None: every record

    @property
    def everything(self) -> bool:
        return self.ids is None

    def condition(self, column: str) -> tuple[str, list]:
        """``AND column IN (…)`` and its parameter, or nothing when every record is visible."""
        if self.ids is None:
            return "", []
        return f" AND {column} IN (SELECT UNNEST(CAST(? AS BIGINT[])))", [list(self.ids)]


def customer_scope(actor: User, action: str = "view") -> RecordScope:
    """The contacts ``actor`` may ``action`` (view or export); PermissionDenied if none."""
    queryset = core_selectors.visible_contacts(actor, action)
    if scope_for(actor, "contact", action) == Visibility.ALL:
        return RecordScope(None)
    return RecordScope(tuple(queryset.values_list("pk", flat=True)))


def account_scope(actor: User, action: str = "view") -> RecordScope:
    queryset = core_selectors.visible_accounts(actor, action)
    if scope_for(actor, "account", action) == Visibility.ALL:
        return RecordScope(None)
    return RecordScope(tuple(queryset.values_list("pk", flat=True)))
