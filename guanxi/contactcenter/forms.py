"""Web forms of the contact center: call filters, the Erlang calculator, the IVR editor,
the phone simulator, the report period and the new-contact card."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.contactcenter.models import CallState, Queue
from guanxi.core.forms import ServiceForm


class CallFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("Any"))] + list(CallState.choices))
    queue = forms.ModelChoiceField(label=_("Queue"), required=False, queryset=Queue.objects.order_by("name"),
                                   empty_label=_("Any"))
    mine = forms.BooleanField(label=_("Only mine"), required=False)


class ErlangForm(forms.Form):
    calls_per_hour = forms.FloatField(label=_("Calls per hour"), min_value=0.01, max_value=1_000_000,
                                      help_text=_("Calls offered in the busiest hour."))
    average_handle_time = forms.FloatField(label=_("Average handle time (s)"), min_value=1, max_value=86_400,
                                           help_text=_("Talk, hold and wrap-up per call."))
    target_seconds = forms.FloatField(label=_("Answer within (s)"), min_value=0, max_value=3_600, initial=20,
                                      help_text=_("The service level time, e.g. 20 of 80/20."))
    service_level = forms.FloatField(label=_("Service level goal (%)"), min_value=1, max_value=99.9, initial=80,
                                     help_text=_("Share of calls to answer within that time."))
    average_patience = forms.FloatField(label=_("Average patience (s)"), required=False, min_value=1,
                                        max_value=86_400,
                                        help_text=_("How long callers wait before hanging up, on average; "
                                                    "given, Erlang A replaces Erlang C."))
    max_occupancy = forms.FloatField(label=_("Maximum occupancy (%)"), required=False, min_value=1, max_value=100,
                                     help_text=_("Optional cap on how busy agents may be."))


class IvrMenuForm(ServiceForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    numbers = forms.CharField(label=_("Dialled numbers"), required=False, max_length=500,
                              help_text=_("Numbers answered by this menu, separated by commas."))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    source = forms.CharField(label=_("Definition (YAML or JSON)"), widget=forms.Textarea(
        attrs={"rows": 24, "spellcheck": "false", "class": "code-editor"}))

    def to_service_data(self) -> dict:
        cleaned = self.cleaned_data
        numbers = [number.strip() for number in (cleaned.get("numbers") or "").split(",") if number.strip()]
        return {"name": cleaned["name"], "numbers": numbers, "is_active": cleaned.get("is_active", False),
                "source": cleaned["source"]}


class SimulatorCallForm(forms.Form):
    ani = forms.CharField(label=_("Caller number"), max_length=40, initial="+86 138 0013 8000",
                          help_text=_("The number the simulated customer calls from."))
    dnis = forms.CharField(label=_("Dialled number"), max_length=40,
                           help_text=_("The service number called; it picks the IVR menu or queue."))


class ReportForm(forms.Form):
    GROUPS = (("interval", _("Interval")), ("queue", _("Queue")), ("agent", _("Agent")))
    INTERVALS = ((15, _("15 minutes")), (30, _("30 minutes")), (60, _("1 hour")), (1440, _("1 day")))

    group_by = forms.ChoiceField(label=_("Group by"), choices=GROUPS, initial="interval")
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}))
    interval_minutes = forms.TypedChoiceField(label=_("Interval"), choices=INTERVALS, coerce=int, initial=60)
    queue = forms.ModelChoiceField(label=_("Queue"), required=False, queryset=Queue.objects.order_by("name"),
                                   empty_label=_("All queues"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.initial.setdefault("start", today)
        self.initial.setdefault("end", today)

    def period(self) -> tuple[datetime.datetime, datetime.datetime]:
        zone = timezone.get_current_timezone()
        start = datetime.datetime.combine(self.cleaned_data["start"], datetime.time.min, tzinfo=zone)
        end = datetime.datetime.combine(self.cleaned_data["end"] + datetime.timedelta(days=1), datetime.time.min,
                                        tzinfo=zone)
        return start, end


class NewContactFromCallForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    email = forms.EmailField(label=_("Email"), required=False)
