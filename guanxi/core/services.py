"""Every write to core records: ``<entity>_<verb>(*, actor, ...)``, atomic, audited.

Each service checks the actor's right through the same selectors the pages use,
validates every field (collecting all errors, keyed by field name), writes in one
transaction, records the audit entry and announces the change after commit.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import selectors
from guanxi.core.access import scope_for
from guanxi.core.audit import audit_record, diff
from guanxi.core.custom_fields import validate_custom_data
from guanxi.core.errors import Conflict, NotFound, PermissionDenied
from guanxi.core.events import record_changed, send_on_commit
from guanxi.core.models import (
    Account, AccountTeamMember, Address, ApiToken, AuditAction, ConsentRecord, Contact, ContactEmail,
    ContactPhone, CustomField, Role, Tag, Team, Territory, User, Visibility,
)
from guanxi.core.normalize import PhoneError, display_name, normalize_email, normalize_phone, search_text
from guanxi.core.row_reader import RowReader

CONTACT_FIELDS = (
    "external_id", "family_name", "given_name", "full_name", "alternate_name", "job_title", "birth_date",
    "gender", "income_band", "occupation", "education", "marital_status", "household_size", "interests",
    "preferred_channel", "preferred_language", "consent_email", "consent_sms", "consent_phone", "consent_mail",
    "do_not_contact", "lifecycle_stage", "value_tier", "relationship_stage", "industry",
)
ACCOUNT_FIELDS = (
    "external_id", "name", "kind", "website", "annual_revenue", "currency", "employees", "is_key_account",
    "description", "lifecycle_stage", "value_tier", "relationship_stage", "industry",
)
CONSENT_FIELDS = {"consent_email": "email", "consent_sms": "sms", "consent_phone": "phone", "consent_mail": "letter"}


# ======================================================================================
# Shared pieces
# ======================================================================================
def _snapshot(instance, fields) -> dict[str, Any]:
    return {field: getattr(instance, field) for field in fields}


def _merge_errors(errors: dict[str, list[str]], error: ValidationError) -> None:
    for field, messages in error.message_dict.items():
        errors.setdefault(field, []).extend(messages)


def _assign_people(instance, data: dict, actor: User, object_name: str, errors: dict) -> None:
    """Owner, team and territory: default to the actor; moving a record needs the "all" scope
    or a target inside the actor's own scope."""
    if "owner_id" in data and data["owner_id"] != instance.owner_id:
        owner = User.objects.filter(pk=data["owner_id"], is_active=True).first() if data["owner_id"] else None
        if data["owner_id"] and owner is None:
            errors.setdefault("owner_id", []).append(_("Unknown user."))
        else:
            instance.owner = owner
            instance.team_id = owner.team_id if owner else None
            if owner and owner.territory_id and "territory_id" not in data:
                instance.territory_id = owner.territory_id
    elif instance.pk is None and instance.owner_id is None:
        instance.owner = actor
        instance.team_id = actor.team_id
    if "territory_id" in data:
        if data["territory_id"] and not Territory.objects.filter(pk=data["territory_id"]).exists():
            errors.setdefault("territory_id", []).append(_("Unknown territory."))
        else:
            instance.territory_id = data["territory_id"] or None
    elif instance.pk is None and instance.territory_id is None:
        instance.territory_id = instance.owner.territory_id if instance.owner else None


def _set_tags(instance, names: list[str] | None) -> None:
    if names is None:
        return
    tags = []
    for name in {str(name).strip() for name in names if str(name).strip()}:
        tag, _created = Tag.objects.get_or_create(name=name[:60])
        tags.append(tag)
    instance.tags.set(tags)


def _check_version(instance, expected_version: int | None) -> None:
    if expected_version is not None and instance.version != expected_version:
        raise Conflict(_("This record was changed by someone else (version %(current)d, you edited %(yours)d). "
                         "Reload and try again.") % {"current": instance.version, "yours": expected_version})


