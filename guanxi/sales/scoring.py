"""Lead scoring: the administrator's rules applied to one lead.

Field rules compare a lead field with a value; behaviour rules count what the lead did
(``LeadBehaviour``) — optionally only in the last so many days. The score is the sum of
the points of every matching active rule. Services recompute it whenever the lead, its
behaviour or the rules change.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Q
from django.utils import timezone

from guanxi.sales.models import Lead, LeadBehaviour, LeadScoringRule, ScoringOperator, ScoringRuleKind


def _number(value) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def field_rule_matches(rule: LeadScoringRule, lead: Lead) -> bool:
    raw = getattr(lead, rule.field_name, None)
    text = "" if raw is None else str(raw).strip().lower()
    wanted = (rule.value or "").strip().lower()
    operator = rule.operator
    if operator == ScoringOperator.IS_SET:
        return bool(text)
    if operator == ScoringOperator.IS_EMPTY:
        return not text
    if operator == ScoringOperator.EQUALS:
        return text == wanted
    if operator == ScoringOperator.NOT_EQUALS:
        return text != wanted
    if operator == ScoringOperator.CONTAINS:
        return bool(wanted) and wanted in text
    if operator == ScoringOperator.STARTS_WITH:
        return bool(wanted) and text.startswith(wanted)
    left, right = _number(raw) if raw is not None else None, _number(rule.value)
    if left is None or right is None:
        return False
    if operator == ScoringOperator.AT_LEAST:
        return left >= right
    if operator == ScoringOperator.AT_MOST:
        return left <= right
    return False


def behaviour_counts(lead: Lead, rules: list[LeadScoringRule]) -> dict[int, int]:
    """Count, in one query, the behaviour each behaviour rule looks at."""
    now = timezone.now()
    aggregates = {}
    for rule in rules:
        condition = Q(kind=rule.behaviour_kind)
        if rule.within_days:
            condition &= Q(occurred_at__gte=now - datetime.timedelta(days=rule.within_days))
        aggregates[f"rule_{rule.pk}"] = Count("id", filter=condition)
    if not aggregates or lead.pk is None:
        return {rule.pk: 0 for rule in rules}
    counted = LeadBehaviour.objects.filter(lead_id=lead.pk).aggregate(**aggregates)
    return {rule.pk: counted[f"rule_{rule.pk}"] or 0 for rule in rules}


def score_lead(lead: Lead, rules: list[LeadScoringRule] | None = None) -> int:
    if rules is None:
        rules = list(LeadScoringRule.objects.filter(is_active=True))
    field_rules = [rule for rule in rules if rule.kind == ScoringRuleKind.FIELD]
    behaviour_rules = [rule for rule in rules if rule.kind == ScoringRuleKind.BEHAVIOUR]
    score = sum(rule.points for rule in field_rules if field_rule_matches(rule, lead))
    counts = behaviour_counts(lead, behaviour_rules)
    score += sum(rule.points for rule in behaviour_rules if counts[rule.pk] >= max(1, rule.min_count))
    return score
