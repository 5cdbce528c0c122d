"""The segment rule language and its compiler: nested AND/OR/NOT groups of conditions,
compiled into ONE Django ``Q`` over contacts — one SQL query however deep the rules.

A rule is JSON. A group::

    {"type": "group", "match": "all" | "any" | "none", "rules": [ ...rules... ]}

"none" is NOT: the group matches when none of its rules do. A condition names its
``type``; each type is a *predicate* from the registry below:

=================== ===================================================================
``field``           ``{"field": "value_tier", "operator": "in", "value": ["gold"]}`` — any
                    contact field, ``account.<field>`` or ``address.<field>`` (any address
                    of the contact or of its account); see ``FIELDS`` for operators.
``custom_field``    ``{"target": "contact", "key": "membership_no", "operator": "is_set"}``
``tag``             ``{"operator": "has_any" | "has_all" | "has_none", "value": ["VIP"]}``
``interaction``     ``{"channel": "email", "direction": "in", "within_days": 365,
                    "min_count": 1, "max_count": null}`` — behaviour on the timeline
``campaign_response`` ``{"campaign_id": 3, "kind": "clicked", "within_days": 90}``
``event_registration`` ``{"event_id": 2, "status": ["attended"]}``
``purchase``        ``{"products": ["5G-BIZ-100"], "within_days": 365}`` (when sales is installed)
=================== ===================================================================

Other domains contribute predicates with ``register_predicate`` from their
``AppConfig.ready`` (e.g. service: "had a complaint in the last 90 days"). A predicate
compiles its condition to a ``Q`` on ``Contact`` — correlated ``Exists``/``Subquery`` for
anything multi-valued, so that NOT means "no such row" and nothing is evaluated in Python.

Errors are collected, never raised one at a time: ``compile_rules`` raises one
``ValidationError`` whose keys are the dotted position of the bad rule (``rules.0.2``),
e.g. a condition on a custom field an administrator has since removed names that field.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    BooleanField, Count, DateField, DateTimeField, DecimalField, Exists, FloatField, ForeignKey, IntegerField,
    JSONField, OuterRef, PositiveIntegerField, PositiveSmallIntegerField, Q, Subquery, TextField, Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Contains, Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.models import Account, Address, Channel, Contact, CustomField, CustomFieldType

MAX_DEPTH = 8
MAX_CONDITIONS = 200
GROUP_MATCHES = ("all", "any", "none")


class RuleError(Exception):
    """A problem with one rule; the compiler files it under the rule's position."""


# ======================================================================================
# Registry of predicates
# ======================================================================================
@dataclass
class CompileContext:
    """What compiling one rule tree may look up once and share."""

    now: datetime.datetime = field(default_factory=timezone.now)
    _custom_fields: dict[str, dict[str, CustomField]] = field(default_factory=dict)

    def custom_fields(self, target: str) -> dict[str, CustomField]:
        if target not in self._custom_fields:
            self._custom_fields[target] = {definition.key: definition for definition in
                                           CustomField.objects.filter(target=target, is_active=True)}
        return self._custom_fields[target]


@dataclass(frozen=True)
class Predicate:
    type: str
    label: Any                                   # lazy translated name for the editor
    compile: Callable[[dict, CompileContext], Q]  # raises RuleError
    parameters: tuple[dict, ...] = ()            # editor inputs: {name, label, input, choices?}
    order: int = 100


PREDICATES: dict[str, Predicate] = {}


def register_predicate(predicate: Predicate) -> None:
    """Add a kind of condition; a domain calls this from its ``AppConfig.ready``."""
    PREDICATES[predicate.type] = predicate


# ======================================================================================
# Compiling
# ======================================================================================
def compile_rules(rules: dict | None, context: CompileContext | None = None) -> Q:
    """The rules as one ``Q`` on ``Contact``; empty rules match every contact.

    Raises ``ValidationError`` naming every bad rule by its position.
    """
    context = context or CompileContext()
    if not rules:
        return Q()
    errors: dict[str, list[str]] = {}
    counter = [0]
    compiled = _compile_node(rules, "rules", 0, context, errors, counter)
    if counter[0] > MAX_CONDITIONS:
        errors.setdefault("rules", []).append(
            _("A segment may have at most %(limit)d conditions.") % {"limit": MAX_CONDITIONS})
    if errors:
        raise ValidationError(errors)
    return compiled


