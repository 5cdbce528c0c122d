"""Every read of core records, with the access check inside.

Views, the API, search, exports and reports all come through here, so record-level
visibility (own / team / territory / all, from the access matrix) is enforced once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from guanxi.core import search
from guanxi.core.access import scope_for
from guanxi.core.errors import NotFound, PermissionDenied
from guanxi.core.models import (
    Account, AccountTeamMember, ApiToken, AuditLog, Contact, ContactPhone, CustomField, Territory, User, Visibility,
)
from guanxi.core.normalize import PhoneError, normalize_phone
from guanxi.core.row_keyed_cache import kept_while_rows_unchanged
from guanxi.core.row_reader import RowReader
from guanxi.core.search import filter_full_text, newest_matches, phone_from_query


# ======================================================================================
# Scopes
# ======================================================================================
def territory_ids_under(territory_id: int | None) -> list[int]:
    """The territory and all of its descendants."""
    if territory_id is None:
        return []
    parents = dict(Territory.objects.values_list("id", "parent_id"))
    found = {territory_id}
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in found and child not in found:
                found.add(child)
                changed = True
    return sorted(found)


def scope_q(actor: User, scope: str, *, owner: str = "owner", team: str = "team",
            territory: str = "territory", extra_own: Q | None = None) -> Q | None:
    """A filter for ``scope``; ``None`` means no restriction. Field names are lookups."""
    if scope == Visibility.ALL:
        return None
    if scope == Visibility.NONE:
        return Q(pk__in=[])
    own = Q(**{f"{owner}_id": actor.pk}) if owner else Q(pk__in=[])
    if extra_own is not None:
        own |= extra_own
    if scope == Visibility.OWN:
        return own
    if scope == Visibility.TEAM:
        team_ids = {actor.team_id} | set(actor.managed_teams.values_list("id", flat=True))
        team_ids.discard(None)
        return own | Q(**{f"{team}_id__in": sorted(team_ids)}) if team_ids else own
    if scope == Visibility.TERRITORY:
        ids = territory_ids_under(actor.territory_id)
        return own | Q(**{f"{territory}_id__in": ids}) if ids else own
    raise ValueError(f"unknown scope {scope!r}")


def restrict(queryset: QuerySet, actor: User, object_name: str, action: str = "view", **fields) -> QuerySet:
    """Apply the actor's scope for ``object_name``/``action`` to ``queryset``."""
    condition = scope_q(actor, scope_for(actor, object_name, action), **fields)
    return queryset if condition is None else queryset.filter(condition)


def _require(actor: User, object_name: str, action: str) -> str:
    scope = scope_for(actor, object_name, action)
    if scope == Visibility.NONE:
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not {action} {object_name}")
    return scope


# ======================================================================================
# Accounts
# ======================================================================================
def visible_accounts(actor: User, action: str = "view") -> QuerySet[Account]:
    # "Own" accounts include the key accounts whose account team the actor is on.
    scope = _require(actor, "account", action)
    on_account_team = Q(pk__in=AccountTeamMember.objects.filter(user_id=actor.pk).values("account_id"))
    condition = scope_q(actor, scope, extra_own=on_account_team)
    return Account.objects.all() if condition is None else Account.objects.filter(condition)


def access_account_by_id(actor: User, account_id: int, action: str = "view") -> Account:
    try:
        return visible_accounts(actor, action).select_related("owner", "territory", "team").get(pk=account_id)
    except (Account.DoesNotExist, ValueError, TypeError):
        if action != "view" and visible_accounts(actor, "view").filter(pk=account_id).exists():
            raise PermissionDenied(f"may not {action} account {account_id}") from None
        raise NotFound(f"account {account_id}") from None


# ======================================================================================
# Contacts
# ======================================================================================
def visible_contacts(actor: User, action: str = "view") -> QuerySet[Contact]:
    _require(actor, "contact", action)
    return restrict(Contact.objects.all(), actor, "contact", action)


