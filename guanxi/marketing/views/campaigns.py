"""Campaign pages: list, form, the campaign page (status, sending progress, per-recipient
outcomes, responses, ROI, A/B test, call list) with its actions, and the ROI report."""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.marketing import reports, selectors, services
from guanxi.marketing.forms import AbTestForm, CampaignForm, CostForm
from guanxi.marketing.models import CampaignChannel, CampaignStatus, RecipientState, ResponseKind, TemplateChannel

PROBLEM_STATES = (RecipientState.FAILED, RecipientState.UNCONFIRMED, RecipientState.RETRY, RecipientState.BOUNCED,
                  RecipientState.SKIPPED)


@staff_page
def campaign_list(request):
    campaigns = selectors.campaign_list(request.user, status=request.GET.get("status", ""),
                                        channel=request.GET.get("channel", ""),
                                        query=request.GET.get("q", "").strip())
    return render(request, "marketing/campaign_list.html", {
        "section": "campaigns", "window": page_window(campaigns, request.GET.get("page")),
        "statuses": CampaignStatus.choices, "channels": CampaignChannel.choices,
        "may_create": can(request.user, selectors.CAMPAIGN, "create")})


def _choices(user) -> dict:
    def visible(object_name, read):
        return list(read(user)[:500]) if can(user, object_name, "view") else []

    return {"segments": visible(selectors.SEGMENT, selectors.segment_list),
            "templates": visible(selectors.TEMPLATE, selectors.template_list),
            "events": visible(selectors.EVENT, lambda actor: selectors.event_list(actor)),
            "materials": visible(selectors.MATERIAL, selectors.material_list)}


def _form_page(request, form, campaign=None, status=200):
    return render(request, "marketing/campaign_form.html", {
        "section": "campaigns", "form": form, "campaign": campaign,
        "title": _("Edit campaign %(name)s") % {"name": campaign.name} if campaign else _("New campaign"),
        "cancel_url": reverse("marketing:campaign_detail", args=[campaign.pk]) if campaign
        else reverse("marketing:campaign_list")}, status=status)


