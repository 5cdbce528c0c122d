"""Cross-domain events, sent only after the writing transaction commits.

Other domains connect receivers here instead of being imported by core (STYLE: a
domain never imports the domains that depend on it).
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

record_changed = Signal()  # sender=model class; kwargs: instance, action ("create"/"update"/"delete"), actor


def send_on_commit(signal: Signal, sender, **kwargs) -> None:
    transaction.on_commit(lambda: signal.send(sender=sender, **kwargs))


# Asked when a screen shows a customer at a glance (the contact center's screen pop), so
# domains core does not know can add what they hold, e.g. open service cases.
# sender=Contact; kwargs: contact, actor (whose access applies). A receiver returns None
# or {"key", "title", "items": [{"label", "url", "detail"}]}.
customer_glance_requested = Signal()
