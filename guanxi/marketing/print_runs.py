"""What a direct-mail campaign prints: the recipients' mailing addresses and their merged
letters, read in a fixed number of queries whatever the size of the mailing."""

from __future__ import annotations

from django.utils import timezone

from guanxi.marketing import conf, mail_merge, selectors
from guanxi.core.models import Contact
from guanxi.marketing.models import Campaign, CampaignChannel, CampaignRecipient, RecipientState
from guanxi.marketing.printing import Mailing

PRINTABLE = (RecipientState.PENDING, RecipientState.SENT)


def sender_mailing() -> Mailing:
    address = conf.return_address()
    fields = {key: str(value) for key, value in address.items() if key in Mailing.__dataclass_fields__}
    fields.setdefault("name", conf.from_name())
    return Mailing(**fields)


def _mailing(context: dict) -> Mailing:
    contact = context["contact"]
    return Mailing(name=contact["full_name"], company=contact["company"], country=contact["country"] or "CN",
                   province=contact["province"], city=contact["city"], district=contact["district"],
                   street=contact["street"], postcode=contact["postcode"])


def campaign_mailings(actor, campaign_id: int) -> tuple[Campaign, list[tuple[Mailing, dict]]]:
    """(campaign, [(mailing, merge context)]) for the campaign's recipients, in order. Consent
    is checked again when printing: someone erased, marked do-not-contact or without mail
    consent since launch gets no letter."""
    from guanxi.marketing.sending import campaign_merge_fields, reachable

    campaign = selectors.access_campaign_by_id(actor, campaign_id)
    contact_ids = list(CampaignRecipient.objects.filter(
        campaign=campaign, state__in=PRINTABLE,
        contact__in=Contact.objects.filter(reachable(CampaignChannel.DIRECT_MAIL)).values("pk"))
        .order_by("id").values_list("contact_id", flat=True))

    contexts = mail_merge.contexts_for(contact_ids, campaign_merge_fields(campaign))
    return campaign, [(_mailing(contexts[pk]), contexts[pk]) for pk in contact_ids if pk in contexts]


def campaign_letters(actor, campaign_id: int) -> tuple[Campaign, list[tuple[Mailing, str, str]]]:
    campaign, mailings = campaign_mailings(actor, campaign_id)
    if campaign.template_id is None:
        return campaign, []
    renderer = mail_merge.MessageRenderer(campaign.template, html=False)
    letters = []
    for mailing, context in mailings:
        rendered = renderer.render(context, context.get("_language"))
        letters.append((mailing, rendered.subject, rendered.text))
    return campaign, letters


def today_text(language: str = "zh-hans") -> str:
    return mail_merge.format_date(timezone.localdate(), language)