@staff_page
@require_http_methods(["GET", "POST"])
def campaign_create(request):
    if not can(request.user, selectors.CAMPAIGN, "create"):
        raise PermissionDenied(_("You may not create campaigns."))
    initial = {"currency": "CNY", "channel": request.GET.get("channel", CampaignChannel.EMAIL)}
    if request.GET.get("segment"):
        initial["segment_id"] = request.GET["segment"]
    form = CampaignForm(request.POST or None, initial=initial, **_choices(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(actor=request.user, data=form.to_service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Campaign “%(name)s” saved as a draft.") % {"name": campaign.name})
            return redirect("marketing:campaign_detail", campaign.pk)
    return _form_page(request, form, status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def campaign_edit(request, campaign_id: int):
    campaign = selectors.access_campaign_by_id(request.user, campaign_id, "change")
    initial = {field: getattr(campaign, field) for field in (
        "name", "channel", "description", "segment_id", "template_id", "event_id", "landing_url", "currency", "budget",
        "planned_cost", "actual_cost", "expected_revenue", "scheduled_at", "ends_at")}
    initial["material_ids"] = list(campaign.materials.values_list("pk", flat=True))
    form = CampaignForm(request.POST or None, initial=initial, **_choices(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_update(actor=request.user, campaign_id=campaign.pk,
                                                data=form.to_service_data(),
                                                expected_version=_int(request.POST.get("version")))
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Campaign “%(name)s” saved.") % {"name": campaign.name})
            return redirect("marketing:campaign_detail", campaign.pk)
    return _form_page(request, form, campaign, status=400 if request.method == "POST" else 200)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@staff_page
def campaign_detail(request, campaign_id: int):
    return _detail_page(request, campaign_id)


def _email_templates(user) -> list:
    return list(selectors.template_list(user, channel=TemplateChannel.EMAIL)[:200]) \
        if can(user, selectors.TEMPLATE, "view") else []


def _detail_page(request, campaign_id: int, *, cost_form: CostForm | None = None, ab_form: AbTestForm | None = None,
                 status: int = 200):
    """The campaign page; after a refused action it comes back with the submitted form, its
    field errors and the 4xx status instead of a redirect."""
    user = request.user
    campaign = selectors.access_campaign_by_id(user, campaign_id)
    may_change = selectors.visible_campaigns(user, "change").filter(pk=campaign.pk).exists() \
        if can(user, selectors.CAMPAIGN, "change") else False
    wanted = request.GET.get("state", "")
    problems = selectors.campaign_recipients(user, campaign.pk).filter(
        state__in=[wanted] if wanted in PROBLEM_STATES else PROBLEM_STATES).order_by("state", "id")
    ab_test = selectors.campaign_ab_test(campaign)
    from guanxi.jobs.models import Job

    return render(request, "marketing/campaign_detail.html", {
        "section": "campaigns", "campaign": campaign, "may_change": may_change,
        "may_delete": selectors.visible_campaigns(user, "delete").filter(pk=campaign.pk).exists()
        if can(user, selectors.CAMPAIGN, "delete") else False,
        "states": selectors.recipient_state_counts(campaign), "responses_by_kind": selectors.response_counts(campaign),
        "roi": reports.roi_figures(campaign), "problems": list(problems[:100]),
        "responses": list(selectors.campaign_responses(user, campaign.pk)[:25]),
        "call_list": list(selectors.campaign_call_list(user, campaign.pk)[:50])
        if campaign.channel == CampaignChannel.PHONE else [],
        "job": Job.objects.filter(pk=campaign.send_job_id).first() if campaign.send_job_id else None,
        "ab_test": ab_test, "ab_results": _ab_results(ab_test),
        "ab_form": ab_form or AbTestForm(templates=_email_templates(user), initial={
            "metric": ab_test.metric, "sample_percent": ab_test.sample_percent, "subject_b": ab_test.subject_b,
            "template_b_id": ab_test.template_b_id, "decide_after_hours": ab_test.decide_after_hours}
            if ab_test else {"sample_percent": 20, "decide_after_hours": 4}),
        "cost_form": cost_form or CostForm(), "response_kinds": ResponseKind.choices,
        "materials": list(campaign.materials.all()),
    }, status=status)


@staff_page
def campaign_call_list_csv(request, campaign_id: int):
    """The phone campaign's call list for a dialer or a contact center, best customers first;
    those no longer reachable are left out (see ``selectors.campaign_call_list``)."""
    campaign = selectors.access_campaign_by_id(request.user, campaign_id)
    if campaign.channel != CampaignChannel.PHONE:
        raise Http404(_("Only a phone campaign has a call list."))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Priority"), _("Contact ID"), _("Name"), _("Phone"), _("Account"), _("Language"),
                     _("Status"), _("Attempts"), _("Call back at"), _("Disposition")])
    for entry in selectors.campaign_call_list(request.user, campaign.pk).iterator(chunk_size=2000):
        contact = entry.contact
        writer.writerow([entry.priority, contact.pk, contact.full_name, entry.phone,
                         contact.account.name if contact.account_id else "", contact.preferred_language,
                         entry.status, entry.attempts,
                         timezone.localtime(entry.callback_at).isoformat() if entry.callback_at else "",
                         entry.disposition])
    # the byte-order mark lets spreadsheet programs read Chinese names as UTF-8
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="call-list-{campaign.pk}.csv"'
    return response


def _ab_results(ab_test):
    if ab_test is None:
        return None
    from guanxi.marketing.services.ab_tests import ab_test_results

    return ab_test.results or ab_test_results(ab_test)


@staff_page
@require_POST
def campaign_action(request, campaign_id: int, action: str):
    """The buttons of the campaign page: launch, cancel, complete, delete, cost, A/B test."""
    user = request.user
    cost_form = CostForm(request.POST) if action == "cost" else None
    ab_form = AbTestForm(request.POST, templates=_email_templates(user)) if action == "ab-test" else None
    handlers = {
        "launch": lambda: services.campaign_launch(actor=user, campaign_id=campaign_id),
        "cancel": lambda: services.campaign_cancel(actor=user, campaign_id=campaign_id),
        "complete": lambda: services.campaign_complete(actor=user, campaign_id=campaign_id),
        "delete": lambda: services.campaign_delete(actor=user, campaign_id=campaign_id),
        "cost": lambda: _add_cost(request, campaign_id, cost_form),
        "ab-test": lambda: _set_ab_test(request, campaign_id, ab_form),
        "ab-test-remove": lambda: services.ab_test_remove(actor=user, campaign_id=campaign_id),
        "decide": lambda: services.ab_test_decide(actor=user, campaign_id=campaign_id),
        "posted": lambda: services.campaign_mark_mailed(actor=user, campaign_id=campaign_id),
    }
    if action not in handlers:
        raise Http404(action)
    try:
        handlers[action]()
    except ValidationError as error:
        by_key = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
        for key, texts in by_key.items():
            for text in texts:
                messages.error(request, text)
        return _detail_page(request, campaign_id, cost_form=cost_form, ab_form=ab_form, status=400)
    except Conflict as error:
        messages.error(request, str(error))
        return _detail_page(request, campaign_id, status=409)
    if action == "delete":
        messages.success(request, _("Campaign deleted."))
        return redirect("marketing:campaign_list")
    done = {"launch": _("Campaign launched."), "cancel": _("Campaign cancelled."),
            "complete": _("Campaign completed."), "cost": _("Cost booked."), "ab-test": _("A/B test saved."),
            "ab-test-remove": _("A/B test removed."), "decide": _("Winner chosen; sending to the rest."),
            "posted": _("Letters marked as posted.")}
    messages.success(request, done[action])
    return redirect("marketing:campaign_detail", campaign_id)


def _add_cost(request, campaign_id: int, form: CostForm):
    if not form.is_valid():
        raise ValidationError({field: list(texts) for field, texts in form.errors.items()})
    return services.campaign_add_cost(actor=request.user, campaign_id=campaign_id, amount=form.cleaned_data["amount"],
                                      note=form.cleaned_data["note"])


def _set_ab_test(request, campaign_id: int, form: AbTestForm):
    if not form.is_valid():
        raise ValidationError({field: list(texts) for field, texts in form.errors.items()})
    return services.ab_test_set(actor=request.user, campaign_id=campaign_id, data=form.to_service_data())


@staff_page
def roi_report(request):
    campaigns = selectors.campaign_list(request.user, status=request.GET.get("status", ""),
                                        channel=request.GET.get("channel", ""))
    rows = reports.roi_report(campaigns, limit=200)
    return render(request, "marketing/roi_report.html", {
        "section": "campaigns", "rows": rows, "statuses": CampaignStatus.choices,
        "channels": CampaignChannel.choices})

