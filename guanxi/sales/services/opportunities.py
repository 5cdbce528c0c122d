"""Pipelines with their stages, and opportunities moving through them with a stage history."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict, NotFound
from guanxi.core.events import record_changed, send_on_commit
from guanxi.core.models import AuditAction, User
from guanxi.sales import selectors
from guanxi.sales.models import (
    CloseReason, Competitor, ForecastCategory, Lead, Opportunity, OpportunityProduct, OpportunityStageChange,
    OpportunityTeamMember, Pipeline, Product, Stage, StageKind,
)
from guanxi.sales.services.common import (
    check_version, full_clean_into, place, raise_if, require, snapshot, to_base, touch, visible_account_or_error,
    visible_contact_or_error,
)

OPPORTUNITY_FIELDS = ("name", "amount", "currency", "close_date", "next_step", "description", "forecast_category",
                      "campaign_id", "campaign_name")
TRACKED = OPPORTUNITY_FIELDS + ("stage_id", "probability", "owner_id", "territory_id", "account_id", "contact_id",
                                "close_reason", "lost_to_id")


# ======================================================================================
# Pipelines and stages (sales settings)
# ======================================================================================
def default_pipeline() -> Pipeline | None:
    return (Pipeline.objects.filter(is_active=True, is_default=True).first()
            or Pipeline.objects.filter(is_active=True).order_by("id").first())


STAGE_FIELDS = ("name", "name_zh", "position", "probability", "kind", "forecast_category")


@transaction.atomic
def pipeline_create(*, actor: User, name: str, is_default: bool = False, stages: list[dict] | None = None) -> Pipeline:
    require(actor, "sales_setup", "create", _("You may not change sales settings."))
    errors: dict[str, list[str]] = {}
    pipeline = Pipeline(name=(name or "").strip(), is_default=is_default)
    full_clean_into(pipeline, errors)
    if Pipeline.objects.filter(name=pipeline.name).exists():
        errors.setdefault("name", []).append(_("A pipeline with this name already exists."))
    stages = stages or []
    if not any(stage.get("kind", StageKind.OPEN) == StageKind.OPEN for stage in stages) and stages:
        errors.setdefault("stages", []).append(_("A pipeline needs at least one open stage."))
    raise_if(errors)
    if is_default:
        Pipeline.objects.filter(is_default=True).update(is_default=False)
    pipeline.save()
    for position, stage_data in enumerate(stages):
        stage_create(actor=actor, pipeline_id=pipeline.pk, data={"position": position, **stage_data})
    audit_record(actor=actor, action=AuditAction.CREATE, obj=pipeline, changes={"name": [None, pipeline.name]})
    return pipeline


@transaction.atomic
def pipeline_update(*, actor: User, pipeline_id: int, data: dict) -> Pipeline:
    require(actor, "sales_setup", "change", _("You may not change sales settings."))
    pipeline = Pipeline.objects.select_for_update().filter(pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id}")
    before = snapshot(pipeline, ("name", "is_default", "is_active"))
    for field in ("name", "is_default", "is_active"):
        if field in data and data[field] is not None:
            setattr(pipeline, field, data[field].strip() if isinstance(data[field], str) else data[field])
    errors: dict[str, list[str]] = {}
    full_clean_into(pipeline, errors)
    if Pipeline.objects.filter(name=pipeline.name).exclude(pk=pipeline.pk).exists():
        errors.setdefault("name", []).append(_("A pipeline with this name already exists."))
    raise_if(errors)
    if pipeline.is_default:
        Pipeline.objects.filter(is_default=True).exclude(pk=pipeline.pk).update(is_default=False)
    pipeline.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=pipeline,
                 changes=diff(before, snapshot(pipeline, ("name", "is_default", "is_active"))))
    return pipeline


@transaction.atomic
def stage_create(*, actor: User, pipeline_id: int, data: dict) -> Stage:
    require(actor, "sales_setup", "create", _("You may not change sales settings."))
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id}")
    stage = Stage(pipeline=pipeline)
    if "position" not in data:
        stage.position = (pipeline.stages.aggregate(last=Max("position"))["last"] or 0) + 1
    _stage_apply(stage, data)
    stage.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=stage, changes=diff({}, snapshot(stage, STAGE_FIELDS)))
    return stage


def _stage_apply(stage: Stage, data: dict) -> None:
    errors: dict[str, list[str]] = {}
    for field in STAGE_FIELDS:
        if field in data and data[field] is not None:
            setattr(stage, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if "forecast_category" not in data and stage.pk is None:
        stage.forecast_category = {StageKind.WON: ForecastCategory.CLOSED,
                                   StageKind.LOST: ForecastCategory.OMITTED}.get(stage.kind, stage.forecast_category)
    if stage.kind == StageKind.WON and "probability" not in data:
        stage.probability = 100
    if stage.kind == StageKind.LOST and "probability" not in data:
        stage.probability = 0
    full_clean_into(stage, errors, exclude=["pipeline"])
    if Stage.objects.filter(pipeline_id=stage.pipeline_id, name=stage.name).exclude(pk=stage.pk).exists():
        errors.setdefault("name", []).append(_("The pipeline already has a stage with this name."))
    raise_if(errors)


@transaction.atomic
def stage_update(*, actor: User, stage_id: int, data: dict) -> Stage:
    require(actor, "sales_setup", "change", _("You may not change sales settings."))
    stage = Stage.objects.select_for_update().filter(pk=stage_id).first()
    if stage is None:
        raise NotFound(f"stage {stage_id}")
    before = snapshot(stage, STAGE_FIELDS)
    if "kind" in data and data["kind"] != stage.kind and stage.opportunities.exists():
        raise ValidationError({"kind": [_("Deals are in this stage; move them before making it open or closed.")]})
    _stage_apply(stage, data)
    stage.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=stage, changes=diff(before, snapshot(stage, STAGE_FIELDS)))
    return stage


@transaction.atomic
def stage_delete(*, actor: User, stage_id: int) -> None:
    require(actor, "sales_setup", "delete", _("You may not change sales settings."))
    stage = Stage.objects.filter(pk=stage_id).first()
    if stage is None:
        raise NotFound(f"stage {stage_id}")
    if stage.opportunities.exists() or OpportunityStageChange.objects.filter(to_stage=stage).exists():
        raise Conflict(_("Deals are or were in this stage; it stays so that their history stays readable."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=stage, changes={"name": [stage.name, None]})
    stage.delete()


# ======================================================================================
# Opportunities
# ======================================================================================
def _set_team(opportunity: Opportunity, members: list[dict] | None, errors: dict) -> list[tuple[int, str]] | None:
    if members is None:
        return None
    cleaned = []
    known = set(User.objects.filter(pk__in=[member.get("user_id") for member in members], is_active=True)
                .values_list("id", flat=True))
    for index, member in enumerate(members):
        if member.get("user_id") not in known:
            errors.setdefault(f"team.{index}.user_id", []).append(_("Unknown user."))
        else:
            cleaned.append((member["user_id"], (member.get("team_role") or "")[:60]))
    return cleaned


def _set_products(opportunity: Opportunity, lines: list[dict] | None, errors: dict) -> list[dict] | None:
    if lines is None:
        return None
    known = {product.pk: product for product in Product.objects.filter(pk__in=[line.get("product_id")
                                                                            for line in lines])}
    for index, line in enumerate(lines):
        if line.get("product_id") not in known:
            errors.setdefault(f"products.{index}.product_id", []).append(_("Unknown product."))
        if Decimal(str(line.get("quantity") or 1)) <= 0:
            errors.setdefault(f"products.{index}.quantity", []).append(_("Enter a quantity above zero."))
    return lines


def _competitors(ids: list[int] | None, errors: dict) -> list[Competitor] | None:
    if ids is None:
        return None
    found = list(Competitor.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        errors.setdefault("competitor_ids", []).append(_("Unknown competitor."))
    return found


def _apply_close(opportunity: Opportunity, stage: Stage, data: dict, errors: dict) -> None:
    """Closing needs a reason; reopening forgets the previous outcome."""
    if stage.kind == StageKind.OPEN:
        opportunity.is_closed = opportunity.is_won = False
        opportunity.closed_at = None
        opportunity.close_reason = opportunity.close_note = ""
        opportunity.lost_to = None
        return
    reason = (data.get("close_reason") or "").strip()
    if reason not in CloseReason.values:
        errors.setdefault("close_reason", []).append(
            _("Say why the deal was won or lost before moving it to “%(stage)s”.") % {"stage": stage.name})
        return
    opportunity.close_reason = reason
    opportunity.close_note = (data.get("close_note") or "").strip()[:500]
    opportunity.is_closed, opportunity.is_won = True, stage.kind == StageKind.WON
    opportunity.closed_at = timezone.now()
    lost_to_id = data.get("lost_to_id")
    if lost_to_id:
        if stage.kind != StageKind.LOST:
            errors.setdefault("lost_to_id", []).append(_("Only a lost deal is lost to a competitor."))
        else:
            competitor = Competitor.objects.filter(pk=lost_to_id).first()
            if competitor is None:
                errors.setdefault("lost_to_id", []).append(_("Unknown competitor."))
            opportunity.lost_to = competitor
    else:
        opportunity.lost_to = None


def _enter_stage(opportunity: Opportunity, stage: Stage, data: dict, errors: dict) -> None:
    opportunity.stage = stage
    opportunity.probability = data["probability"] if data.get("probability") is not None else stage.probability
    opportunity.forecast_category = data.get("forecast_category") or stage.forecast_category
    _apply_close(opportunity, stage, data, errors)


def _resolve_stage(pipeline: Pipeline | None, stage_id, errors: dict) -> Stage | None:
    if pipeline is None:
        return None
    if stage_id:
        stage = Stage.objects.filter(pk=stage_id).first()
        if stage is None or stage.pipeline_id != pipeline.pk:
            errors.setdefault("stage_id", []).append(_("Choose a stage of the deal's pipeline."))
            return None
        return stage
    stage = pipeline.stages.filter(kind=StageKind.OPEN).order_by("position", "id").first()
    if stage is None:
        errors.setdefault("pipeline_id", []).append(_("This pipeline has no open stage."))
    return stage


def _opportunity_apply(opportunity: Opportunity, data: dict, actor: User | None, errors: dict) -> None:
    for field in OPPORTUNITY_FIELDS:
        if field in data and (data[field] is not None or field in ("campaign_id",)):
            value = data[field]
            setattr(opportunity, field, value.strip() if isinstance(value, str) else value)
    if "account_id" in data:
        opportunity.account = visible_account_or_error(actor, data["account_id"], errors)
    if "contact_id" in data:
        opportunity.contact = visible_contact_or_error(actor, data["contact_id"], errors)
    if opportunity.contact is not None and opportunity.account_id is None and opportunity.contact.account_id:
        opportunity.account_id = opportunity.contact.account_id
    if opportunity.amount is not None and opportunity.amount < 0:
        errors.setdefault("amount", []).append(_("The amount cannot be negative."))
    if data.get("probability") is not None and not 0 <= int(data["probability"]) <= 100:
        errors.setdefault("probability", []).append(_("Give a probability from 0 to 100."))
    try:
        opportunity.amount_base = to_base(opportunity.amount or Decimal("0"), opportunity.currency)
    except ValidationError as error:
        errors.setdefault("currency", []).extend(error.message_dict.get("currency", []))


def _save_relations(opportunity: Opportunity, team, products, competitors) -> None:
    if team is not None:
        OpportunityTeamMember.objects.filter(opportunity=opportunity).delete()
        OpportunityTeamMember.objects.bulk_create(
            [OpportunityTeamMember(opportunity=opportunity, user_id=user_id, team_role=role) for user_id, role in team])
    if products is not None:
        OpportunityProduct.objects.filter(opportunity=opportunity).delete()
        OpportunityProduct.objects.bulk_create([OpportunityProduct(
            opportunity=opportunity, product_id=line["product_id"], quantity=Decimal(str(line.get("quantity") or 1)),
            unit_price=Decimal(str(line.get("unit_price") or 0))) for line in products])
    if competitors is not None:
        opportunity.competitors.set(competitors)


@transaction.atomic
def opportunity_create(*, actor: User | None, data: dict, from_conversion: bool = False) -> Opportunity:
    """Open a deal in the pipeline given (or the default one), at the stage given (or the
    first open stage). ``from_conversion``: called by lead conversion, which has already
    checked the right to change the lead."""
    if actor is not None:
        require(actor, "opportunity", "create", _("You may not create opportunities."))
    errors: dict[str, list[str]] = {}
    opportunity = Opportunity()
    if data.get("pipeline_id"):
        pipeline = Pipeline.objects.filter(pk=data["pipeline_id"], is_active=True).first()
        if pipeline is None:
            errors["pipeline_id"] = [_("Unknown pipeline.")]
    else:
        pipeline = default_pipeline()
        if pipeline is None:
            errors["pipeline_id"] = [_("No pipeline is set up; an administrator creates one under Sales settings.")]
    opportunity.pipeline = pipeline
    if not data.get("close_date"):
        errors["close_date"] = [_("Give the expected close date.")]
    _opportunity_apply(opportunity, data, actor, errors)
    stage = _resolve_stage(pipeline, data.get("stage_id"), errors)
    if stage is not None:
        _enter_stage(opportunity, stage, data, errors)
    if data.get("lead_id"):
        if not Lead.objects.filter(pk=data["lead_id"]).exists():
            errors["lead_id"] = [_("Unknown lead.")]
        opportunity.lead_id = data["lead_id"]
    place(opportunity, actor=actor, object_name="opportunity", data=data, errors=errors)
    team = _set_team(opportunity, data.get("team"), errors)
    products = _set_products(opportunity, data.get("products"), errors)
    competitors = _competitors(data.get("competitor_ids"), errors)
    full_clean_into(opportunity, errors, exclude=["owner", "team", "territory", "account", "contact", "pipeline",
                                                  "stage", "lead", "lost_to", "renewal_of", "competitors",
                                                  "amount_base"])
    raise_if(errors)
    opportunity.stage_entered_at = timezone.now()
    opportunity.save()
    _save_relations(opportunity, team, products, competitors)
    OpportunityStageChange.objects.create(opportunity=opportunity, from_stage=None, to_stage=opportunity.stage,
                                          changed_by=actor, amount=opportunity.amount,
                                          probability=opportunity.probability)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=opportunity,
                 changes=diff({}, snapshot(opportunity, TRACKED)))
    send_on_commit(record_changed, Opportunity, instance=opportunity, action="create", actor=actor)
    return opportunity


def _record_move(opportunity: Opportunity, previous_stage: Stage, previous_entered_at, actor: User | None) -> None:
    now = timezone.now()
    OpportunityStageChange.objects.create(
        opportunity=opportunity, from_stage=previous_stage, to_stage=opportunity.stage, changed_at=now,
        changed_by=actor, seconds_in_from_stage=max(0, int((now - previous_entered_at).total_seconds())),
        amount=opportunity.amount, probability=opportunity.probability)
    opportunity.stage_entered_at = now


@transaction.atomic
def opportunity_update(*, actor: User, opportunity_id: int, data: dict, expected_version: int | None = None,
                       ip_address: str | None = None) -> Opportunity:
    """Change a deal. A new ``stage_id`` moves it (with the same rules as
    ``opportunity_move``); a probability sent alone overrides the stage's default."""
    opportunity = selectors.access_opportunity_by_id(actor, opportunity_id, "change")
    opportunity = Opportunity.objects.select_for_update(of=("self",)).select_related("stage").get(pk=opportunity.pk)
    check_version(opportunity, expected_version)
    before = snapshot(opportunity, TRACKED)
    errors: dict[str, list[str]] = {}
    _opportunity_apply(opportunity, data, actor, errors)
    previous_stage, previous_entered_at = opportunity.stage, opportunity.stage_entered_at
    moved = False
    if data.get("stage_id") and data["stage_id"] != opportunity.stage_id:
        stage = _resolve_stage(opportunity.pipeline, data["stage_id"], errors)
        if stage is not None:
            _enter_stage(opportunity, stage, data, errors)
            moved = True
    elif data.get("probability") is not None:
        opportunity.probability = data["probability"]
    if not moved and ("close_reason" in data or "lost_to_id" in data) and opportunity.is_closed:
        _apply_close(opportunity, opportunity.stage, {"close_reason": opportunity.close_reason,
                                                      "close_note": opportunity.close_note,
                                                      "lost_to_id": opportunity.lost_to_id, **data}, errors)
    place(opportunity, actor=actor, object_name="opportunity", data=data, errors=errors)
    team = _set_team(opportunity, data.get("team"), errors)
    products = _set_products(opportunity, data.get("products"), errors)
    competitors = _competitors(data.get("competitor_ids"), errors)
    full_clean_into(opportunity, errors, exclude=["owner", "team", "territory", "account", "contact", "pipeline",
                                                  "stage", "lead", "lost_to", "renewal_of", "competitors",
                                                  "amount_base"])
    raise_if(errors)
    if moved:
        _record_move(opportunity, previous_stage, previous_entered_at, actor)
    touch(opportunity)
    opportunity.save()
    _save_relations(opportunity, team, products, competitors)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=opportunity, ip_address=ip_address,
                 changes=diff(before, snapshot(opportunity, TRACKED)))
    send_on_commit(record_changed, Opportunity, instance=opportunity, action="update", actor=actor)
    return opportunity


