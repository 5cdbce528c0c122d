"""``{% may "audit_log" "view" as may_view_audit %}``: the access matrix in templates, to
show only the links a user can follow. The pages themselves check again, through selectors."""

from __future__ import annotations

from django import template

from guanxi.core.access import can

register = template.Library()


@register.simple_tag(takes_context=True)
def may(context, object_name: str, action: str) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and can(user, object_name, action))
