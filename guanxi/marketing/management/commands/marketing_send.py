"""``guanxi marketing-send <campaign>``: send what is due of a launched campaign in this
process (the same run the background job does), e.g. to resume after a crash at once.
Prints the run's report as JSON; never sends a message twice (see ``guanxi.marketing.sending``)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from guanxi.marketing import sending
from guanxi.marketing.models import Campaign


class Command(BaseCommand):
    help = "Send (or resume sending) a launched email or SMS campaign."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--rate", type=float, default=None, help="messages per second; 0 for no limit")
        parser.add_argument("--connections", type=int, default=None, help="SMTP connections side by side")
        parser.add_argument("--batch", type=int, default=None, help="recipients claimed per commit")

    def handle(self, *args, campaign_id: int, rate, connections, batch, **options):
        if not Campaign.objects.filter(pk=campaign_id).exists():
            raise CommandError(f"campaign {campaign_id} does not exist")
        report = sending.campaign_send(campaign_id, rate=rate, connections=connections, batch_size=batch)
        self.stdout.write(json.dumps(report.as_dict()))
        if report.busy:
            raise CommandError("another run is sending this campaign; try again when its lease expires")
