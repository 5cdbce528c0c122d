"""Running the built-in analyses for a reader: the access check, the parameters, the
reader's visible customers and accounts passed into the warehouse queries."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from guanxi.analytics.analyses import ANALYSES, SECTIONS, Analysis, AnalysisContext, AnalysisResult
from guanxi.analytics.selectors.visibility import account_scope, customer_scope
from guanxi.core.access import can
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.models import User


def require_analysis(actor: User, action: str = "view") -> None:
    if not can(actor, "analysis", action):
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not {action} analyses")


def analysis_sections(actor: User) -> list[tuple[str, list[Analysis]]]:
    """The analyses whose data is installed, by section."""
    require_analysis(actor)
    return [(str(title), [analysis for analysis in ANALYSES.values()
                          if analysis.section == section and analysis.available()])
            for section, title in SECTIONS.items()]


def access_analysis(actor: User, key: str, action: str = "view") -> Analysis:
    require_analysis(actor, action)
    analysis = ANALYSES.get(key)
    if analysis is None or not analysis.available():
        raise NotFound(f"analysis {key}")
    return analysis


def parameters_form(analysis: Analysis, data) -> forms.Form:
    """The form bound to ``data``, or to the defaults when no parameter was given."""
    form_class = analysis.form_class
    given = {name: data.get(name) for name in form_class.base_fields if data and name in data}
    if not given:
        given = {name: field.initial for name, field in form_class.base_fields.items() if field.initial is not None}
    return form_class(given)


@dataclass
class AnalysisAnswer:
    analysis: Analysis
    form: forms.Form
    result: AnalysisResult | None


def run_analysis(actor: User, key: str, data=None, *, action: str = "view") -> AnalysisAnswer:
    """The analysis for ``actor`` with the given parameters. An invalid form answers with
    the form's errors and no result; ``ValidationError`` is raised for the API."""
    analysis = access_analysis(actor, key, action)
    form = parameters_form(analysis, data)
    if not form.is_valid():
        return AnalysisAnswer(analysis, form, None)
    context = AnalysisContext(actor=actor, customers=customer_scope(actor, action),
                              accounts=account_scope(actor, action), today=timezone.localdate())
    return AnalysisAnswer(analysis, form, analysis.run(context, form.cleaned_data))


def run_analysis_or_raise(actor: User, key: str, data=None, *, action: str = "view") -> AnalysisAnswer:
    answer = run_analysis(actor, key, data, action=action)
    if answer.result is None:
        raise ValidationError({field: [str(message) for message in messages]
                               for field, messages in answer.form.errors.items()})
    return answer
