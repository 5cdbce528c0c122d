"""Web forms of the interaction log: logging one act, and filtering the list."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.forms import ServiceForm, model_field
from guanxi.core.models import Channel
from guanxi.interactions.models import Direction, Interaction

_DURATION = re.compile(r"^(?:(\d+):)?(\d+)(?::(\d{1,2}))?$")


def parse_duration(text: str) -> int:
    """``"5"`` (minutes), ``"4:30"`` (minutes:seconds) or ``"1:02:30"`` → seconds."""
    text = (text or "").strip()
    if not text:
        return 0
    match = _DURATION.match(text)
    if not match:
        raise ValidationError(_("Enter minutes (5), minutes and seconds (4:30) or hours, minutes and seconds "
                                "(1:02:30)."))
    first, second, third = match.groups()
    if first is None and third is None:
        return int(second) * 60
    if third is None:  # m:ss
        minutes, seconds = int(first), int(second)
        hours = 0
    else:  # h:mm:ss
        hours, minutes, seconds = int(first), int(second), int(third)
    if seconds >= 60 or (third is not None and minutes >= 60):
        raise ValidationError(_("Minutes and seconds go up to 59."))
    return hours * 3600 + minutes * 60 + seconds


class InteractionForm(ServiceForm):
    channel = model_field(Interaction, "channel", initial=Channel.PHONE)
    direction = model_field(Interaction, "direction")
    occurred_at = forms.DateTimeField(
        label=_("Time"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("When it started."))
    duration = forms.CharField(label=_("Duration"), required=False, max_length=12,
                               help_text=_("Minutes (5), minutes:seconds (4:30) or hours:minutes:seconds."))
    subject = model_field(Interaction, "subject")
    reason = model_field(Interaction, "reason")
    outcome = model_field(Interaction, "outcome")
    effect = model_field(Interaction, "effect")
    script = model_field(Interaction, "script")
    notes = model_field(Interaction, "notes", widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("occurred_at", timezone.localtime().replace(second=0, microsecond=0))

    def clean_duration(self) -> int:
        return parse_duration(self.cleaned_data.get("duration"))

    def form_field_for(self, key: str) -> str | None:
        return "duration" if key == "duration_seconds" else super().form_field_for(key)

    def to_service_data(self) -> dict:
        cleaned = self.cleaned_data
        data = {name: cleaned.get(name) for name in ("channel", "direction", "occurred_at", "subject", "reason",
                                                      "outcome", "effect", "script", "notes")}
        data["duration_seconds"] = cleaned.get("duration") or 0
        return data


class InteractionFilterForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=[("", _("Any"))] + list(Channel.choices))
    direction = forms.ChoiceField(label=_("Direction"), required=False,
                                  choices=[("", _("Any"))] + list(Direction.choices))
    mine = forms.BooleanField(label=_("Only mine"), required=False)
