"""The churn model card (AUC, calibration, features, training date) and the retention list."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanxi.analytics.charts import chart
from guanxi.analytics.selectors import churn as selectors
from guanxi.analytics.services import churn as churn_services
from guanxi.core.access import can
from guanxi.core.views.guard import staff_page
from guanxi.core.views.paging import page_window

ALGORITHM_LABELS = {"logistic_regression": _("Logistic regression"),
                    "gradient_boosting": _("Gradient boosting")}


def labelled_reasons(reasons: list[dict]) -> list[dict]:
    """Stored reasons with the feature's label in the reader's language."""
    return [{**reason, "label": churn_services.feature_label(reason["feature"]),
             "shown": "" if reason.get("value") is None else f"{reason['value']:g}"} for reason in reasons]


@staff_page
def churn_model(request):
    card = selectors.churn_model_card(request.user)
    model = card.model
    context = {"card": card, "model": model, "may_train": can(request.user, "churn_model", "change"),
               "algorithm_labels": ALGORITHM_LABELS}
    if model is not None:
        bands = [f"{band['low']:.0%}–{band['high']:.0%}" for band in model.calibration]
        context.update(
            calibration_chart=chart("calibration-chart", "line", _("Predicted against observed churn by risk band"),
                                    bands, [(_("Predicted"), [band["predicted"] for band in model.calibration]),
                                            (_("Observed"), [band["observed"] for band in model.calibration])]),
            importances=[{"feature": name, "label": churn_services.feature_label(name), "importance": value}
                         for name, value in model.importances],
            cross_validation=[{"name": name, "label": ALGORITHM_LABELS.get(name, name), **scores}
                              for name, scores in model.cross_validation.items()])
        context["importance_chart"] = chart(
            "importance-chart", "bar", _("Permutation importance (loss of AUC without the feature)"),
            [row["label"] for row in context["importances"]],
            [(_("Importance"), [row["importance"] for row in context["importances"]])])
    window = page_window(selectors.retention_list(request.user), request.GET.get("page"))
    for entry in window.items:
        entry.labelled = labelled_reasons(entry.reasons)
    context["window"] = window
    return render(request, "analytics/churn_model.html", context)


@staff_page
@require_POST
def churn_model_train(request):
    job = churn_services.churn_model_train_enqueue(actor=request.user)
    messages.success(request, _("Training started; it runs in the background."))
    return redirect("jobs:detail", job.pk)
