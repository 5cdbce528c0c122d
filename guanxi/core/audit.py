"""Writing to the append-only audit log."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import models

from guanxi.core.models import AuditLog


def _json_safe(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def diff(before: dict, after: dict) -> dict:
    """``{field: [old, new]}`` for fields whose value changed."""
    return {key: [_json_safe(before.get(key)), _json_safe(after.get(key))]
            for key in after if before.get(key) != after.get(key)}


def audit_record(*, actor, action: str, obj=None, object_type: str = "", object_id: str = "",
                 changes: dict | None = None, ip_address: str | None = None) -> AuditLog:
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=str(obj)[:200] if obj is not None else "",
        changes={key: _json_safe(value) if not isinstance(value, list) else [_json_safe(v) for v in value]
                 for key, value in (changes or {}).items()},
        ip_address=ip_address,
    )
