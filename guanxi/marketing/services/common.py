"""Pieces every marketing service shares: rights, optimistic locking, field errors."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from guanxi.core.access import scope_for
from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.models import User, Visibility


def require_create(actor: User, object_name: str, message: str) -> None:
    if scope_for(actor, object_name, "create") == Visibility.NONE:
        raise PermissionDenied(message)


def snapshot(instance, fields) -> dict[str, Any]:
    return {field: getattr(instance, field) for field in fields}


def check_version(instance, expected_version: int | None) -> None:
    if expected_version is not None and instance.version != expected_version:
        raise Conflict(_("This record was changed by someone else (version %(current)d, you edited %(yours)d). "
                         "Reload and try again.") % {"current": instance.version, "yours": expected_version})


def full_clean_errors(instance, exclude: list[str], errors: dict[str, list[str]]) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)


def raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)
