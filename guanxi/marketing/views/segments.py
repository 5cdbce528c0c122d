"""Segment pages: the list, one segment with its members, the rule editor with its live
count (an htmx endpoint), snapshots and deletion."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanxi.core.access import can
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window
from guanxi.marketing import segment_rules, selectors, services
from guanxi.marketing.forms import RulesOnlyForm, SegmentForm, SnapshotForm, rule_position
from guanxi.marketing.models import SegmentKind


@staff_page
def segment_list(request):
    query = request.GET.get("q", "").strip()
    segments = selectors.segment_list(request.user, query=query, kind=request.GET.get("kind", ""))
    return render(request, "marketing/segment_list.html", {"section": "segments",
        "window": page_window(segments, request.GET.get("page")), "query": query,
        "may_create": can(request.user, selectors.SEGMENT, "create"), "kinds": SegmentKind.choices,
    })


@staff_page
def segment_detail(request, segment_id: int):
    segment = selectors.access_segment_by_id(request.user, segment_id)
    window, rule_error = None, None
    try:
        window = page_window(selectors.segment_members(request.user, segment.pk), request.GET.get("page"))
    except ValidationError as error:
        rule_error = _described_errors(error)
    return render(request, "marketing/segment_detail.html", {"section": "segments",
        "segment": segment, "window": window, "rule_errors": rule_error,
        "rules_tree": segment_rules.describe_rules(segment.rules) if segment.rules else None,
        "may_change": _may(request.user, segment.pk, "change"), "may_delete": _may(request.user, segment.pk, "delete"),
        "may_create": can(request.user, selectors.SEGMENT, "create"), "snapshot_form": SnapshotForm(),
        "campaigns": list(segment.campaigns.values("pk", "name", "status")[:20]),
    })


def _may(user, segment_id: int, action: str) -> bool:
    return selectors.visible_segments(user, action).filter(pk=segment_id).exists() if can(
        user, selectors.SEGMENT, action) else False


def _described_errors(error: ValidationError) -> list[str]:
    by_key = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
    return [f"{rule_position(key)}: {message}" if rule_position(key) else message
            for key, messages in by_key.items() for message in messages]


def _editor(request, *, form, segment=None, status=200):
    return render(request, "marketing/segment_form.html", {"section": "segments",
        "form": form, "segment": segment, "schema": segment_rules.editor_schema(),
        "labels": editor_labels(),
        "title": _("Edit segment %(name)s") % {"name": segment.name} if segment else _("New segment"),
        "cancel_url": reverse("marketing:segment_detail", args=[segment.pk]) if segment
        else reverse("marketing:segment_list"),
    }, status=status)


def editor_labels() -> dict:
    """Words the rule editor script shows, in the page's language."""
    return {
        "match": _("Contacts matching"), "add_condition": _("Add condition"), "add_group": _("Add group"),
        "remove": _("Remove"), "remove_group": _("Remove group"), "kind": _("Kind of condition"),
        "field": _("Field"), "operator": _("Operator"), "value": _("Value"), "and": _("and"),
        "custom_target_contact": _("Contact"), "custom_target_account": _("Account"), "any": _("Any"),
        "values_hint": _("Several values: separate them with commas."), "no_custom": _("No custom fields defined."),
        "empty_group": _("No conditions yet: this group matches every contact."),
    }


@staff_page
@require_http_methods(["GET", "POST"])
def segment_create(request):
    if not can(request.user, selectors.SEGMENT, "create"):
        raise PermissionDenied(_("You may not create segments."))
    form = SegmentForm(request.POST or None, initial={
        "rules": '{"type": "group", "match": "all", "rules": []}'})
    if request.method == "POST" and form.is_valid():
        try:
            segment = services.segment_create(actor=request.user, data=form.to_service_data())
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, _("Segment “%(name)s” saved: %(count)d contacts.")
                             % {"name": segment.name, "count": segment.member_count})
            return redirect("marketing:segment_detail", segment.pk)
    return _editor(request, form=form, status=400 if request.method == "POST" else 200)


@staff_page
@require_http_methods(["GET", "POST"])
def segment_edit(request, segment_id: int):
    segment = selectors.access_segment_by_id(request.user, segment_id, "change")
    form = SegmentForm(request.POST or None, editing=True, initial={
        "name": segment.name, "description": segment.description,
        "rules": json.dumps(segment.rules or {"type": "group", "match": "all", "rules": []}, ensure_ascii=False)})
    if request.method == "POST" and form.is_valid():
        try:
            segment = services.segment_update(actor=request.user, segment_id=segment.pk,
                                              data=form.to_service_data(),
                                              expected_version=_int(request.POST.get("version")))
        except ValidationError as error:
            form.apply_service_errors(error)
        except Conflict as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Segment “%(name)s” saved: %(count)d contacts.")
                             % {"name": segment.name, "count": segment.member_count})
            return redirect("marketing:segment_detail", segment.pk)
    return _editor(request, form=form, segment=segment, status=400 if request.method == "POST" else 200)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@staff_page
@require_POST
def segment_count(request):
    """The editor's live count: an HTML fragment htmx swaps in as the rules change."""
    form = RulesOnlyForm(request.POST)
    count, errors = None, []
    if form.is_valid():
        try:
            count = selectors.segment_preview_count(request.user, form.cleaned_data["rules"])
        except ValidationError as error:
            errors = _described_errors(error)
    else:
        errors = [message for messages_list in form.errors.values() for message in messages_list]
    return render(request, "marketing/includes/segment_count.html", {"count": count, "errors": errors})


@staff_page
@require_POST
def segment_freeze(request, segment_id: int):
    form = SnapshotForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    try:
        snapshot = services.segment_freeze(actor=request.user, segment_id=segment_id, name=name)
    except ValidationError as error:
        for message in _described_errors(error):
            messages.error(request, message)
        return redirect("marketing:segment_detail", segment_id)
    messages.success(request, _("Snapshot “%(name)s” saved with %(count)d contacts.")
                     % {"name": snapshot.name, "count": snapshot.member_count})
    return redirect("marketing:segment_detail", snapshot.pk)


@staff_page
@require_POST
def segment_delete(request, segment_id: int):
    try:
        services.segment_delete(actor=request.user, segment_id=segment_id)
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("marketing:segment_detail", segment_id)
    messages.success(request, _("Segment deleted."))
    return redirect("marketing:segment_list")