def access_contact_by_id(actor: User, contact_id: int, action: str = "view") -> Contact:
    try:
        return (visible_contacts(actor, action).select_related("account", "owner", "territory", "team")
                .get(pk=contact_id))
    except (Contact.DoesNotExist, ValueError, TypeError):
        if action != "view" and visible_contacts(actor, "view").filter(pk=contact_id).exists():
            raise PermissionDenied(f"may not {action} contact {contact_id}") from None
        raise NotFound(f"contact {contact_id}") from None


CONTACT_SORTS = {
    "name": ("full_name", "id"), "-name": ("-full_name", "-id"),
    "created": ("created_at", "id"), "-created": ("-created_at", "-id"),
    "updated": ("updated_at", "id"), "-updated": ("-updated_at", "-id"),
    "stage": ("lifecycle_stage", "full_name", "id"), "-stage": ("-lifecycle_stage", "-full_name", "-id"),
}
ACCOUNT_SORTS = {
    "name": ("name", "id"), "-name": ("-name", "-id"),
    "created": ("created_at", "id"), "-created": ("-created_at", "-id"),
    "updated": ("updated_at", "id"), "-updated": ("-updated_at", "-id"),
}


@dataclass(frozen=True)
class ContactFilters:
    query: str = ""
    lifecycle_stage: str = ""
    value_tier: str = ""
    owner_id: int | None = None
    territory_id: int | None = None
    account_id: int | None = None
    tag: str = ""
    custom: tuple[tuple[str, str], ...] = ()  # (key, value) pairs on custom fields


