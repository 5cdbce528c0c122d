"""Conventions every REST router follows: list pagination and error bodies.

Lists take ``limit``/``offset`` and answer with a link to the next page and a total only
when asked for. Counting a million rows costs more than reading one page of them, so a list reads
``limit + 1`` rows to learn whether a next page exists and runs ``COUNT(*)`` only when the
client sends ``?count=true``. Use it on a route that returns a queryset::

    @router.get("/contacts", response=list[ContactOut])
    @paginate(ApiListPagination)
    def contact_list(request, ...):
        return selectors.contact_list(request.auth, ...)

The busiest lists (contacts, accounts: SPEC §1 wants ≤ 50 ms a page at a million
contacts) use ``paginate_as(ContactOut)`` instead: the same parameters, answer and
OpenAPI document, but the page is written out by ``schema_data`` rather than validated
field by field on the way out, which cost half the request's time for 50 contacts.
"""


import functools
import json
import typing
from types import UnionType
from typing import Any

from django.conf import settings
from django.db.models import Manager, QuerySet
from django.http import HttpResponse
from ninja import Field, Schema
from ninja.pagination import PaginationBase, paginate
from ninja.responses import NinjaJSONEncoder
from pydantic import ConfigDict

from guanxi.core.views.paging import page_rows

MAX_LIMIT = 200


# ======================================================================================
# Error bodies (produced by the exception handlers in ``guanxi.api``)
# ======================================================================================
class ErrorOut(Schema):
    detail: str = Field(description="What went wrong, in the user's language.")


class FieldErrorsOut(Schema):
    detail: str = Field(description="Summary of the problem.")
    errors: dict[str, list[str]] = Field(
        description="Messages by field name. Nested fields are dotted (`phones.0`, `custom_data.region`); "
                    "`__all__` holds errors of the whole input.")


# ======================================================================================
# Input
# ======================================================================================
class InputSchema(Schema):
    """Base of every request body: an unknown field is an error, so a typo never vanishes."""

    model_config = ConfigDict(extra="forbid")


# ======================================================================================
# Input fields documented from the model
# ======================================================================================
def model_field(model, name: str, default: Any = None, **extra: Any) -> Any:
    """An optional input field whose title, description, length limit and allowed values
    come from the model field, so the OpenAPI document says what the form says."""
    field = model._meta.get_field(name)
    json_extra = {}
    if field.choices:
        json_extra["enum"] = ([""] if field.blank else []) + [value for value, _label in field.choices] + (
            [None] if default is None else [])
    max_length = getattr(field, "max_length", None) if field.get_internal_type() in {
        "CharField", "SlugField", "EmailField", "URLField"} else None
    return Field(default, title=str(field.verbose_name).capitalize(), description=str(field.help_text) or None,
                 max_length=max_length, json_schema_extra=json_extra or None, **extra)


READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: FieldErrorsOut, 429: ErrorOut}
WRITE_ERRORS = {**READ_ERRORS, 409: ErrorOut}


# ======================================================================================
# Pagination
# ======================================================================================
class ApiListPagination(PaginationBase):
    class Input(Schema):
        limit: int = Field(settings.NINJA_PAGINATION_PER_PAGE, ge=1, le=MAX_LIMIT,
                           description=f"Items per page, 1 to {MAX_LIMIT}.")
        offset: int = Field(0, ge=0, description="Items to skip from the start of the list.")
        count: bool = Field(False, description="Also return the total number of matching items "
                                               "(costs a count over the whole list).")

    class Output(Schema):
        items: list[Any] = Field(description="The items of this page.")
        next: str | None = Field(None, description="Path and query of the next page; null on the last page.")
        count: int | None = Field(None, description="Total matching items; only when `count=true` was sent.")

    def paginate_queryset(self, queryset: QuerySet, pagination: Input, request, **params: Any) -> dict:
        start, limit = pagination.offset, pagination.limit
        rows = page_rows(queryset, start, limit + 1, full_text=self.full_text(request))
        next_link = self._link(request, start + limit) if len(rows) > limit else None
        total = None
        if pagination.count:
            total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        return {"items": rows[:limit], "next": next_link, "count": total}

    def full_text(self, request) -> bool:
        """Whether the list is filtered by a full-text query (see ``page_rows``)."""
        return False

    @staticmethod
    def _link(request, offset: int) -> str:
        query = request.GET.copy()
        query["offset"] = str(offset)
        return f"{request.path}?{query.urlencode()}"


class FullTextListPagination(ApiListPagination):
    """For lists whose ``q`` is a full-text query (``search.filter_full_text``)."""

    def full_text(self, request) -> bool:
        return bool(request.GET.get("q", "").strip())


# ======================================================================================
# Lists written out without response validation
# ======================================================================================
def _identity(value: Any) -> Any:
    # What ninja's DjangoGetter makes of an attribute before pydantic sees it.
    if isinstance(value, Manager):
        return list(value.all())
    if isinstance(value, QuerySet):
        return list(value)
    return value


def _converter(annotation: Any):
    """How a value of an attribute becomes the value ``annotation`` dumps to."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, UnionType):
        options = [option for option in typing.get_args(annotation) if option is not type(None)]
        inner = _converter(options[0]) if len(options) == 1 else _identity
        return lambda value: None if value is None else inner(value)
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        inner = _converter(item)
        return lambda value: [inner(element) for element in _identity(value)]
    if isinstance(annotation, type) and issubclass(annotation, Schema):
        return lambda value: schema_data(annotation, value)
    return _identity


@functools.cache
def _plan(schema: type[Schema]) -> list[tuple]:
    steps = []
    for name, info in schema.model_fields.items():
        resolver = schema._ninja_resolvers.get(name)
        if resolver is not None and (not resolver._static or resolver._takes_context):
            raise TypeError(f"{schema.__name__}.{name}: only static resolvers without context can be written out")
        source = info.validation_alias if isinstance(info.validation_alias, str) else name
        steps.append((name, resolver._func if resolver is not None else None, source, _converter(info.annotation)))
    return steps


def schema_data(schema: type[Schema], record: Any) -> dict:
    """``schema.from_orm(record).model_dump()`` for the plain schemas of our lists — fields
    read from attributes (or the field's alias), static resolvers, nested schemas, lists
    and optionals — without validating each value again: the values come from the
    database in the types the schema declares. ``test_list_performance`` compares both."""
    data = {}
    for name, resolver, source, convert in _plan(schema):
        value = resolver(record) if resolver is not None else getattr(record, source)
        data[name] = convert(value)
    return data


def paginate_as(schema: type[Schema], load=None, pagination: type[ApiListPagination] = ApiListPagination):
    """``@paginate(pagination)`` for a route answering ``list[schema]``, writing the page
    out with ``schema_data`` (see the module docstring). ``load(records)``, when given,
    reads what the page's records show from other tables before they are written."""

    def decorate(view):
        paginated = paginate(pagination)(view)

        @functools.wraps(paginated)
        def written_out(request, **kwargs):
            result = paginated(request, **kwargs)
            if isinstance(result, HttpResponse):
                return result
            if load is not None:
                load(result["items"])
            result["items"] = [schema_data(schema, record) for record in result["items"]]
            return HttpResponse(json.dumps(result, cls=NinjaJSONEncoder),
                                content_type="application/json; charset=utf-8")

        return written_out

    return decorate
