"""Background work of the sales domain: thin wrappers that call services.

Job handlers (run through ``guanxi.jobs``, visible on the jobs page) and Huey periodic
tasks: reminders every minute, quote expiry and contract renewals every morning.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.translation import gettext as _
from django.utils.translation import override
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from guanxi.jobs.registry import job_handler
from guanxi.jobs.services import job_enqueue, today_key

logger = logging.getLogger(__name__)


def site_url() -> str:
    import os

    return (getattr(settings, "GUANXI_SITE_URL", "") or os.environ.get("GUANXI_SITE_URL", "")
            or "http://127.0.0.1:8000").rstrip("/")


# ======================================================================================
# Job handlers
# ======================================================================================
@job_handler("sales.rescore_leads")
def rescore_leads(job, progress) -> dict:
    from guanxi.sales.services import leads_rescore

    return {"changed": leads_rescore(progress=progress)}


@job_handler("sales.refresh_base_amounts")
def refresh_base_amounts(job, progress) -> dict:
    from guanxi.sales.services import opportunities_refresh_base_amounts

    return {"updated": opportunities_refresh_base_amounts(currency=job.params["currency"])}


@job_handler("sales.recalculate_commissions")
def recalculate_commissions(job, progress) -> dict:
    """After the commission rules changed: rebuild this month's and later entries."""
    from django.utils import timezone

    from guanxi.sales.services import commissions_recalculate_all

    since = job.params.get("since_period") or timezone.localdate().strftime("%Y-%m")
    return {"entries": commissions_recalculate_all(since_period=since, progress=progress)}


@job_handler("sales.send_quote")
def send_quote(job, progress) -> dict:
    """Email a sent quote with its PDF and the customer's accept link; the email is
    recorded on the customer's timeline (once, even if the job runs again)."""
    from guanxi.interactions.services import interaction_record
    from guanxi.sales.documents import quote_pdf
    from guanxi.sales.models import Quote
    from guanxi.sales.services import quote_accept_token

    quote = Quote.objects.select_related("contact", "account", "owner").get(pk=job.params["quote_id"])
    link = f"{site_url()}/sales/q/{quote_accept_token(quote)}/"
    with override(quote.language):
        subject = _("Quote %(number)s: %(title)s") % {"number": quote.display_number, "title": quote.title}
        greeting = _("Dear %(name)s,") % {"name": quote.contact.full_name} if quote.contact_id else _("Hello,")
        body = "\n\n".join(part for part in [
            greeting, job.params.get("message") or _("please find our quote attached."),
            _("You can read and accept it online until %(date)s:") % {"date": quote.valid_until.isoformat()},
            link, str(quote.owner or "")] if part)
    pdf = quote_pdf(quote)
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [job.params["to"]],
                           reply_to=[quote.owner.email] if quote.owner and quote.owner.email else None)
    message.attach(f"{quote.display_number}.pdf", pdf, "application/pdf")
    message.send()
    if quote.contact_id or quote.account_id:
        interaction_record(actor=None, check_access=False, data={
            "contact_id": quote.contact_id, "account_id": quote.account_id, "channel": "email", "direction": "out",
            "subject": subject, "reason": quote.title, "outcome": _("quote sent"),
            "agent_id": job.params.get("sender_id") or quote.owner_id,
            "documents": [{"name": f"{quote.display_number}.pdf", "url": f"/sales/quotes/{quote.pk}/pdf/"}],
            "source_type": "sales.quote.sent", "source_id": f"{quote.pk}:{quote.version}"})
    return {"to": job.params["to"], "bytes": len(pdf)}


@job_handler("sales.contract_renewals")
def contract_renewals(job, progress) -> dict:
    from guanxi.sales.services import contracts_process_renewals

    return contracts_process_renewals()


@job_handler("sales.expire_quotes")
def expire_quotes(job, progress) -> dict:
    from guanxi.sales.services import quotes_expire

    return {"expired": quotes_expire()}


# ======================================================================================
# Periodic tasks
# ======================================================================================
@db_periodic_task(crontab(minute="*"))
def send_activity_reminders() -> None:
    """Every minute: reminders and scheduled callbacks that are due."""
    from guanxi.sales.services import activities_send_reminders

    activities_send_reminders()


@db_periodic_task(crontab(minute="5", hour="6"))
def morning_sales_run() -> None:
    """Every morning: contract renewals and expired quotes, as jobs seen on the jobs page."""
    job_enqueue(actor=None, kind="sales.contract_renewals", title="Contract renewals",
                idempotency_key=f"sales.contract_renewals:{today_key()}")
    job_enqueue(actor=None, kind="sales.expire_quotes", title="Expire quotes",
                idempotency_key=f"sales.expire_quotes:{today_key()}")