def _compile_node(node: Any, path: str, depth: int, context: CompileContext, errors: dict, counter: list) -> Q:
    if not isinstance(node, dict):
        errors.setdefault(path, []).append(_("Each rule must be an object with a “type”."))
        return Q()
    kind = node.get("type", "group" if "rules" in node else None)
    if kind == "group":
        if depth >= MAX_DEPTH:
            errors.setdefault(path, []).append(_("Groups nest at most %(limit)d deep.") % {"limit": MAX_DEPTH})
            return Q()
        match = node.get("match", "all")
        if match not in GROUP_MATCHES:
            errors.setdefault(path, []).append(_("A group matches “all”, “any” or “none” of its rules."))
            return Q()
        children = node.get("rules")
        if not isinstance(children, list):
            errors.setdefault(path, []).append(_("A group needs a list of rules."))
            return Q()
        if not children:
            # An empty group matches everyone ("all" of nothing); "any"/"none" of nothing would be
            # surprising, so they are refused rather than guessed.
            if match != "all":
                errors.setdefault(path, []).append(_("This group has no rules; add one or remove the group."))
            return Q()
        compiled = [_compile_node(child, f"{path}.{index}", depth + 1, context, errors, counter)
                    for index, child in enumerate(children)]
        combined = compiled[0]
        for part in compiled[1:]:
            combined = combined | part if match in ("any", "none") else combined & part
        return ~combined if match == "none" else combined
    counter[0] += 1
    predicate = PREDICATES.get(kind)
    if predicate is None:
        errors.setdefault(path, []).append(_("Unknown kind of condition “%(type)s”.") % {"type": kind})
        return Q()
    try:
        return predicate.compile(node, context)
    except RuleError as error:
        errors.setdefault(path, []).append(str(error))
        return Q()


def matching_contacts(rules: dict | None, queryset=None, context: CompileContext | None = None):
    """``queryset`` (default: all contacts) narrowed to those matching ``rules``."""
    queryset = Contact.objects.all() if queryset is None else queryset
    return queryset.filter(compile_rules(rules, context))


def condition_count(rules: Any) -> int:
    if not isinstance(rules, dict):
        return 0
    if rules.get("type", "group" if "rules" in rules else None) == "group":
        return sum(condition_count(child) for child in rules.get("rules") or [])
    return 1


# ======================================================================================
# Values
# ======================================================================================
def _number(value: Any, label: str) -> Decimal:
    if isinstance(value, bool):
        raise RuleError(_("%(field)s: enter a number.") % {"field": label})
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise RuleError(_("%(field)s: enter a number.") % {"field": label}) from None
    if not number.is_finite():
        raise RuleError(_("%(field)s: enter a number.") % {"field": label})
    return number


def _date(value: Any, label: str) -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise RuleError(_("%(field)s: enter a date as YYYY-MM-DD.") % {"field": label}) from None


def _whole(value: Any, label: str, minimum: int = 0) -> int:
    number = _number(value, label)
    if number != number.to_integral_value() or number < minimum:
        raise RuleError(_("%(field)s: enter a whole number of at least %(minimum)d.")
                        % {"field": label, "minimum": minimum})
    return int(number)


def _list(value: Any, label: str) -> list:
    values = value if isinstance(value, list) else [value] if value not in (None, "") else []
    if not values:
        raise RuleError(_("%(field)s: choose at least one value.") % {"field": label})
    return values


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _since(rule: dict, context: CompileContext, label: str) -> datetime.datetime | None:
    days = rule.get("within_days")
    if days in (None, ""):
        return None
    return context.now - datetime.timedelta(days=_whole(days, label, minimum=1))


# ======================================================================================
# Field conditions
# ======================================================================================
TEXT, CHOICE, NUMBER, DATE, DATETIME, BOOLEAN, REFERENCE, LIST = (
    "text", "choice", "number", "date", "datetime", "boolean", "reference", "list")