# ======================================================================================
# Contacts
# ======================================================================================
def _contact_apply(contact: Contact, data: dict, actor: User) -> tuple[dict, list[tuple[str, str]], list[str]]:
    """Copy validated input onto ``contact``; returns (errors, phones, emails)."""
    errors: dict[str, list[str]] = {}
    for field in CONTACT_FIELDS:
        if field in data:
            value = data[field]
            if isinstance(value, str):
                value = value.strip()
            if field == "external_id" and value == "":
                value = None
            setattr(contact, field, value)
    if "full_name" not in data and ({"family_name", "given_name"} & data.keys()):
        contact.full_name = display_name(contact.family_name, contact.given_name)
    if not contact.full_name:
        contact.full_name = display_name(contact.family_name, contact.given_name)
    if not contact.full_name:
        errors["full_name"] = [_("Enter a name (family name, given name or full name).")]

    if "account_id" in data:
        if data["account_id"]:
            if not selectors.visible_accounts(actor).filter(pk=data["account_id"]).exists():
                errors["account_id"] = [_("Unknown account.")]
            else:
                contact.account_id = data["account_id"]
        else:
            contact.account_id = None

    phones: list[tuple[str, str]] = []
    raw_phones = []
    if data.get("phone"):
        raw_phones.append(("phone", data["phone"], "mobile"))
    for index, item in enumerate(data.get("phones") or []):
        number = item.get("number") if isinstance(item, dict) else item
        kind = item.get("kind", "mobile") if isinstance(item, dict) else "mobile"
        raw_phones.append((f"phones.{index}", number, kind))
    for key, raw, kind in raw_phones:
        try:
            phones.append((normalize_phone(str(raw)), kind))
        except PhoneError as error:
            errors.setdefault(key, []).append(str(error))
    if "phone" in data and not data["phone"]:
        contact.phone = ""
    elif phones:
        contact.phone = phones[0][0]

    emails: list[str] = []
    raw_emails = []
    if data.get("email"):
        raw_emails.append(("email", data["email"]))
    for index, item in enumerate(data.get("emails") or []):
        raw_emails.append((f"emails.{index}", item.get("email") if isinstance(item, dict) else item))
    for key, raw in raw_emails:
        try:
            emails.append(normalize_email(str(raw)))
        except ValidationError as error:
            errors.setdefault(key, []).extend(error.messages)
    if "email" in data and not data["email"]:
        contact.email = ""
    elif emails:
        contact.email = emails[0]

    if "custom_data" in data:
        try:
            contact.custom_data = validate_custom_data("contact", data["custom_data"] or {}, contact.custom_data)
        except ValidationError as error:
            _merge_errors(errors, error)
    elif contact.pk is None:
        try:
            validate_custom_data("contact", {}, {})
        except ValidationError as error:
            _merge_errors(errors, error)

    _assign_people(contact, data, actor, "contact", errors)
    try:
        contact.full_clean(exclude=["search_text", "owner", "team", "territory", "account", "custom_data",
                                    "tags", "version"])
    except ValidationError as error:
        _merge_errors(errors, error)
    return errors, phones, emails


def contact_search_text(contact: Contact) -> str:
    return search_text(contact.full_name, contact.alternate_name, contact.email, contact.phone.lstrip("+"),
                       contact.account.name if contact.account_id and contact.account else "",
                       contact.external_id or "")


def _contact_save_children(contact: Contact, phones, emails, data: dict) -> None:
    for position, (number, kind) in enumerate(phones):
        ContactPhone.objects.update_or_create(contact=contact, number=number,
                                              defaults={"kind": kind, "is_primary": position == 0})
    if phones:
        ContactPhone.objects.filter(contact=contact).exclude(number=phones[0][0]).update(is_primary=False)
    if "phone" in data and not data["phone"] and not data.get("phones"):
        ContactPhone.objects.filter(contact=contact).delete()
    for position, email in enumerate(emails):
        ContactEmail.objects.update_or_create(contact=contact, email=email, defaults={"is_primary": position == 0})
    for item in data.get("addresses") or []:
        Address.objects.create(contact=contact, **{key: value for key, value in item.items()
                                                   if key in {"kind", "country", "province", "city", "district",
                                                              "street", "postcode", "is_primary"}})
    _set_tags(contact, data.get("tags"))


