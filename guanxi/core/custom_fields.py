"""Validation of admin-defined custom field values (stored in ``custom_data`` JSON)."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from guanxi.core.models import CustomField, CustomFieldType

TRUE_WORDS = {"1", "true", "yes", "y", "on", "是", "真"}
FALSE_WORDS = {"0", "false", "no", "n", "off", "否", "假"}


def coerce_value(field: CustomField, value):
    """Return ``value`` as stored for ``field`` (JSON-safe), or raise ValidationError."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if field.required:
            raise ValidationError(_("This field is required."))
        return None
    kind = field.field_type
    if kind == CustomFieldType.TEXT:
        text = str(value).strip()
        if len(text) > field.max_length:
            raise ValidationError(_("At most %(limit)d characters.") % {"limit": field.max_length})
        return text
    if kind == CustomFieldType.INTEGER:
        if isinstance(value, bool):
            raise ValidationError(_("Enter a whole number."))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError(_("Enter a whole number.")) from None
        if number != number.to_integral_value():
            raise ValidationError(_("Enter a whole number."))
        return int(number)
    if kind == CustomFieldType.DECIMAL:
        try:
            return str(Decimal(str(value).strip()))
        except InvalidOperation:
            raise ValidationError(_("Enter a number.")) from None
    if kind == CustomFieldType.DATE:
        if isinstance(value, datetime.date):
            return value.isoformat()
        try:
            return datetime.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValidationError(_("Enter a date as YYYY-MM-DD.")) from None
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValidationError(_("Enter yes or no."))
    if kind == CustomFieldType.CHOICE:
        text = str(value).strip()
        if text not in field.choices:
            raise ValidationError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(field.choices)})
        return text
    raise ValidationError(_("Unknown field type."))


def validate_custom_data(target: str, submitted: dict, existing: dict | None = None,
                         *, fields: list[CustomField] | None = None) -> dict:
    """Merge ``submitted`` into ``existing`` after validation.

    Errors are keyed ``custom_data.<key>`` so forms and the API can point at the field.
    Unknown keys are errors too: a typo must not silently vanish.
    """
    if fields is None:
        fields = list(CustomField.objects.filter(target=target, is_active=True))
    by_key = {field.key: field for field in fields}
    result = dict(existing or {})
    errors: dict[str, list[str]] = {}
    for key, value in (submitted or {}).items():
        field = by_key.get(key)
        if field is None:
            errors[f"custom_data.{key}"] = [_("Unknown custom field “%(key)s”.") % {"key": key}]
            continue
        try:
            coerced = coerce_value(field, value)
        except ValidationError as error:
            errors[f"custom_data.{key}"] = list(error.messages)
            continue
        if coerced is None:
            result.pop(key, None)
        else:
            result[key] = coerced
    for field in fields:
        if field.required and result.get(field.key) in (None, "") and f"custom_data.{field.key}" not in errors:
            errors[f"custom_data.{field.key}"] = [_("This field is required.")]
    if errors:
        raise ValidationError(errors)
    return result