OPERATORS: dict[str, tuple[str, ...]] = {
    TEXT: ("eq", "ne", "contains", "not_contains", "starts_with", "in", "not_in", "is_set", "is_empty"),
    CHOICE: ("eq", "ne", "in", "not_in", "is_set", "is_empty"),
    NUMBER: ("eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set", "is_empty"),
    DATE: ("on", "before", "after", "between", "within_last_days", "more_than_days_ago", "is_set", "is_empty"),
    DATETIME: ("on", "before", "after", "between", "within_last_days", "more_than_days_ago", "is_set",
               "is_empty"),
    BOOLEAN: ("is_true", "is_false"),
    REFERENCE: ("in", "not_in", "is_set", "is_empty"),
    LIST: ("contains", "not_contains", "is_empty", "is_set"),
}
OPERATOR_LABELS = {
    "eq": gettext_lazy("is"), "ne": gettext_lazy("is not"), "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"), "starts_with": gettext_lazy("starts with"),
    "in": gettext_lazy("is one of"), "not_in": gettext_lazy("is none of"), "is_set": gettext_lazy("is filled in"),
    "is_empty": gettext_lazy("is empty"), "gt": gettext_lazy("is more than"), "gte": gettext_lazy("is at least"),
    "lt": gettext_lazy("is less than"), "lte": gettext_lazy("is at most"), "between": gettext_lazy("is between"),
    "on": gettext_lazy("is on"), "before": gettext_lazy("is before"), "after": gettext_lazy("is after"),
    "within_last_days": gettext_lazy("is within the last … days"),
    "more_than_days_ago": gettext_lazy("is more than … days ago"),
    "is_true": gettext_lazy("is yes"), "is_false": gettext_lazy("is no"),
    "has_any": gettext_lazy("has any of"), "has_all": gettext_lazy("has all of"),
    "has_none": gettext_lazy("has none of"),
}
NO_VALUE = {"is_set", "is_empty", "is_true", "is_false"}


@dataclass(frozen=True)
class FieldSpec:
    key: str        # what rules name: "value_tier", "account.industry", "address.province"
    lookup: str     # lookup from Contact (or from Address for address.*)
    kind: str
    label: Any
    choices: tuple[tuple[str, Any], ...] = ()
    model: type = Contact


def _model_kind(model_field) -> str:
    if model_field.choices:
        return CHOICE
    if isinstance(model_field, BooleanField):
        return BOOLEAN
    if isinstance(model_field, DateTimeField):
        return DATETIME
    if isinstance(model_field, DateField):
        return DATE
    if isinstance(model_field, (IntegerField, PositiveIntegerField, PositiveSmallIntegerField, DecimalField,
                                FloatField)):
        return NUMBER
    if isinstance(model_field, ForeignKey):
        return REFERENCE
    if isinstance(model_field, JSONField):
        return LIST
    return TEXT


CONTACT_FIELD_NAMES = (
    "full_name", "family_name", "given_name", "alternate_name", "job_title", "email", "phone", "external_id",
    "birth_date", "gender", "income_band", "occupation", "education", "marital_status", "household_size",
    "interests", "preferred_channel", "preferred_language", "consent_email", "consent_sms", "consent_phone",
    "consent_mail", "do_not_contact", "lifecycle_stage", "value_tier", "relationship_stage", "industry",
    "churn_risk", "lifetime_value", "owner", "territory", "account", "created_at", "updated_at",
)
ACCOUNT_FIELD_NAMES = (
    "name", "kind", "industry", "lifecycle_stage", "value_tier", "relationship_stage", "is_key_account",
    "annual_revenue", "employees", "currency", "owner", "territory", "created_at",
)
ADDRESS_FIELD_NAMES = ("country", "province", "city", "district", "postcode")


def _build_fields() -> dict[str, FieldSpec]:
    fields: dict[str, FieldSpec] = {}
    for name in CONTACT_FIELD_NAMES:
        model_field = Contact._meta.get_field(name)
        fields[name] = FieldSpec(name, name, _model_kind(model_field), model_field.verbose_name,
                                 tuple(model_field.choices or ()))
    for name in ACCOUNT_FIELD_NAMES:
        model_field = Account._meta.get_field(name)
        fields[f"account.{name}"] = FieldSpec(
            f"account.{name}", f"account__{name}", _model_kind(model_field), model_field.verbose_name,
            tuple(model_field.choices or ()))
    for name in ADDRESS_FIELD_NAMES:
        model_field = Address._meta.get_field(name)
        fields[f"address.{name}"] = FieldSpec(f"address.{name}", name, _model_kind(model_field),
                                              model_field.verbose_name, (), Address)
    return fields


FIELDS = _build_fields()


def _field_label(spec: FieldSpec) -> str:
    prefix = {"account": _("Account"), "address": _("Address")}.get(spec.key.split(".")[0]) if "." in spec.key \
        else ""
    return f"{prefix}: {spec.label}" if prefix else capfirst(str(spec.label))