@transaction.atomic
def contact_create(*, actor: User, data: dict, ip_address: str | None = None) -> Contact:
    if scope_for(actor, "contact", "create") == Visibility.NONE:
        raise PermissionDenied(_("You may not create contacts."))
    contact = Contact()
    errors, phones, emails = _contact_apply(contact, data, actor)
    if errors:
        raise ValidationError(errors)
    contact.search_text = contact_search_text(contact)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as error:
        raise ValidationError({"external_id": [_("A contact with this external ID already exists.")]}) from error
    _contact_save_children(contact, phones, emails, data)
    for field, channel in CONSENT_FIELDS.items():
        if getattr(contact, field):
            ConsentRecord.objects.create(contact=contact, channel=channel, granted=True,
                                         source=data.get("consent_source", "create"), recorded_by=actor)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=contact, ip_address=ip_address,
                 changes=diff({}, _snapshot(contact, CONTACT_FIELDS + ("phone", "email", "owner_id", "account_id"))))
    send_on_commit(record_changed, Contact, instance=contact, action="create", actor=actor)
    return contact


@transaction.atomic
def contact_update(*, actor: User, contact_id: int, data: dict, expected_version: int | None = None,
                   ip_address: str | None = None) -> Contact:
    contact = selectors.access_contact_by_id(actor, contact_id, "change")
    contact = Contact.objects.select_for_update(of=("self",)).select_related("account").get(pk=contact.pk)
    _check_version(contact, expected_version)
    tracked = CONTACT_FIELDS + ("phone", "email", "owner_id", "account_id", "territory_id", "custom_data")
    before = _snapshot(contact, tracked)
    errors, phones, emails = _contact_apply(contact, data, actor)
    if errors:
        raise ValidationError(errors)
    if contact.account_id and (contact.account is None or contact.account.pk != contact.account_id):
        contact.account = Account.objects.get(pk=contact.account_id)
    contact.search_text = contact_search_text(contact)
    contact.updated_at = timezone.now()
    contact.version = F("version") + 1
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as error:
        raise ValidationError({"external_id": [_("A contact with this external ID already exists.")]}) from error
    contact.refresh_from_db()
    _contact_save_children(contact, phones, emails, data)
    after = _snapshot(contact, tracked)
    for field, channel in CONSENT_FIELDS.items():
        if before[field] != after[field]:
            ConsentRecord.objects.create(contact=contact, channel=channel, granted=after[field],
                                         source=data.get("consent_source", "update"), recorded_by=actor)
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=contact, changes=diff(before, after),
                 ip_address=ip_address)
    send_on_commit(record_changed, Contact, instance=contact, action="update", actor=actor)
    return contact


@transaction.atomic
def contact_delete(*, actor: User, contact_id: int, ip_address: str | None = None) -> None:
    contact = selectors.access_contact_by_id(actor, contact_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=contact, ip_address=ip_address,
                 changes={"full_name": [contact.full_name, None]})
    contact.delete()
    send_on_commit(record_changed, Contact, instance=contact, action="delete", actor=actor)


# ======================================================================================
# Accounts
# ======================================================================================
def _account_apply(account: Account, data: dict, actor: User) -> dict:
    errors: dict[str, list[str]] = {}
    for field in ACCOUNT_FIELDS:
        if field in data:
            value = data[field]
            if isinstance(value, str):
                value = value.strip()
            if field == "external_id" and value == "":
                value = None
            setattr(account, field, value)
    if "phone" in data:
        if data["phone"]:
            try:
                account.phone = normalize_phone(str(data["phone"]))
            except PhoneError as error:
                errors["phone"] = [str(error)]
        else:
            account.phone = ""
    if "email" in data:
        if data["email"]:
            try:
                account.email = normalize_email(str(data["email"]))
            except ValidationError as error:
                errors["email"] = list(error.messages)
        else:
            account.email = ""
    if "parent_id" in data:
        if data["parent_id"] and not Account.objects.filter(pk=data["parent_id"]).exists():
            errors["parent_id"] = [_("Unknown account.")]
        else:
            account.parent_id = data["parent_id"] or None
    if "custom_data" in data or account.pk is None:
        try:
            account.custom_data = validate_custom_data("account", data.get("custom_data") or {},
                                                       account.custom_data)
        except ValidationError as error:
            _merge_errors(errors, error)
    _assign_people(account, data, actor, "account", errors)
    try:
        account.full_clean(exclude=["search_text", "owner", "team", "territory", "parent", "custom_data",
                                    "tags", "version", "account_team"])
    except ValidationError as error:
        _merge_errors(errors, error)
    return errors