def apply_custom_filters(queryset: QuerySet, target: str, custom: tuple[tuple[str, str], ...]) -> QuerySet:
    """Filter on admin-defined custom fields by key; unknown keys and bad values are refused,
    not ignored, with errors keyed ``cf_<key>`` (the name of the filter parameter)."""
    if not custom:
        return queryset
    from guanxi.core.custom_fields import coerce_value  # local: avoids an import cycle

    fields = {field.key: field for field in custom_fields_for(target)}
    errors: dict[str, list[str]] = {}
    for key, value in custom:
        field = fields.get(key)
        if field is None:
            errors[f"cf_{key}"] = [_("Unknown custom field “%(key)s”.") % {"key": key}]
            continue
        try:
            queryset = queryset.filter(**{f"custom_data__{key}": coerce_value(field, value)})
        except ValidationError as error:
            errors[f"cf_{key}"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    return queryset


def contact_list(actor: User, filters: ContactFilters | None = None, sort: str = "name",
                 action: str = "view") -> QuerySet[Contact]:
    """Contacts the actor may see (or ``action``, e.g. export), filtered and sorted; callers paginate."""
    filters = filters or ContactFilters()
    queryset = visible_contacts(actor, action).select_related("account", "owner")
    if filters.query:
        queryset = search_contacts_queryset(queryset, filters.query, _few_matches(actor, "contact", action, sort))
    if filters.lifecycle_stage:
        queryset = queryset.filter(lifecycle_stage=filters.lifecycle_stage)
    if filters.value_tier:
        queryset = queryset.filter(value_tier=filters.value_tier)
    if filters.owner_id:
        queryset = queryset.filter(owner_id=filters.owner_id)
    if filters.territory_id:
        queryset = queryset.filter(territory_id=filters.territory_id)
    if filters.account_id:
        queryset = queryset.filter(account_id=filters.account_id)
    if filters.tag:
        queryset = queryset.filter(tags__name=filters.tag)
    queryset = apply_custom_filters(queryset, "contact", filters.custom)
    return queryset.order_by(*CONTACT_SORTS.get(sort, CONTACT_SORTS["name"]))


@dataclass(frozen=True)
class AccountFilters:
    query: str = ""
    lifecycle_stage: str = ""
    value_tier: str = ""
    industry: str = ""
    owner_id: int | None = None
    territory_id: int | None = None
    is_key_account: bool | None = None
    tag: str = ""
    custom: tuple[tuple[str, str], ...] = ()


def account_list(actor: User, filters: AccountFilters | None = None, sort: str = "name",
                 action: str = "view") -> QuerySet[Account]:
    filters = filters or AccountFilters()
    queryset = visible_accounts(actor, action).select_related("owner", "territory")
    if filters.query:
        phone = phone_from_query(filters.query)
        queryset = (queryset.filter(phone=phone) if phone
                    else filter_full_text(queryset, filters.query, _few_matches(actor, "account", action, sort)))
    for field in ("lifecycle_stage", "value_tier", "industry", "owner_id", "territory_id"):
        value = getattr(filters, field)
        if value:
            queryset = queryset.filter(**{field: value})
    if filters.is_key_account is not None:
        queryset = queryset.filter(is_key_account=filters.is_key_account)
    if filters.tag:
        queryset = queryset.filter(tags__name=filters.tag)
    queryset = apply_custom_filters(queryset, "account", filters.custom)
    return queryset.order_by(*ACCOUNT_SORTS.get(sort, ACCOUNT_SORTS["name"]))


# ======================================================================================
# Search and caller lookup
# ======================================================================================
def search_contacts_queryset(queryset: QuerySet[Contact], query: str,
                             few_matches: int | None = None) -> QuerySet[Contact]:
    phone = phone_from_query(query)
    if phone:
        return queryset.filter(pk__in=ContactPhone.objects.filter(number=phone).values("contact_id"))
    return filter_full_text(queryset, query, few_matches)


# Every other sort (name; stage, then name; an unknown one falls back to name) keeps the
# rows of one name together.
_TIME_SORTS = {"created", "-created", "updated", "-updated"}


def _few_matches(actor: User, object_name: str, action: str, sort: str) -> int | None:
    """How many matches of a full-text filter are read and sorted rather than found by
    walking the list's order: more for a list of all records sorted by name, where the
    matches of a name lie together far down the order (``search.FEW_MATCHES_IN_NAME_ORDER``).
    A narrower scope walks only its own records, which stays cheaper."""
    if sort not in _TIME_SORTS and scope_for(actor, object_name, action) == Visibility.ALL:
        return search.FEW_MATCHES_IN_NAME_ORDER
    return None


@dataclass
class SearchResults:
    query: str
    contacts: list[Contact]
    accounts: list[Account]


# The search box looks at no more than this many matches of one query among all records.
SEARCH_CANDIDATES = 2000


def _search_text(queryset: QuerySet, actor: User, object_name: str, query: str) -> QuerySet:
    """Rows of ``queryset`` matching ``query`` for the search box.

    A user who sees every record and types a common word (王 matches one contact in
    fifteen) would otherwise make the database sort tens of thousands of rows to show 20:
    for them the candidates are the ``SEARCH_CANDIDATES`` newest matches, which are all
    the matches whenever there are no more than that, and the page says that only the
    first matches are shown. Users who see part of the records get exact results from
    ``filter_full_text``, which walks their own records in order.
    """
    if scope_for(actor, object_name, "view") == Visibility.ALL:
        return newest_matches(queryset, query, SEARCH_CANDIDATES)
    return filter_full_text(queryset, query)


def global_search(actor: User, query: str, limit: int = 20) -> SearchResults:
    """Name, company, email and phone (any format) across what the actor may see, by name."""
    query = (query or "").strip()
    if not query:
        return SearchResults(query, [], [])
    phone = phone_from_query(query)
    if phone:
        contacts = list(search_contacts_queryset(visible_contacts(actor).select_related("account", "owner"), query)
                        .order_by("full_name", "id")[:limit])
    else:
        # The keys of the page first, then its rows with their account and owner: sorting
        # the candidates (up to SEARCH_CANDIDATES) by name with every column and both
        # joins read for each cost twice as much as sorting their names alone.
        keys = list(_search_text(visible_contacts(actor), actor, "contact", query)
                    .order_by("full_name", "id").values_list("pk", flat=True)[:limit])
        contacts = list(Contact.objects.filter(pk__in=keys).select_related("account", "owner")
                        .order_by("full_name", "id")) if keys else []
    accounts_queryset = visible_accounts(actor)
    accounts_queryset = (accounts_queryset.filter(phone=phone) if phone
                         else _search_text(accounts_queryset, actor, "account", query))
    accounts = list(accounts_queryset.order_by("name", "id")[:limit])
    return SearchResults(query, contacts, accounts)


def caller_lookup(actor: User, raw_phone: str) -> tuple[str, list[Contact]]:
    """The number in E.164 and the contacts reachable at it that ``actor`` may see.

    Unlike ``contacts_by_phone`` (the telephony layer's unscoped lookup) this answers a
    person, so the record-level scope applies as everywhere else.
    """
    _require(actor, "contact", "view")
    try:
        phone = normalize_phone(raw_phone)
    except PhoneError as error:
        raise ValidationError({"number": [str(error)]}) from None
    matches = ContactPhone.objects.filter(number=phone).values("contact_id")
    return phone, list(visible_contacts(actor).filter(pk__in=matches).select_related("account", "owner")
                       .order_by("full_name", "id"))


def contacts_by_phone(raw_phone: str) -> list[Contact]:
    """Caller lookup for CTI: every contact reachable at this number, no user scope.

    Used by the telephony layer before an agent is chosen; the screen pop then shows
    only what the receiving agent may see.
    """
    phone = phone_from_query(raw_phone)
    if phone is None:
        return []
    # Plain SQL on the phone index, rows turned into models by a reader prepared once per
    # model: compiling the ORM query (or a raw query's converters) for a contact and its
    # account costs several times more than running it, and the lookup has ≤ 5 ms at the
    # 99th percentile (SPEC §5, benchmarks/phone_lookup.py).
    read_contacts = RowReader.of(Contact)
    contacts = read_contacts(
        f"WHERE id IN (SELECT contact_id FROM {connection.ops.quote_name(ContactPhone._meta.db_table)} "
        f"WHERE number = %s) ORDER BY full_name, id", [phone])
    account_ids = sorted({contact.account_id for contact in contacts if contact.account_id})
    if account_ids:
        accounts = {account.pk: account for account in RowReader.of(Account)(
            f"WHERE id IN ({', '.join(['%s'] * len(account_ids))})", account_ids)}
        for contact in contacts:
            if contact.account_id in accounts:
                contact.account = accounts[contact.account_id]
    return contacts


def load_related_lists(records: list, relations: dict[str, tuple[str, tuple[str, ...] | None]]) -> None:
    """For a page of ``records`` (one model), set each ``to_attr`` to the list of the
    record's rows of the reverse foreign key or many-to-many ``relation``, reading
    ``columns`` (``None``: all): ``{relation: (to_attr, columns)}``.

    One plain query per relation with the page's keys. Django's ``prefetch_related``
    does the same in the same number of queries, but compiling each query and its
    bookkeeping per record cost 1.5–2 ms a relation for 50 records, about a third of an API
    list page (SPEC §1: p95 ≤ 50 ms)."""
    if not records:
        return
    model = type(records[0])
    keys = [record.pk for record in records]
    quote = connection.ops.quote_name
    for relation, (to_attr, columns) in relations.items():
        field = model._meta.get_field(relation)
        rows: dict[int, list] = {key: [] for key in keys}
        if field.many_to_many:
            through = field.remote_field.through._meta
            source = f"{quote(through.db_table)}.{quote(through.get_field(field.m2m_field_name()).column)}"
            target = field.related_model._meta
            join = (f"INNER JOIN {quote(through.db_table)} ON {quote(target.db_table)}.{quote(target.pk.column)} = "
                    f"{quote(through.db_table)}.{quote(through.get_field(field.m2m_reverse_field_name()).column)}")
            reader = RowReader.of(field.related_model, columns, lead=source, join=join)
            for key, row in reader.where_in(source, keys):
                rows[key].append(row)
        else:  # the reverse side of a foreign key
            foreign_key = field.field
            related = field.related_model._meta
            reader = RowReader.of(field.related_model, columns)
            for row in reader.where_in(f"{quote(related.db_table)}.{quote(foreign_key.column)}", keys):
                rows[getattr(row, foreign_key.attname)].append(row)
        for record in records:
            setattr(record, to_attr, rows[record.pk])


def load_related_records(records: list, relation: str, columns: tuple[str, ...] | None = None) -> None:
    """Set the foreign key ``relation`` of each of ``records`` to its record, as
    ``select_related`` would, in one query reading ``columns`` of the related records."""
    field = type(records[0])._meta.get_field(relation) if records else None
    if field is None:
        return
    keys = sorted({getattr(record, field.attname) for record in records} - {None})
    related = field.related_model._meta
    quote = connection.ops.quote_name
    reader = RowReader.of(field.related_model, columns)
    found = {row.pk: row for row in reader.where_in(f"{quote(related.db_table)}.{quote(related.pk.column)}", keys)}
    for record in records:
        key = getattr(record, field.attname)
        field.set_cached_value(record, found.get(key) if key is not None else None)


# ======================================================================================
# Other core reads
# ======================================================================================
def audit_log_list(actor: User, *, object_type: str = "", object_id: str = "", action: str = "") -> QuerySet[AuditLog]:
    _require(actor, "audit_log", "view")
    queryset = AuditLog.objects.select_related("actor")
    if object_type:
        queryset = queryset.filter(object_type=object_type)
    if object_id:
        queryset = queryset.filter(object_id=str(object_id))
    if action:
        queryset = queryset.filter(action=action)
    return queryset


def custom_field_list(actor: User, target: str = "") -> QuerySet[CustomField]:
    """Custom field definitions, active and inactive, for those who may manage them."""
    _require(actor, "custom_field", "view")
    queryset = CustomField.objects.all()
    if target:
        queryset = queryset.filter(target=target)
    return queryset.order_by("target", "position", "key")


def custom_fields_for(target: str, *, active_only: bool = True) -> list[CustomField]:
    """The definitions of ``target``'s custom fields in form order. Every list page and
    form reads them, so they are kept while unchanged (``row_keyed_cache``); the
    instances are shared, to be read only."""
    return list(_custom_field_definitions(target, active_only))


def _custom_fields_query(target: str, active_only: bool) -> QuerySet[CustomField]:
    queryset = CustomField.objects.filter(target=target)
    if active_only:
        queryset = queryset.filter(is_active=True)
    return queryset.order_by("position", "key")


@kept_while_rows_unchanged(lambda target, active_only: _custom_fields_query(target, active_only).values_list(
    *(field.attname for field in CustomField._meta.concrete_fields)))
def _custom_field_definitions(rows, target: str, active_only: bool) -> tuple[CustomField, ...]:
    return tuple(_custom_fields_query(target, active_only))


def visible_users(actor: User) -> QuerySet[User]:
    _require(actor, "user", "view")
    return User.objects.filter(is_active=True).select_related("team", "territory")


USER_NAME_COLUMNS = ("username", "display_name", "first_name", "last_name")  # what str(user) reads


def user_choices(actor: User) -> list[tuple[int, str]]:
    """``(id, name)`` of the active users by username, as an owner filter or picker
    offers them; kept while unchanged (``row_keyed_cache``), since every list page shows
    them."""
    _require(actor, "user", "view")
    return list(_active_user_names())


@kept_while_rows_unchanged(lambda: User.objects.filter(is_active=True).order_by("username").values_list(
    "id", *USER_NAME_COLUMNS))
def _active_user_names(rows) -> tuple[tuple[int, str], ...]:
    return tuple((row[0], str(User(id=row[0], **dict(zip(USER_NAME_COLUMNS, row[1:]))))) for row in rows)


def territory_choices() -> list[tuple[int, str]]:
    """``(id, name)`` of every territory by name; organisation data every signed-in user may read."""
    return list(_territory_names())


@kept_while_rows_unchanged(lambda: Territory.objects.order_by("name").values_list("id", "name"))
def _territory_names(rows) -> tuple[tuple[int, str], ...]:
    return tuple(rows)


def access_user_by_id(actor: User, user_id: int) -> User:
    try:
        return visible_users(actor).get(pk=user_id)
    except (User.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"user {user_id}") from None


def api_tokens_of(actor: User) -> QuerySet[ApiToken]:
    """The actor's own API tokens (only digests are stored, never the tokens)."""
    return ApiToken.objects.filter(user_id=actor.pk).order_by("-created_at", "-id")
