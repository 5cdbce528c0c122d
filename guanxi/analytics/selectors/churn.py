"""Reads of the churn model: its card (the newest model, how it was chosen and how well it
does) and the retention list, restricted to the customers the reader may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from guanxi.analytics.models import ChurnModel, RetentionListEntry, ScoringKind, ScoringRun
from guanxi.core import selectors as core_selectors
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import User


@dataclass
class ChurnModelCard:
    model: ChurnModel | None
    training_run: ScoringRun | None   # the latest training attempt
    scoring_run: ScoringRun | None    # the latest scoring


def require_churn_view(actor: User) -> None:
    if not can(actor, "churn_model", "view"):
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not view the churn model")


def churn_model_card(actor: User) -> ChurnModelCard:
    require_churn_view(actor)
    runs = list(ScoringRun.objects.filter(kind=ScoringKind.CHURN).order_by("-started_at", "-id")[:50])
    training = next((run for run in runs if run.parameters.get("step") == "train"), None)
    scoring = next((run for run in runs if run.parameters.get("step") == "score"), None)
    return ChurnModelCard(ChurnModel.objects.defer("estimator").order_by("-trained_at", "-id").first(),
                          training, scoring)


def retention_list(actor: User) -> QuerySet[RetentionListEntry]:
    """Customers on the retention list that ``actor`` may see, riskiest first."""
    require_churn_view(actor)
    visible = core_selectors.visible_contacts(actor)
    return (RetentionListEntry.objects.filter(contact__in=visible).select_related("contact", "contact__owner")
            .order_by("-churn_risk", "contact_id"))