def account_search_text(account: Account) -> str:
    return search_text(account.name, account.email, account.phone.lstrip("+"), account.website,
                       account.external_id or "")


def _account_save_children(account: Account, data: dict) -> None:
    _set_tags(account, data.get("tags"))
    if "account_team" in data:
        AccountTeamMember.objects.filter(account=account).delete()
        for member in data["account_team"] or []:
            user_id = member.get("user_id") if isinstance(member, dict) else member
            AccountTeamMember.objects.create(account=account, user_id=user_id,
                                             team_role=member.get("team_role", "") if isinstance(member, dict)
                                             else "")
    for item in data.get("addresses") or []:
        Address.objects.create(account=account, **{key: value for key, value in item.items()
                                                   if key in {"kind", "country", "province", "city", "district",
                                                              "street", "postcode", "is_primary"}})


def _validate_account_team(data: dict) -> dict:
    errors = {}
    if "account_team" in data:
        ids = [member.get("user_id") if isinstance(member, dict) else member for member in data["account_team"] or []]
        known = set(User.objects.filter(pk__in=[i for i in ids if isinstance(i, int)]).values_list("id", flat=True))
        for index, user_id in enumerate(ids):
            if user_id not in known:
                errors[f"account_team.{index}"] = [_("Unknown user.")]
    return errors


@transaction.atomic
def account_create(*, actor: User, data: dict, ip_address: str | None = None) -> Account:
    if scope_for(actor, "account", "create") == Visibility.NONE:
        raise PermissionDenied(_("You may not create accounts."))
    account = Account()
    errors = _account_apply(account, data, actor)
    errors.update(_validate_account_team(data))
    if errors:
        raise ValidationError(errors)
    account.search_text = account_search_text(account)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as error:
        raise ValidationError({"external_id": [_("An account with this external ID already exists.")]}) from error
    _account_save_children(account, data)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=account, ip_address=ip_address,
                 changes=diff({}, _snapshot(account, ACCOUNT_FIELDS + ("phone", "email", "owner_id"))))
    send_on_commit(record_changed, Account, instance=account, action="create", actor=actor)
    return account


@transaction.atomic
def account_update(*, actor: User, account_id: int, data: dict, expected_version: int | None = None,
                   ip_address: str | None = None) -> Account:
    account = selectors.access_account_by_id(actor, account_id, "change")
    account = Account.objects.select_for_update().get(pk=account.pk)
    _check_version(account, expected_version)
    tracked = ACCOUNT_FIELDS + ("phone", "email", "owner_id", "territory_id", "parent_id", "custom_data")
    before = _snapshot(account, tracked)
    errors = _account_apply(account, data, actor)
    errors.update(_validate_account_team(data))
    if errors:
        raise ValidationError(errors)
    account.search_text = account_search_text(account)
    account.updated_at = timezone.now()
    account.version = F("version") + 1
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as error:
        raise ValidationError({"external_id": [_("An account with this external ID already exists.")]}) from error
    account.refresh_from_db()
    _account_save_children(account, data)
    if before["name"] != account.name:
        # Contacts index their company name; keep search in step with a rename.
        for contact in account.contacts.all():
            Contact.objects.filter(pk=contact.pk).update(search_text=contact_search_text(contact))
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=account, ip_address=ip_address,
                 changes=diff(before, _snapshot(account, tracked)))
    send_on_commit(record_changed, Account, instance=account, action="update", actor=actor)
    return account