def _coerce(kind: str, value: Any, label: str, choices=()):
    if kind == NUMBER:
        return _number(value, label)
    if kind in (DATE, DATETIME):
        return _date(value, label)
    if kind == REFERENCE:
        return _whole(value, label, minimum=1)
    if kind == CHOICE:
        allowed = {str(choice) for choice, _label in choices}
        if str(value) not in allowed:
            raise RuleError(_("%(field)s: “%(value)s” is not one of the choices.") % {"field": label, "value": value})
        return str(value)
    if kind == BOOLEAN:
        return bool(value)
    text = str(value if value is not None else "").strip()
    if not text:
        raise RuleError(_("%(field)s: enter a value.") % {"field": label})
    return text


def value_condition(lookup: str, kind: str, operator: str, value: Any, label: str, context: CompileContext,
                    choices=()) -> Q:
    """A condition on one column (``lookup``) of a known ``kind``; shared by fields and custom fields."""
    if operator not in OPERATORS[kind]:
        raise RuleError(_("%(field)s: the operator “%(operator)s” does not apply here.")
                        % {"field": label, "operator": operator})
    if operator in ("is_set", "is_empty"):
        empty = Q(**{f"{lookup}__isnull": True})
        if kind in (TEXT, CHOICE):
            empty |= Q(**{lookup: ""})
        if kind == LIST:
            empty = Q(**{f"{lookup}__isnull": True}) | Q(**{lookup: []})
        return empty if operator == "is_empty" else ~empty
    if operator == "is_true":
        return Q(**{lookup: True})
    if operator == "is_false":
        return Q(**{lookup: False})
    if operator in ("in", "not_in"):
        values = [_coerce(kind, item, label, choices) for item in _list(value, label)]
        condition = Q(**{f"{lookup}__in": values})
        return ~condition if operator == "not_in" else condition
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise RuleError(_("%(field)s: “between” needs two values, from and to.") % {"field": label})
        low, high = (_coerce(kind, item, label, choices) for item in value)
        if low > high:
            raise RuleError(_("%(field)s: the first value must not be after the second.") % {"field": label})
        if kind == DATETIME:
            return Q(**{f"{lookup}__gte": _day_start(low), f"{lookup}__lt": _day_start(high + datetime.timedelta(1))})
        return Q(**{f"{lookup}__gte": low, f"{lookup}__lte": high})
    if operator in ("within_last_days", "more_than_days_ago"):
        days = _whole(value, label, minimum=0)
        cutoff = context.now - datetime.timedelta(days=days)
        cutoff_value = cutoff if kind == DATETIME else timezone.localtime(cutoff).date()
        return Q(**{f"{lookup}__gte": cutoff_value}) if operator == "within_last_days" else \
            Q(**{f"{lookup}__lt": cutoff_value})
    if kind == LIST:
        text = _coerce(TEXT, value, label)
        if connection.vendor == "postgresql":
            condition = Q(**{f"{lookup}__contains": [text]})
        else:
            # SQLite keeps the JSON text as Django wrote it (non-ASCII escaped): match the quoted,
            # encoded element, so "tea" does not match "steam" and 茶 matches 茶.
            condition = Q(Contains(Cast(lookup, output_field=TextField()), json.dumps(text)))
        return ~condition if operator == "not_contains" else condition
    coerced = _coerce(kind, value, label, choices)
    if kind in (DATE, DATETIME) and operator in ("on", "before", "after"):
        if kind == DATETIME:
            start, end = _day_start(coerced), _day_start(coerced + datetime.timedelta(days=1))
            return {"on": Q(**{f"{lookup}__gte": start, f"{lookup}__lt": end}),
                    "before": Q(**{f"{lookup}__lt": start}), "after": Q(**{f"{lookup}__gte": end})}[operator]
        return {"on": Q(**{lookup: coerced}), "before": Q(**{f"{lookup}__lt": coerced}),
                "after": Q(**{f"{lookup}__gt": coerced})}[operator]
    simple = {"eq": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte", "contains": "__icontains",
              "not_contains": "__icontains", "starts_with": "__istartswith", "ne": ""}
    condition = Q(**{f"{lookup}{simple[operator]}": coerced})
    return ~condition if operator in ("ne", "not_contains") else condition


def _compile_field(rule: dict, context: CompileContext) -> Q:
    key = rule.get("field")
    spec = FIELDS.get(key)
    if spec is None:
        raise RuleError(_("Unknown field “%(field)s”.") % {"field": key})
    label = _field_label(spec)
    condition = value_condition(spec.lookup, spec.kind, rule.get("operator", ""), rule.get("value"), label, context,
                                spec.choices)
    if spec.model is Address:
        # Any address of the contact, or of the contact's account, satisfies the condition.
        on_contact = Address.objects.filter(condition, contact_id=OuterRef("pk"))
        on_account = Address.objects.filter(condition, account_id=OuterRef("account_id"))
        return Q(Exists(on_contact)) | Q(Exists(on_account))
    return condition


