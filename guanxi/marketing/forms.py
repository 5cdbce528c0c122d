"""Web forms of the marketing domain. Each form cleans input for one service, which may
still refuse it field by field (``apply_service_errors``)."""

from __future__ import annotations

import json
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.forms import ServiceForm, model_field
from guanxi.marketing.models import AbTest, Campaign, Event, Material, MessageTemplate, Segment, SegmentKind

_RULE_POSITION = re.compile(r"^rules((?:\.\d+)*)$")


def rule_position(key: str) -> str:
    """``rules.0.2`` → "Rule 1 › 3", for messages shown next to the rule editor."""
    match = _RULE_POSITION.match(key)
    if not match or not match.group(1):
        return ""
    numbers = [str(int(part) + 1) for part in match.group(1).strip(".").split(".")]
    return _("Rule %(position)s") % {"position": " › ".join(numbers)}


class RulesFormMixin:
    """A ``rules`` text field holding the JSON the rule editor writes."""

    def clean_rules(self) -> dict:
        text = (self.cleaned_data.get("rules") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(_("The rules are not valid JSON (line %(line)d, column %(column)d).")
                                  % {"line": error.lineno, "column": error.colno}) from None
        if not isinstance(value, dict):
            raise ValidationError(_("The rules must be a group object."))
        return value

    def form_field_for(self, key: str) -> str | None:
        if key.startswith("rules"):
            return "rules"
        return super().form_field_for(key)

    def apply_service_errors(self, error: ValidationError) -> None:
        by_key = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        for key, messages in by_key.items():
            position = rule_position(key)
            for message in messages:
                self.add_error(self.form_field_for(key), f"{position}: {message}" if position else message)


class SegmentForm(RulesFormMixin, ServiceForm):
    name = model_field(Segment, "name")
    description = model_field(Segment, "description", widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=SegmentKind.choices, initial=SegmentKind.DYNAMIC,
                             help_text=gettext_lazy("Dynamic segments follow their rules; static ones keep the "
                                                    "contacts added to them."))
    rules = forms.CharField(label=gettext_lazy("Rules (JSON)"), required=False,
                            widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
                            help_text=gettext_lazy("Written by the rule editor above; you may also edit it by hand."))

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["kind"]

    def to_service_data(self) -> dict:
        data = {key: self.cleaned_data[key] for key in ("name", "description", "rules")}
        if "kind" in self.fields:
            data["kind"] = self.cleaned_data["kind"]
        return data


class RulesOnlyForm(RulesFormMixin, forms.Form):
    rules = forms.CharField(required=False)


class SnapshotForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name of the snapshot"), max_length=200, required=False)


class MessageTemplateForm(ServiceForm):
    name = model_field(MessageTemplate, "name")
    channel = model_field(MessageTemplate, "channel")
    subject_en = model_field(MessageTemplate, "subject_en")
    body_en = model_field(MessageTemplate, "body_en", widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}))
    subject_zh = model_field(MessageTemplate, "subject_zh")
    body_zh = model_field(MessageTemplate, "body_zh", widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}))

    def to_service_data(self) -> dict:
        return dict(self.cleaned_data)


class PreviewForm(forms.Form):
    contact = forms.CharField(label=gettext_lazy("Contact"), max_length=200,
                              help_text=gettext_lazy("Name, email, phone or contact number."))
    language = forms.ChoiceField(label=gettext_lazy("Language"), required=False, choices=[
        ("", gettext_lazy("The contact's language")), ("en", "English"), ("zh-hans", "简体中文")])


class TestSendForm(PreviewForm):
    to_email = forms.EmailField(label=gettext_lazy("Send the test to"))


