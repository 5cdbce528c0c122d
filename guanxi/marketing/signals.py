"""Signals the marketing domain sends, for other domains to receive.

``marketing_engagement`` — sent after commit whenever a person engages with a campaign:
an email opened, a link clicked, an event registration or attendance. Keyword arguments:

* ``contact_id`` (int or None) and ``email`` (str): who;
* ``kind``: "opened", "clicked", "registered" or "attended";
* ``campaign_id`` (int or None), ``detail`` (the link clicked, the event's name…);
* ``occurred_at`` (aware datetime).

The sales domain's lead score is fed from it by ``guanxi.marketing.lead_scoring`` (which
calls sales' ``lead_behaviour_record``); any domain may connect its own receiver.
"""

from django.dispatch import Signal

marketing_engagement = Signal()