# ======================================================================================
# Custom fields, tags
# ======================================================================================
CUSTOM_KINDS = {CustomFieldType.TEXT: TEXT, CustomFieldType.CHOICE: CHOICE, CustomFieldType.INTEGER: NUMBER,
                CustomFieldType.DECIMAL: NUMBER, CustomFieldType.DATE: DATE, CustomFieldType.BOOLEAN: BOOLEAN}


def _compile_custom_field(rule: dict, context: CompileContext) -> Q:
    target = rule.get("target", "contact")
    if target not in ("contact", "account"):
        raise RuleError(_("A custom field belongs to a contact or an account."))
    key = str(rule.get("key") or "")
    definition = context.custom_fields(target).get(key)
    if definition is None:
        raise RuleError(_("The custom field “%(key)s” no longer exists (it was removed or deactivated); change or "
                          "remove this condition.") % {"key": key})
    kind = CUSTOM_KINDS[definition.field_type]
    label = definition.label
    operator = rule.get("operator", "")
    column = "custom_data" if target == "contact" else "account__custom_data"
    json_lookup = f"{column}__{key}"
    choices = tuple((choice, choice) for choice in definition.choices)
    if operator in ("is_set", "is_empty"):
        # Values are never stored empty: a missing key is an empty field.
        empty = Q(**{f"{json_lookup}__isnull": True})
        return empty if operator == "is_empty" else ~empty
    if kind == NUMBER and operator in ("eq", "ne", "gt", "gte", "lt", "lte", "between"):
        # Decimals are stored as text ("12.50") and whole numbers as JSON numbers: compare the
        # text of either cast to a number, the same on SQLite and PostgreSQL.
        number = Cast(KeyTextTransform(key, column), DecimalField(max_digits=30, decimal_places=10))
        return _numeric_expression_condition(number, operator, rule.get("value"), label)
    if kind in (TEXT, CHOICE) and operator in ("contains", "not_contains", "starts_with"):
        condition = Q(**{f"{json_lookup}__{'istartswith' if operator == 'starts_with' else 'icontains'}":
                         _coerce(TEXT, rule.get("value"), label)})
        return ~condition if operator == "not_contains" else condition
    value = rule.get("value")
    if kind == DATE and operator not in NO_VALUE:
        # ISO dates compare correctly as text.
        return value_condition(json_lookup, DATE, operator, value, label, context) if operator not in (
            "within_last_days", "more_than_days_ago") else _custom_date_age(json_lookup, operator, value, label,
                                                                             context)
    if kind == NUMBER and operator in ("in", "not_in"):
        values = [int(_number(item, label)) for item in _list(value, label)]
        condition = Q(**{f"{json_lookup}__in": values})
        return ~condition if operator == "not_in" else condition
    return value_condition(json_lookup, kind, operator, value, label, context, choices)


def _custom_date_age(json_lookup: str, operator: str, value: Any, label: str, context: CompileContext) -> Q:
    days = _whole(value, label, minimum=0)
    cutoff = (timezone.localtime(context.now) - datetime.timedelta(days=days)).date().isoformat()
    return Q(**{f"{json_lookup}__gte": cutoff}) if operator == "within_last_days" else \
        Q(**{f"{json_lookup}__lt": cutoff})


def _numeric_expression_condition(expression, operator: str, value: Any, label: str) -> Q:
    def number(item):
        return Value(_number(item, label), output_field=DecimalField(max_digits=30, decimal_places=10))

    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise RuleError(_("%(field)s: “between” needs two values, from and to.") % {"field": label})
        return Q(GreaterThanOrEqual(expression, number(value[0]))) & Q(LessThanOrEqual(expression, number(value[1])))
    if operator in ("eq", "ne"):
        condition = Q(Exact(expression, number(value)))
        return ~condition if operator == "ne" else condition
    lookups = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}
    if operator not in lookups:
        raise RuleError(_("%(field)s: the operator “%(operator)s” does not apply here.")
                        % {"field": label, "operator": operator})
    return Q(lookups[operator](expression, number(value)))