@transaction.atomic
def account_delete(*, actor: User, account_id: int, ip_address: str | None = None) -> None:
    account = selectors.access_account_by_id(actor, account_id, "delete")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=account, ip_address=ip_address,
                 changes={"name": [account.name, None]})
    account.delete()
    send_on_commit(record_changed, Account, instance=account, action="delete", actor=actor)


# ======================================================================================
# Users, teams, territories, tokens, custom fields
# ======================================================================================
@transaction.atomic
def user_create(*, actor: User | None, username: str, password: str, role: str = Role.SALES_REP,
                email: str = "", display_name: str = "", team: Team | None = None,
                territory: Territory | None = None, is_superuser: bool = False, language: str = "en") -> User:
    """Create a staff user. ``actor`` None means the command line (trusted operator)."""
    if actor is not None and scope_for(actor, "user", "create") == Visibility.NONE:
        raise PermissionDenied(_("You may not create users."))
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [_("Unknown role “%(role)s”.") % {"role": role}]
    if User.objects.filter(username=username).exists():
        errors["username"] = [_("A user with that username already exists.")]
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    user = User(username=username, email=email, role=role, display_name=display_name, team=team,
                territory=territory, is_superuser=is_superuser, is_staff=is_superuser or role == Role.ADMIN,
                language=language)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=user,
                 changes={"username": [None, username], "role": [None, role]})
    return user


def api_token_create(*, actor: User, user: User, name: str) -> tuple[ApiToken, str]:
    """Issue a token; the clear text is returned once and never stored."""
    if actor.pk != user.pk and scope_for(actor, "user", "change") != Visibility.ALL:
        raise PermissionDenied(_("You may not issue tokens for other users."))
    clear = "gx_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, digest=hashlib.sha256(clear.encode()).hexdigest(),
                                    prefix=clear[:8])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=token, changes={"name": [None, name]})
    return token, clear


def api_token_authenticate(clear: str) -> User | None:
    """The active user of the token, or ``None``. Every API call comes here first, so the
    token and its user are read with SQL prepared once (``RowReader``)."""
    digest = hashlib.sha256((clear or "").encode()).hexdigest()
    quote = connection.ops.quote_name
    tokens = RowReader.of(ApiToken)(f"WHERE {quote('digest')} = %s", [digest])
    users = tokens and RowReader.of(User)(f"WHERE {quote('id')} = %s AND {quote('is_active')} = %s",
                                          [tokens[0].user_id, True])
    if not users:
        return None
    token = tokens[0]
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > datetime.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return users[0]


@transaction.atomic
def custom_field_create(*, actor: User, data: dict) -> CustomField:
    if scope_for(actor, "custom_field", "create") == Visibility.NONE:
        raise PermissionDenied(_("You may not define custom fields."))
    field = CustomField(**{key: value for key, value in data.items()
                           if key in {"target", "key", "label", "label_zh", "field_type", "choices", "required",
                                      "max_length", "position", "is_active"}})
    errors: dict[str, list[str]] = {}
    try:
        field.full_clean()
    except ValidationError as error:
        _merge_errors(errors, error)
    if field.field_type == "choice" and not field.choices:
        errors.setdefault("choices", []).append(_("A choice field needs at least one choice."))
    if errors:
        raise ValidationError(errors)
    field.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=field, changes={"key": [None, field.key]})
    return field


USER_FIELDS = ("email", "display_name", "role", "team_id", "territory_id", "language", "phone_extension")


@transaction.atomic
def user_update(*, actor: User, user_id: int, data: dict) -> User:
    """Change a user's profile, role, team or territory (administrators)."""
    if scope_for(actor, "user", "change") != Visibility.ALL:
        raise PermissionDenied(_("You may not change users."))
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"user {user_id}")
    before = _snapshot(user, USER_FIELDS)
    errors: dict[str, list[str]] = {}
    if "role" in data and data["role"] not in Role.values:
        errors["role"] = [_("Unknown role “%(role)s”.") % {"role": data["role"]}]
    if data.get("team_id") and not Team.objects.filter(pk=data["team_id"]).exists():
        errors["team_id"] = [_("Unknown team.")]
    if data.get("territory_id") and not Territory.objects.filter(pk=data["territory_id"]).exists():
        errors["territory_id"] = [_("Unknown territory.")]
    for field in USER_FIELDS:
        if field in data and field not in errors:
            value = data[field]
            setattr(user, field, value.strip() if isinstance(value, str) else value)
    try:
        user.full_clean(exclude=["password", "team", "territory"])
    except ValidationError as error:
        _merge_errors(errors, error)
    if errors:
        raise ValidationError(errors)
    user.is_staff = user.is_superuser or user.role == Role.ADMIN
    user.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=user, changes=diff(before, _snapshot(user, USER_FIELDS)))
    return user


