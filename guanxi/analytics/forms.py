"""Forms of the analytics pages: the report builder and report schedules.

The builder is an ordinary form whose choices come from the chosen object (``SOURCES``):
two groupings, up to four measures (aggregate and field), up to four filters, the chart,
the order and the number of rows. ``definition()`` turns it into the JSON a ``Report``
keeps; ``initial_from_definition`` does the reverse for editing.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.analytics import report_builder
from guanxi.analytics.models import ChartType, ExportFormat, ScheduleFrequency
from guanxi.core.models import Team, User

GROUPS = report_builder.MAX_GROUPS
MEASURES = report_builder.MAX_MEASURES
FILTERS = 4


class SourceForm(forms.Form):
    source = forms.ChoiceField(label=_("Object"), help_text=_("What the report counts."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [(source.key, source.label) for source in report_builder.available_sources()]


class ReportBuilderForm(forms.Form):
    def __init__(self, source: report_builder.Source, actor: User, *args, saving: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source
        blank = [("", "—")]
        dimensions = blank + [(item.key, item.label) for item in source.dimensions]
        measures = blank + [(f"{aggregate}:{item.key}", report_builder.measure_label(aggregate, item))
                            for item in source.measures for aggregate in item.aggregates]
        filter_fields = blank + [(item.key, item.label) for item in source.filters]
        operators = blank + [(key, label) for key, label in report_builder.OPERATOR_LABELS.items()]
        for index in range(GROUPS):
            self.fields[f"group_by_{index}"] = forms.ChoiceField(
                label=_("Group by") if index == 0 else _("Then by"), choices=dimensions, required=False)
        for index in range(MEASURES):
            self.fields[f"measure_{index}"] = forms.ChoiceField(
                label=_("Measure %(number)d") % {"number": index + 1}, choices=measures, required=False)
        for index in range(FILTERS):
            self.fields[f"filter_field_{index}"] = forms.ChoiceField(
                label=_("Filter %(number)d") % {"number": index + 1}, choices=filter_fields, required=False)
            self.fields[f"filter_operator_{index}"] = forms.ChoiceField(label=_("Condition"), choices=operators,
                                                                        required=False)
            self.fields[f"filter_value_{index}"] = forms.CharField(
                label=_("Value"), required=False, max_length=200,
                help_text=_("Dates as YYYY-MM-DD; several values separated by commas."))
            self.fields[f"filter_value_to_{index}"] = forms.CharField(
                label=_("To (for “between”)"), required=False, max_length=200)
        self.fields["chart_type"] = forms.ChoiceField(label=_("Chart"), choices=ChartType.choices,
                                                      initial=ChartType.BAR)
        self.fields["sort"] = forms.ChoiceField(label=_("Order"), required=False, choices=[
            ("", _("By the first grouping")), ("-m0", _("Largest first measure first")),
            ("m0", _("Smallest first measure first")), ("-g0", _("By the first grouping, descending"))])
        self.fields["limit"] = forms.IntegerField(label=_("Rows"), min_value=1, max_value=report_builder.MAX_ROWS,
                                                  initial=100, required=False)
        if saving:
            self.fields["name"] = forms.CharField(label=_("Name"), max_length=200)
            self.fields["description"] = forms.CharField(label=_("Description"), required=False,
                                                         widget=forms.Textarea(attrs={"rows": 2}))
            teams = Team.objects.all() if actor.is_superuser else Team.objects.filter(
                pk__in=[team_id for team_id in [actor.team_id, *actor.managed_teams.values_list("pk", flat=True)]
                        if team_id])
            self.fields["shared_with_team"] = forms.ModelChoiceField(
                label=_("Share with team"), queryset=teams, required=False, empty_label=_("Only me"))
            self.fields["on_dashboard"] = forms.BooleanField(label=_("Show on the dashboard"), required=False)

    def definition(self) -> dict:
        data = self.cleaned_data
        measures = []
        for index in range(MEASURES):
            if data.get(f"measure_{index}"):
                aggregate, _colon, field = data[f"measure_{index}"].partition(":")
                measures.append({"aggregate": aggregate, "field": field})
        filters = []
        for index in range(FILTERS):
            field, operator = data.get(f"filter_field_{index}"), data.get(f"filter_operator_{index}")
            if not field:
                continue
            value = data.get(f"filter_value_{index}", "")
            if operator == "between":
                value = [value, data.get(f"filter_value_to_{index}", "")]
            elif operator == "in":
                value = [part.strip() for part in value.split(",") if part.strip()]
            filters.append({"field": field, "operator": operator, "value": value})
        definition = {"group_by": [data[f"group_by_{index}"] for index in range(GROUPS) if data.get(f"group_by_{index}")],
                      "measures": measures or [{"aggregate": "count", "field": "rows"}], "filters": filters,
                      "limit": data.get("limit") or 100}
        if data.get("sort"):
            definition["sort"] = data["sort"]
        return definition

    def checked(self) -> report_builder.CheckedDefinition | None:
        """The definition checked by the builder; errors are put on the form's fields."""
        try:
            return report_builder.check_definition(self.source.key, self.definition())
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                target = {"group_by": "group_by_0", "sort": "sort", "limit": "limit"}.get(key)
                if key.startswith("measures."):
                    target = f"measure_{key.split('.')[1]}"
                elif key.startswith("filters."):
                    target = f"filter_field_{key.split('.')[1]}"
                for message in messages:
                    self.add_error(target if target in self.fields else None, message)
            return None


def initial_from_definition(report) -> dict:
    definition = report.definition or {}
    initial = {"chart_type": report.chart_type, "name": report.name, "description": report.description,
               "shared_with_team": report.shared_with_team_id, "on_dashboard": report.on_dashboard,
               "sort": definition.get("sort", ""), "limit": definition.get("limit", 100)}
    for index, key in enumerate(definition.get("group_by", [])[:GROUPS]):
        initial[f"group_by_{index}"] = key
    for index, measure in enumerate(definition.get("measures", [])[:MEASURES]):
        initial[f"measure_{index}"] = f"{measure.get('aggregate')}:{measure.get('field')}"
    for index, item in enumerate(definition.get("filters", [])[:FILTERS]):
        initial[f"filter_field_{index}"] = item.get("field")
        initial[f"filter_operator_{index}"] = item.get("operator")
        value = item.get("value")
        if isinstance(value, list) and item.get("operator") == "between":
            initial[f"filter_value_{index}"], initial[f"filter_value_to_{index}"] = value[0], value[1]
        elif isinstance(value, list):
            initial[f"filter_value_{index}"] = ", ".join(str(part) for part in value)
        else:
            initial[f"filter_value_{index}"] = value
    return initial


class ScheduleForm(forms.Form):
    frequency = forms.ChoiceField(label=_("How often"), choices=ScheduleFrequency.choices,
                                  initial=ScheduleFrequency.WEEKLY)
    export_format = forms.ChoiceField(label=_("Format"), choices=ExportFormat.choices, initial=ExportFormat.PDF)
    recipients = forms.CharField(label=_("Send to"), max_length=2000,
                                 help_text=_("E-mail addresses separated by commas."))