def _compile_tag(rule: dict, context: CompileContext) -> Q:
    label = _("Tags")
    names = [str(name).strip() for name in _list(rule.get("value"), label) if str(name).strip()]
    if not names:
        raise RuleError(_("%(field)s: choose at least one value.") % {"field": label})
    through = Contact.tags.through
    operator = rule.get("operator", "has_any")
    if operator == "has_all":
        condition = Q()
        for name in names:
            condition &= Q(Exists(through.objects.filter(contact_id=OuterRef("pk"), tag__name=name)))
        return condition
    any_tag = Q(Exists(through.objects.filter(contact_id=OuterRef("pk"), tag__name__in=names)))
    if operator == "has_any":
        return any_tag
    if operator == "has_none":
        return ~any_tag
    raise RuleError(_("%(field)s: the operator “%(operator)s” does not apply here.")
                    % {"field": label, "operator": operator})


# ======================================================================================
# Behaviour
# ======================================================================================
def counted_condition(rows, rule: dict, label: str, *, contact_column: str = "contact_id") -> Q:
    """Contacts with at least ``min_count`` and at most ``max_count`` of ``rows``; without
    either, "at least one"; with only a maximum, the minimum is zero."""
    maximum = rule.get("max_count")
    maximum = None if maximum in (None, "") else _whole(maximum, label, minimum=0)
    minimum = rule.get("min_count")
    minimum = (1 if maximum is None else 0) if minimum in (None, "") else _whole(minimum, label, minimum=0)
    if maximum is not None and maximum < minimum:
        raise RuleError(_("%(field)s: the maximum must not be below the minimum.") % {"field": label})
    correlated = rows.filter(**{contact_column: OuterRef("pk")})
    if minimum <= 1 and maximum is None:
        exists = Q(Exists(correlated))
        return exists if minimum == 1 else Q()
    if maximum == 0:
        return ~Q(Exists(correlated))
    count = Coalesce(Subquery(correlated.order_by().values(contact_column).annotate(total=Count("pk"))
                              .values("total")[:1]), Value(0))
    condition = Q(GreaterThanOrEqual(count, Value(minimum)))
    if maximum is not None:
        condition &= Q(LessThanOrEqual(count, Value(maximum)))
    return condition


def _compile_interaction(rule: dict, context: CompileContext) -> Q:
    from guanxi.interactions.models import Direction, Interaction

    label = _("Interactions")
    rows = Interaction.objects.all()
    channel = rule.get("channel")
    if channel:
        channels = channel if isinstance(channel, list) else [channel]
        unknown = [item for item in channels if item not in Channel.values]
        if unknown:
            raise RuleError(_("%(field)s: unknown channel “%(value)s”.") % {"field": label, "value": unknown[0]})
        rows = rows.filter(channel__in=channels)
    direction = rule.get("direction")
    if direction:
        if direction not in Direction.values:
            raise RuleError(_("%(field)s: the direction is “in” or “out”.") % {"field": label})
        rows = rows.filter(direction=direction)
    since = _since(rule, context, label)
    if since is not None:
        rows = rows.filter(occurred_at__gte=since)
    if rule.get("from"):
        rows = rows.filter(occurred_at__gte=_day_start(_date(rule["from"], label)))
    if rule.get("to"):
        rows = rows.filter(occurred_at__lt=_day_start(_date(rule["to"], label) + datetime.timedelta(days=1)))
    if rule.get("reason"):
        rows = rows.filter(reason__icontains=str(rule["reason"]))
    return counted_condition(rows, rule, label)


def _compile_case_history(rule: dict, context: CompileContext) -> Q:
    """Service cases the contact opened: every case opens one episode of kind "case" on the
    interaction log (the service domain does it), so case history is read from there, and
    marketing needs nothing of the service domain itself."""
    from guanxi.interactions.models import Episode

    label = _("Service cases")
    rows = Episode.objects.filter(kind="case")
    since = _since(rule, context, label)
    if since is not None:
        rows = rows.filter(started_at__gte=since)
    return counted_condition(rows, rule, label)


def _compile_campaign_response(rule: dict, context: CompileContext) -> Q:
    from guanxi.marketing.models import CampaignResponse, ResponseKind

    label = _("Campaign responses")
    rows = CampaignResponse.objects.all()
    if rule.get("campaign_id") not in (None, ""):
        rows = rows.filter(campaign_id=_whole(rule["campaign_id"], label, minimum=1))
    kinds = rule.get("kind")
    if kinds:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(kind not in ResponseKind.values for kind in kinds):
            raise RuleError(_("%(field)s: unknown kind of response.") % {"field": label})
        rows = rows.filter(kind__in=kinds)
    since = _since(rule, context, label)
    if since is not None:
        rows = rows.filter(occurred_at__gte=since)
    return counted_condition(rows, rule, label)


