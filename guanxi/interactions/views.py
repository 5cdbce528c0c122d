"""Web pages of the interaction log: the list, one interaction, the form that logs an act,
and the panels this domain adds to the 360° pages and the home dashboard (registered in
``apps.py`` through ``guanxi.core.record_panels``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from guanxi.core import selectors as core_selectors
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.interactions import selectors, services
from guanxi.interactions.forms import InteractionFilterForm, InteractionForm

HOME_RECENT = 8


def timeline_labels() -> dict:
    """Words the live timeline script needs, in the page's language."""
    return {"reason": _("Reason"), "outcome": _("Outcome"), "agent": _("Agent"), "duration": _("Duration"),
            "new_interaction": _("New interaction: %(channel)s, %(direction)s."),
            "newer_available": _("A new interaction arrived. Go to the first page of the timeline to see it."),
            "unavailable": _("Live updates are paused; reload the page to see new interactions.")}


# ======================================================================================
# Panels on pages of other domains
# ======================================================================================
def contact_timeline_panel(request, contact) -> dict:
    contact, page = selectors.contact_timeline(request.user, contact.pk, page=request.GET.get("page") or 1)
    may_log = can(request.user, "interaction", "create")
    return {
        "page": page, "title": _("Timeline"),
        "form": InteractionForm(auto_id="log_%s") if may_log else None,
        "log_url": reverse("interactions:log_for_contact", args=[contact.pk]),
        "live_contact_id": contact.pk, "labels": timeline_labels(),
        "script": static("js/live-timeline.js"),
    }


def account_timeline_panel(request, account) -> dict:
    account, page = selectors.account_timeline(request.user, account.pk, page=request.GET.get("page") or 1)
    may_log = can(request.user, "interaction", "create")
    return {
        "page": page, "title": _("Timeline of the account and its contacts"), "show_contact": True,
        "form": InteractionForm(auto_id="log_%s") if may_log else None,
        "log_url": reverse("interactions:log_for_account", args=[account.pk]),
    }


def home_recent_panel(request, _record=None) -> dict | None:
    try:
        recent = list(selectors.interaction_list(request.user, agent_id=request.user.pk)[:HOME_RECENT])
    except PermissionDenied:
        return None
    return {"interactions": recent}


# ======================================================================================
# Pages
# ======================================================================================
@staff_page
def interaction_list(request):
    form = InteractionFilterForm(request.GET)
    window = None
    if form.is_valid():
        interactions = selectors.interaction_list(
            request.user, channel=form.cleaned_data["channel"], direction=form.cleaned_data["direction"],
            agent_id=request.user.pk if form.cleaned_data["mine"] else None)
        window = page_window(interactions, request.GET.get("page"))
    else:
        selectors.visible_interactions(request.user)  # a role without the right gets 403, not a 400
    return render(request, "interactions/list.html", {"form": form, "window": window},
                  status=200 if window is not None else 400)


@staff_page
def interaction_detail(request, interaction_id: int):
    interaction = selectors.access_interaction_by_id(request.user, interaction_id)
    return render(request, "interactions/detail.html", {"interaction": interaction})


def _log(request, *, record, data_key: str, back_url: str, title: str):
    if not can(request.user, "interaction", "create"):
        raise PermissionDenied(_("You may not record interactions."))
    form = InteractionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            interaction = services.interaction_record(
                actor=request.user, data={**form.to_service_data(), data_key: record.pk})
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Interaction logged: %(channel)s, %(direction)s.") % {
                "channel": interaction.get_channel_display(), "direction": interaction.get_direction_display()})
            return redirect(back_url + "#timeline")
    return render(request, "interactions/log_form.html", {
        "form": form, "record": record, "back_url": back_url, "title": title,
    }, status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def log_for_contact(request, contact_id: int):
    contact = core_selectors.access_contact_by_id(request.user, contact_id)
    return _log(request, record=contact, data_key="contact_id",
                back_url=reverse("core:contact_360", args=[contact.pk]),
                title=_("Log an interaction with %(name)s") % {"name": contact.full_name})


@staff_page
@require_http_methods(["GET", "POST"])
def log_for_account(request, account_id: int):
    account = core_selectors.access_account_by_id(request.user, account_id)
    return _log(request, record=account, data_key="account_id",
                back_url=reverse("core:account_360", args=[account.pk]),
                title=_("Log an interaction with %(name)s") % {"name": account.name})