@transaction.atomic
def opportunity_move(*, actor: User | None, opportunity_id: int, stage_id: int, close_reason: str = "",
                     close_note: str = "", lost_to_id: int | None = None, probability: int | None = None,
                     expected_version: int | None = None) -> Opportunity:
    """Move a deal to another stage of its pipeline (the kanban board's drag and drop).
    A closed stage needs a close reason; nothing changes when it is missing."""
    if actor is not None:
        opportunity = selectors.access_opportunity_by_id(actor, opportunity_id, "change")
        opportunity_id = opportunity.pk
    opportunity = Opportunity.objects.select_for_update(of=("self",)).select_related("stage").filter(pk=opportunity_id).first()
    if opportunity is None:
        raise NotFound(f"opportunity {opportunity_id}")
    check_version(opportunity, expected_version)
    if opportunity.stage_id == stage_id:
        return opportunity
    before = snapshot(opportunity, TRACKED)
    errors: dict[str, list[str]] = {}
    stage = _resolve_stage(opportunity.pipeline, stage_id, errors)
    previous_stage, previous_entered_at = opportunity.stage, opportunity.stage_entered_at
    if stage is not None:
        _enter_stage(opportunity, stage, {"close_reason": close_reason, "close_note": close_note,
                                          "lost_to_id": lost_to_id, "probability": probability}, errors)
    raise_if(errors)
    _record_move(opportunity, previous_stage, previous_entered_at, actor)
    touch(opportunity)
    opportunity.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=opportunity,
                 changes=diff(before, snapshot(opportunity, TRACKED)))
    send_on_commit(record_changed, Opportunity, instance=opportunity, action="update", actor=actor)
    return opportunity