def _compile_event_registration(rule: dict, context: CompileContext) -> Q:
    from guanxi.marketing.models import EventRegistration, RegistrationStatus

    label = _("Event registrations")
    rows = EventRegistration.objects.all()
    if rule.get("event_id") not in (None, ""):
        rows = rows.filter(event_id=_whole(rule["event_id"], label, minimum=1))
    statuses = rule.get("status")
    if statuses:
        statuses = statuses if isinstance(statuses, list) else [statuses]
        if any(status not in RegistrationStatus.values for status in statuses):
            raise RuleError(_("%(field)s: unknown registration status.") % {"field": label})
        rows = rows.filter(status__in=statuses)
    return counted_condition(rows, rule, label)


def _compile_purchase(rule: dict, context: CompileContext) -> Q:
    """Bought (any of) the products — by the contact, or by the contact's account — within the
    period. Cancelled orders do not count."""
    from guanxi.sales.models import OrderLine, OrderStatus

    label = _("Purchases")
    rows = OrderLine.objects.exclude(order__status=OrderStatus.CANCELLED)
    products = rule.get("products")
    if products:
        products = products if isinstance(products, list) else [products]
        rows = rows.filter(product__sku__in=[str(product) for product in products])
    family = rule.get("family")
    if family:
        rows = rows.filter(product__family=str(family))
    since = _since(rule, context, label)
    if since is not None:
        rows = rows.filter(order__ordered_at__gte=since)
    if rule.get("min_amount") not in (None, ""):
        rows = rows.filter(line_total__gte=_number(rule["min_amount"], label))
    by_contact = counted_condition(rows, rule, label, contact_column="order__contact_id")
    by_account = Q(Exists(rows.filter(order__account_id=OuterRef("account_id"), order__contact__isnull=True)))
    if rule.get("min_count") not in (None, "", 1, "1") or rule.get("max_count") not in (None, ""):
        return by_contact
    return by_contact | by_account


# ======================================================================================
# Built-in predicates
# ======================================================================================
def _channel_choices():
    return [(value, str(label)) for value, label in Channel.choices]


register_predicate(Predicate("field", gettext_lazy("Field"), _compile_field, order=10))
register_predicate(Predicate("custom_field", gettext_lazy("Custom field"), _compile_custom_field, order=20))
register_predicate(Predicate("tag", gettext_lazy("Tags"), _compile_tag, order=30))
register_predicate(Predicate("interaction", gettext_lazy("Interactions"), _compile_interaction, parameters=(
    {"name": "channel", "label": gettext_lazy("Channel"), "input": "choice", "choices": _channel_choices},
    {"name": "direction", "label": gettext_lazy("Direction"), "input": "choice",
     "choices": lambda: [("in", str(gettext_lazy("Inbound"))), ("out", str(gettext_lazy("Outbound")))]},
    {"name": "within_days", "label": gettext_lazy("In the last … days"), "input": "number"},
    {"name": "min_count", "label": gettext_lazy("At least … times"), "input": "number"},
    {"name": "max_count", "label": gettext_lazy("At most … times"), "input": "number"},
), order=40))
register_predicate(Predicate("case_history", gettext_lazy("Service cases"), _compile_case_history, parameters=(
    {"name": "within_days", "label": gettext_lazy("In the last … days"), "input": "number"},
    {"name": "min_count", "label": gettext_lazy("At least … times"), "input": "number"},
    {"name": "max_count", "label": gettext_lazy("At most … times"), "input": "number"},
), order=45))
register_predicate(Predicate("campaign_response", gettext_lazy("Campaign response"), _compile_campaign_response,
                             parameters=(
    {"name": "campaign_id", "label": gettext_lazy("Campaign"), "input": "campaign"},
    {"name": "kind", "label": gettext_lazy("Response"), "input": "choice", "choices": "response_kinds"},
    {"name": "within_days", "label": gettext_lazy("In the last … days"), "input": "number"},
), order=50))
register_predicate(Predicate("event_registration", gettext_lazy("Event registration"), _compile_event_registration,
                             parameters=(
    {"name": "event_id", "label": gettext_lazy("Event"), "input": "event"},
    {"name": "status", "label": gettext_lazy("Status"), "input": "choice", "choices": "registration_statuses"},
), order=60))


def register_sales_predicates() -> None:
    """Conditions over the sales domain's data; called when sales is installed."""
    register_predicate(Predicate("purchase", gettext_lazy("Purchases"), _compile_purchase, parameters=(
        {"name": "products", "label": gettext_lazy("Product SKUs (comma-separated)"), "input": "list"},
        {"name": "family", "label": gettext_lazy("Product family"), "input": "text"},
        {"name": "within_days", "label": gettext_lazy("In the last … days"), "input": "number"},
        {"name": "min_count", "label": gettext_lazy("At least … times"), "input": "number"},
    ), order=70))