@transaction.atomic
def user_set_language(*, actor: User, language: str) -> User:
    """The actor chooses the language of their own user interface (no admin right needed)."""
    from django.conf import settings

    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": [_("Unknown language “%(language)s”.") % {"language": language}]})
    user = User.objects.select_for_update().get(pk=actor.pk)
    before = user.language
    if before != language:
        user.language = language
        user.save(update_fields=["language"])
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=user, changes={"language": [before, language]})
    return user


@transaction.atomic
def user_deactivate(*, actor: User, user_id: int) -> User:
    """Remove a user's access. The row stays: records and the audit log still name them."""
    if scope_for(actor, "user", "delete") != Visibility.ALL:
        raise PermissionDenied(_("You may not remove users."))
    user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound(f"user {user_id}")
    if user.pk == actor.pk:
        raise Conflict(_("You cannot remove your own account."))
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, action=AuditAction.DELETE, obj=user, changes={"is_active": [True, False]})
    return user


@transaction.atomic
def api_token_revoke(*, actor: User, token_id: int) -> None:
    """Revoke one of the actor's tokens (administrators may revoke anyone's)."""
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None or (token.user_id != actor.pk and scope_for(actor, "user", "change") != Visibility.ALL):
        raise NotFound(f"token {token_id}")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=token, changes={"name": [token.name, None]})
    token.delete()


CUSTOM_FIELD_CHANGEABLE = ("label", "label_zh", "choices", "required", "max_length", "position", "is_active")


@transaction.atomic
def custom_field_update(*, actor: User, field_id: int, data: dict) -> CustomField:
    """Change how a custom field is shown and validated. Its object, key and type are fixed:
    stored values depend on them."""
    if scope_for(actor, "custom_field", "change") == Visibility.NONE:
        raise PermissionDenied(_("You may not change custom fields."))
    field = CustomField.objects.select_for_update().filter(pk=field_id).first()
    if field is None:
        raise NotFound(f"custom field {field_id}")
    before = _snapshot(field, CUSTOM_FIELD_CHANGEABLE)
    errors: dict[str, list[str]] = {}
    for key in ("target", "key", "field_type"):
        if key in data and data[key] != getattr(field, key):
            errors[key] = [_("This cannot be changed once the field exists.")]
    for key in CUSTOM_FIELD_CHANGEABLE:
        if key in data:
            setattr(field, key, data[key])
    try:
        field.full_clean()
    except ValidationError as error:
        _merge_errors(errors, error)
    if field.field_type == "choice" and not field.choices:
        errors.setdefault("choices", []).append(_("A choice field needs at least one choice."))
    if errors:
        raise ValidationError(errors)
    field.save()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=field,
                 changes=diff(before, _snapshot(field, CUSTOM_FIELD_CHANGEABLE)))
    return field


@transaction.atomic
def custom_field_delete(*, actor: User, field_id: int) -> None:
    """Remove a custom field definition. Values already stored stay in ``custom_data``
    (hidden), so re-creating the key brings them back instead of losing data."""
    if scope_for(actor, "custom_field", "delete") == Visibility.NONE:
        raise PermissionDenied(_("You may not remove custom fields."))
    field = CustomField.objects.filter(pk=field_id).first()
    if field is None:
        raise NotFound(f"custom field {field_id}")
    audit_record(actor=actor, action=AuditAction.DELETE, obj=field, changes={"key": [field.key, None]})
    field.delete()