class CampaignForm(ServiceForm):
    name = model_field(Campaign, "name")
    channel = model_field(Campaign, "channel")
    description = model_field(Campaign, "description", widget=forms.Textarea(attrs={"rows": 3}))
    segment_id = forms.TypedChoiceField(label=gettext_lazy("Target segment"), required=False, coerce=int,
                                        empty_value=None)
    template_id = forms.TypedChoiceField(label=gettext_lazy("Message template"), required=False, coerce=int,
                                         empty_value=None)
    event_id = forms.TypedChoiceField(label=gettext_lazy("Event"), required=False, coerce=int, empty_value=None)
    landing_url = model_field(Campaign, "landing_url", assume_scheme="https")
    currency = model_field(Campaign, "currency")
    budget = model_field(Campaign, "budget")
    planned_cost = model_field(Campaign, "planned_cost")
    actual_cost = model_field(Campaign, "actual_cost")
    expected_revenue = model_field(Campaign, "expected_revenue")
    scheduled_at = forms.DateTimeField(label=gettext_lazy("Scheduled for"), required=False,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                  format="%Y-%m-%dT%H:%M"),
                                       help_text=gettext_lazy("Empty: sending starts at the launch."))
    ends_at = forms.DateTimeField(label=gettext_lazy("Ends at"), required=False,
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    material_ids = forms.TypedMultipleChoiceField(label=gettext_lazy("Materials"), required=False, coerce=int)

    sections = (
        (gettext_lazy("Campaign"), ("name", "channel", "description")),
        (gettext_lazy("Audience and message"), ("segment_id", "template_id", "event_id", "landing_url",
                                                "material_ids")),
        (gettext_lazy("Money"), ("currency", "budget", "planned_cost", "actual_cost", "expected_revenue")),
        (gettext_lazy("Schedule"), ("scheduled_at", "ends_at")),
    )

    def __init__(self, *args, segments=(), templates=(), events=(), materials=(), **kwargs):
        super().__init__(*args, **kwargs)
        none = [("", "—")]
        self.fields["segment_id"].choices = none + [(item.pk, item.name) for item in segments]
        self.fields["template_id"].choices = none + [(item.pk, f"{item.name} ({item.get_channel_display()})")
                                                     for item in templates]
        self.fields["event_id"].choices = none + [(item.pk, item.name) for item in events]
        self.fields["material_ids"].choices = [(item.pk, item.title) for item in materials]

    def to_service_data(self) -> dict:
        return dict(self.cleaned_data)


class CostForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("Amount"), min_value=0.01, max_digits=14, decimal_places=2)
    note = forms.CharField(label=gettext_lazy("What for"), max_length=200, required=False)


class AbTestForm(ServiceForm):
    metric = model_field(AbTest, "metric")
    sample_percent = model_field(AbTest, "sample_percent")
    subject_b = model_field(AbTest, "subject_b")
    template_b_id = forms.TypedChoiceField(label=gettext_lazy("Template B"), required=False, coerce=int,
                                           empty_value=None)
    decide_after_hours = model_field(AbTest, "decide_after_hours")

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template_b_id"].choices = [("", "—")] + [(item.pk, item.name) for item in templates]

    def to_service_data(self) -> dict:
        return dict(self.cleaned_data)


class MaterialForm(ServiceForm):
    title = model_field(Material, "title")
    description = model_field(Material, "description", widget=forms.Textarea(attrs={"rows": 3}))
    language = model_field(Material, "language")
    tags = forms.CharField(label=gettext_lazy("Tags"), required=False, max_length=300,
                           help_text=gettext_lazy("Separate tags with commas."))
    file = forms.FileField(label=gettext_lazy("File"))
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=300)

    def to_service_data(self) -> dict:
        return {"title": self.cleaned_data["title"], "description": self.cleaned_data["description"],
                "language": self.cleaned_data["language"],
                "tags": [item.strip() for item in self.cleaned_data["tags"].split(",") if item.strip()]}


class MaterialVersionForm(ServiceForm):
    file = forms.FileField(label=gettext_lazy("New version"))
    note = forms.CharField(label=gettext_lazy("What changed"), required=False, max_length=300)


class EventForm(ServiceForm):
    name = model_field(Event, "name")
    slug = model_field(Event, "slug", required=False)
    description = model_field(Event, "description", widget=forms.Textarea(attrs={"rows": 3}))
    starts_at = forms.DateTimeField(label=gettext_lazy("Starts at"), widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    ends_at = forms.DateTimeField(label=gettext_lazy("Ends at"), required=False, widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    venue = model_field(Event, "venue")
    address = model_field(Event, "address")
    capacity = model_field(Event, "capacity")
    registration_open = model_field(Event, "registration_open")
    reminder_hours = model_field(Event, "reminder_hours")

    def to_service_data(self) -> dict:
        return dict(self.cleaned_data)


class RegistrationForm(ServiceForm):
    full_name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    email = forms.EmailField(label=gettext_lazy("Email"))
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    company = forms.CharField(label=gettext_lazy("Company"), max_length=200, required=False)