# ======================================================================================
# What the editor needs to know
# ======================================================================================
def editor_schema() -> dict:
    """Fields, operators and predicates, with labels in the current language, for the editor."""
    from guanxi.marketing.models import RegistrationStatus, ResponseKind

    named_choices = {"response_kinds": [(value, str(label)) for value, label in ResponseKind.choices],
                     "registration_statuses": [(value, str(label)) for value, label in RegistrationStatus.choices]}

    def resolve(choices):
        if callable(choices):
            return [list(item) for item in choices()]
        if isinstance(choices, str):
            return [list(item) for item in named_choices[choices]]
        return [list(item) for item in choices or ()]

    custom = {target: [{"key": definition.key, "label": definition.label, "kind": CUSTOM_KINDS[definition.field_type],
                        "choices": [[choice, choice] for choice in definition.choices]}
                       for definition in CustomField.objects.filter(target=target, is_active=True)
                       .order_by("position", "key")] for target in ("contact", "account")}
    return {
        "fields": [{"key": spec.key, "label": _field_label(spec), "kind": spec.kind,
                    "choices": [[value, str(label)] for value, label in spec.choices]} for spec in FIELDS.values()],
        "operators": {kind: [[operator, str(OPERATOR_LABELS[operator])] for operator in operators]
                      for kind, operators in OPERATORS.items()},
        "tag_operators": [[operator, str(OPERATOR_LABELS[operator])] for operator in ("has_any", "has_all",
                                                                                         "has_none")],
        "no_value": sorted(NO_VALUE),
        "match_options": [[match, str(label)] for match, label in MATCH_LABELS.items()],
        "custom_fields": custom,
        "predicates": [{"type": predicate.type, "label": str(predicate.label),
                        "parameters": [{**{key: value for key, value in parameter.items() if key != "choices"},
                                        "label": str(parameter["label"]),
                                        "choices": resolve(parameter.get("choices"))}
                                       for parameter in predicate.parameters]}
                       for predicate in sorted(PREDICATES.values(), key=lambda item: (item.order, item.type))],
    }


# ======================================================================================
# Reading rules back to people
# ======================================================================================
MATCH_LABELS = {"all": gettext_lazy("All of these"), "any": gettext_lazy("Any of these"),
                "none": gettext_lazy("None of these")}


def _value_text(value: Any, choices=()) -> str:
    labels = {str(choice): str(label) for choice, label in choices}
    values = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(str(item), str(item)) for item in values if item not in (None, ""))


def describe_rules(node: Any) -> dict:
    """The rules as a tree of sentences for the segment page: ``{"match", "children"}`` for
    a group, ``{"text"}`` for a condition."""
    if not isinstance(node, dict):
        return {"text": str(node)}
    kind = node.get("type", "group" if "rules" in node else None)
    if kind == "group":
        return {"match": str(MATCH_LABELS.get(node.get("match", "all"), node.get("match"))),
                "children": [describe_rules(child) for child in node.get("rules") or []]}
    operator = str(OPERATOR_LABELS.get(node.get("operator", ""), node.get("operator", "")))
    if kind == "field":
        spec = FIELDS.get(node.get("field"))
        if spec is None:
            return {"text": str(node.get("field"))}
        value = "" if node.get("operator") in NO_VALUE else _value_text(node.get("value"), spec.choices)
        return {"text": " ".join(part for part in (_field_label(spec), operator, value) if part)}
    if kind == "custom_field":
        definition = CustomField.objects.filter(target=node.get("target", "contact"), key=node.get("key")).first()
        name = definition.label if definition else node.get("key")
        value = "" if node.get("operator") in NO_VALUE else _value_text(node.get("value"))
        return {"text": " ".join(part for part in (str(name), operator, value) if part)}
    if kind == "tag":
        return {"text": f"{_('Tags')} {operator} {_value_text(node.get('value'))}"}
    predicate = PREDICATES.get(kind)
    if predicate is None:
        return {"text": str(kind)}
    details = [f"{parameter['label']}: {_value_text(node[parameter['name']])}" for parameter in predicate.parameters
               if node.get(parameter["name"]) not in (None, "", [])]
    return {"text": f"{predicate.label} ({'; '.join(details)})" if details else str(predicate.label)}