def opportunity_mark_won(*, actor: User | None, opportunity: Opportunity, reason: str = CloseReason.QUOTE_ACCEPTED,
                         amount: Decimal | None = None, currency: str | None = None) -> Opportunity:
    """Close an open deal as won at the first won stage of its pipeline (when its quote
    becomes an order). A deal already closed is left as it is."""
    if opportunity.is_closed:
        return opportunity
    won = opportunity.pipeline.stages.filter(kind=StageKind.WON).order_by("position").first()
    if won is None:
        return opportunity
    locked = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    if amount is not None:
        locked.amount, locked.currency = amount, currency or locked.currency
        locked.amount_base = to_base(locked.amount, locked.currency)
        locked.save(update_fields=["amount", "currency", "amount_base"])
    return opportunity_move(actor=None, opportunity_id=locked.pk, stage_id=won.pk, close_reason=reason)


@transaction.atomic
def opportunity_delete(*, actor: User, opportunity_id: int, ip_address: str | None = None) -> None:
    opportunity = selectors.access_opportunity_by_id(actor, opportunity_id, "delete")
    if opportunity.quotes.exists() or opportunity.orders.exists():
        raise Conflict(_("This deal has quotes or orders; close it as lost instead of deleting it."))
    audit_record(actor=actor, action=AuditAction.DELETE, obj=opportunity, ip_address=ip_address,
                 changes={"name": [opportunity.name, None]})
    try:
        opportunity.delete()
    except IntegrityError as error:
        raise Conflict(_("Other records still point at this deal.")) from error
    send_on_commit(record_changed, Opportunity, instance=opportunity, action="delete", actor=actor)


def opportunities_refresh_base_amounts(*, currency: str) -> int:
    """Re-convert amounts of ``currency`` after its exchange rate changed (a job)."""
    from guanxi.sales.models import ExchangeRate

    rate = ExchangeRate.objects.filter(currency=currency).values_list("rate_to_base", flat=True).first()
    if rate is None:
        return 0
    from django.db.models import DecimalField, ExpressionWrapper, F
    from django.db.models.functions import Round

    return Opportunity.objects.filter(currency=currency).update(amount_base=ExpressionWrapper(
        Round(F("amount") * rate, 2), output_field=DecimalField(max_digits=16, decimal_places=2)))
