"""Direct-mail print runs: letters, Avery L7160 labels and DL envelopes as PDF."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils.text import slugify

from guanxi.core.views.guard import staff_page
from guanxi.marketing import print_runs, printing

KINDS = ("letters", "labels", "envelopes")


def campaign_pdf(user, campaign_id: int, kind: str) -> HttpResponse:
    """The PDF of one kind for the campaign's recipients (shared by the page and the API)."""
    if kind not in KINDS:
        raise Http404(kind)
    sender = print_runs.sender_mailing()
    if kind == "letters":
        campaign, letters = print_runs.campaign_letters(user, campaign_id)
        pdf = printing.letters_pdf(letters, sender, print_runs.today_text(), title=campaign.name)
    else:
        campaign, mailings = print_runs.campaign_mailings(user, campaign_id)
        addresses = [mailing for mailing, _context in mailings]
        pdf = printing.labels_pdf(addresses, title=campaign.name) if kind == "labels" else \
            printing.envelopes_pdf(addresses, sender, title=campaign.name)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = slugify(campaign.name) or f"campaign-{campaign.pk}"
    response["Content-Disposition"] = f'inline; filename="{name}-{kind}.pdf"'
    return response


@staff_page
def campaign_print(request, campaign_id: int, kind: str):
    return campaign_pdf(request.user, campaign_id, kind)
