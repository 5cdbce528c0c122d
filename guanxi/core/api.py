"""REST routes of the core domain: contacts, accounts, search, caller lookup, custom fields,
audit log, users and API tokens.

Each route parses its input, calls one selector or service (which carry the access checks
and validation) and serializes the answer. Errors map to HTTP in ``guanxi.api``.
"""


import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from ninja import Field, ModelSchema, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanxi.core import selectors, services
from guanxi.core.api_conventions import (
    READ_ERRORS, WRITE_ERRORS, ApiListPagination, FullTextListPagination, InputSchema, model_field, paginate_as,
)
from guanxi.core.models import (
    Account, Address, ApiToken, AuditAction, AuditLog, Contact, CustomField, CustomFieldType,
    LifecycleStage, PhoneKind, User, ValueTier,
)

router = Router()


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _custom_filters(request) -> tuple[tuple[str, str], ...]:
    """``cf_<key>=value`` query parameters: filters on admin-defined custom fields."""
    return tuple((name[3:], value) for name, value in request.GET.items() if name.startswith("cf_"))


# ======================================================================================
# Shared output pieces
# ======================================================================================
class UserRef(Schema):
    id: int
    username: str = Field(description="Login name.")
    display_name: str = Field(description="Name shown in lists.")

    @staticmethod
    def resolve_display_name(user: User) -> str:
        return str(user)


class TerritoryRef(Schema):
    id: int
    code: str = Field(description="Short unique code, e.g. cn-south.")
    name: str = Field(description="Name shown to users.")


class TeamRef(Schema):
    id: int
    name: str = Field(description="Name of the team.")


class AccountRef(Schema):
    id: int
    name: str = Field(description="Company or household name.")


class AddressOut(ModelSchema):
    class Meta:
        model = Address
        fields = ["id", "kind", "country", "province", "city", "district", "street", "postcode", "is_primary"]


class PhoneOut(Schema):
    number: str = Field(description="E.164, e.g. +8613812345678.")
    kind: str = Field(description="mobile, work, home, fax or other.")
    is_primary: bool


class EmailOut(Schema):
    email: str = Field(description="Lower-case address.")
    kind: str = Field(description="Work, personal…")
    is_primary: bool


class AddressIn(InputSchema):
    kind: Address.Kind = Field(Address.Kind.WORK, description="billing, shipping, home, work or other.")
    country: str = model_field(Address, "country", "CN")
    province: str = model_field(Address, "province", "")
    city: str = model_field(Address, "city", "")
    district: str = model_field(Address, "district", "")
    street: str = model_field(Address, "street", "")
    postcode: str = model_field(Address, "postcode", "")
    is_primary: bool = False


class PhoneIn(InputSchema):
    number: str = Field(description="Phone number in any common format (`138 1234 5678`, `+86 138-1234-5678`, "
                                    "`0086…`); stored in E.164.")
    kind: PhoneKind = Field(PhoneKind.MOBILE, description="mobile, work, home, fax or other.")


class EmailIn(InputSchema):
    email: str = Field(description="Email address; stored in lower case.")
    kind: str = Field("work", max_length=10, description="Work, personal…")


# ======================================================================================
# Contacts
# ======================================================================================
class ContactOut(ModelSchema):
    phones: list[PhoneOut] = Field(description="Every number the person can be reached at.")
    emails: list[EmailOut] = Field(description="Every email address of the person.")
    addresses: list[AddressOut]
    tags: list[str] = Field(description="Free labels.")
    interests: list[str] = Field(description="List of interests.")
    custom_data: dict[str, Any] = Field(description="Values of admin-defined custom fields, by key.")
    account: AccountRef | None = Field(description="Company or household the person belongs to.")
    owner: UserRef | None = Field(description="User responsible for the record.")
    territory: TerritoryRef | None = Field(description="Sales territory.")

    class Meta:
        model = Contact
        fields = [
            "id", "external_id", "full_name", "family_name", "given_name", "alternate_name", "job_title", "email",
            "phone", "team", "lifecycle_stage", "value_tier", "relationship_stage", "industry", "birth_date",
            "gender", "income_band", "occupation", "education", "marital_status", "household_size",
            "preferred_channel", "preferred_language", "consent_email", "consent_sms", "consent_phone",
            "consent_mail", "do_not_contact", "is_erased", "churn_risk", "lifetime_value", "version",
            "created_at", "updated_at",
        ]

    @staticmethod
    def resolve_tags(contact: Contact) -> list[str]:
        return sorted(tag.name for tag in _related_rows(contact, "tag_list", "tags"))

    # Primary first, then in the order added; sorted here so the prefetched rows are reused.
    @staticmethod
    def resolve_phones(contact: Contact) -> list:
        return sorted(_related_rows(contact, "phone_list", "phones"),
                      key=lambda phone: (not phone.is_primary, phone.pk))

    @staticmethod
    def resolve_emails(contact: Contact) -> list:
        return sorted(_related_rows(contact, "email_list", "emails"),
                      key=lambda email: (not email.is_primary, email.pk))

    @staticmethod
    def resolve_addresses(contact: Contact) -> list:
        return sorted(_related_rows(contact, "address_list", "addresses"),
                      key=lambda address: (not address.is_primary, address.pk))


# A page of contacts loads its phones, emails, addresses and tags in one plain query each
# (``selectors.load_related_lists``), kept as plain lists: Django's default prefetch
# builds a manager and a queryset per contact and relation, and even its ``to_attr``
# lists cost 1.5–2 ms a relation at 50 contacts. Only the columns ``ContactOut`` shows are
# read; the related account, owner and territory are shown as references (see
# ``AccountRef``, ``UserRef``, ``TerritoryRef``).
CONTACT_DETAIL_LISTS = {"phones": ("phone_list", None), "emails": ("email_list", None),
                        "addresses": ("address_list", None), "tags": ("tag_list", None)}
USER_REF_COLUMNS = ("username", "display_name", "first_name", "last_name")  # what str(user) reads
CONTACT_OUT_COLUMNS = (
    *ContactOut.Meta.fields, "interests", "custom_data", "account", "account__name", "owner",
    *(f"owner__{column}" for column in USER_REF_COLUMNS), "territory", "territory__code", "territory__name",
)


def with_contact_details(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """The columns and references ``ContactOut`` shows; a page's lists come from
    ``load_contact_details``, so a page takes a fixed number of queries whatever its size."""
    return contacts.select_related("account", "owner", "territory").only(*CONTACT_OUT_COLUMNS)


def load_contact_details(contacts: list[Contact]) -> None:
    selectors.load_related_lists(contacts, CONTACT_DETAIL_LISTS)


def _related_rows(record, prefetched: str, relation: str) -> list:
    """Rows a list page prefetched into ``prefetched``; for a single record, its ``relation``."""
    rows = getattr(record, prefetched, None)
    return rows if rows is not None else list(getattr(record, relation).all())


class ContactSummaryOut(Schema):
    id: int
    full_name: str
    alternate_name: str
    phone: str = Field(description="Primary phone in E.164 format.")
    email: str
    lifecycle_stage: str
    value_tier: str
    account: AccountRef | None
    owner: UserRef | None


class ContactIn(InputSchema):
    """A contact to create; on PATCH only the fields sent are changed."""

    external_id: str | None = model_field(Contact, "external_id")
    family_name: str | None = model_field(Contact, "family_name")
    given_name: str | None = model_field(Contact, "given_name")
    full_name: str | None = model_field(Contact, "full_name")
    alternate_name: str | None = model_field(Contact, "alternate_name")
    job_title: str | None = model_field(Contact, "job_title")
    phone: str | None = Field(None, description="Primary phone in any common format; stored in E.164. "
                                                "An empty string removes every number.")
    email: str | None = Field(None, description="Primary email address.")
    phones: list[PhoneIn] | None = Field(None, description="Numbers to add (or re-label).")
    emails: list[EmailIn] | None = Field(None, description="Email addresses to add.")
    addresses: list[AddressIn] | None = Field(None, description="Addresses to add.")
    tags: list[str] | None = Field(None, description="Replaces the record's tags.")
    custom_data: dict[str, Any] | None = Field(None, description="Custom field values by key; merged into the "
                                                                 "stored ones, an empty value clears a key.")
    account_id: int | None = Field(None, description="Account the person belongs to.")
    owner_id: int | None = Field(None, description="User responsible; defaults to you.")
    territory_id: int | None = Field(None, description="Sales territory; defaults to the owner's.")
    lifecycle_stage: str | None = model_field(Contact, "lifecycle_stage")
    value_tier: str | None = model_field(Contact, "value_tier")
    relationship_stage: str | None = model_field(Contact, "relationship_stage")
    industry: str | None = model_field(Contact, "industry")
    birth_date: datetime.date | None = model_field(Contact, "birth_date")
    gender: str | None = model_field(Contact, "gender")
    income_band: str | None = model_field(Contact, "income_band")
    occupation: str | None = model_field(Contact, "occupation")
    education: str | None = model_field(Contact, "education")
    marital_status: str | None = model_field(Contact, "marital_status")
    household_size: int | None = model_field(Contact, "household_size", ge=0)
    interests: list[str] | None = model_field(Contact, "interests")
    preferred_channel: str | None = model_field(Contact, "preferred_channel")
    preferred_language: str | None = model_field(Contact, "preferred_language")
    consent_email: bool | None = model_field(Contact, "consent_email")
    consent_sms: bool | None = model_field(Contact, "consent_sms")
    consent_phone: bool | None = model_field(Contact, "consent_phone")
    consent_mail: bool | None = model_field(Contact, "consent_mail")
    do_not_contact: bool | None = model_field(Contact, "do_not_contact")


class ContactPatch(ContactIn):
    version: int | None = Field(None, description="The version you read. If the record changed since, the edit "
                                                  "is refused with 409 and nothing is stored.")


ContactSort = Literal[tuple(selectors.CONTACT_SORTS)]  # type: ignore[valid-type]


class ContactQuery(Schema):
    q: str = Field("", description="Full-text search on name, company, email, external ID, or a phone "
                                   "number in any format.")
    lifecycle_stage: LifecycleStage | None = Field(None, description="Only contacts at this stage.")
    value_tier: ValueTier | None = Field(None, description="Only contacts in this tier.")
    owner_id: int | None = Field(None, description="Only contacts owned by this user.")
    territory_id: int | None = Field(None, description="Only contacts in this territory.")
    account_id: int | None = Field(None, description="Only contacts of this account.")
    tag: str = Field("", description="Only contacts with this tag.")
    sort: ContactSort = Field("name", description="Order: name, created or updated; a leading - reverses.")

    def to_filters(self, custom: tuple[tuple[str, str], ...]) -> selectors.ContactFilters:
        return selectors.ContactFilters(
            query=self.q.strip(), lifecycle_stage=self.lifecycle_stage or "", value_tier=self.value_tier or "",
            owner_id=self.owner_id, territory_id=self.territory_id, account_id=self.account_id,
            tag=self.tag.strip(), custom=custom)


CUSTOM_FILTER_NOTE = ("Custom fields filter as `cf_<key>=<value>` (e.g. `cf_region=south`); an unknown key or a "
                      "value of the wrong type answers 422.")


@router.get("/contacts", response={200: list[ContactOut], **READ_ERRORS}, tags=["contacts"],
            summary="List contacts", description=f"Contacts you may see, filtered and sorted. {CUSTOM_FILTER_NOTE}")
@paginate_as(ContactOut, load=load_contact_details, pagination=FullTextListPagination)
def contact_list(request, filters: Query[ContactQuery]):
    contacts = selectors.contact_list(request.auth, filters.to_filters(_custom_filters(request)), filters.sort)
    return with_contact_details(contacts)


@router.post("/contacts", response={201: ContactOut, **WRITE_ERRORS}, tags=["contacts"], summary="Create a contact")
def contact_create(request, payload: ContactIn):
    contact = services.contact_create(actor=request.auth, data=payload.dict(exclude_unset=True),
                                      ip_address=_client_ip(request))
    return Status(201, contact)


@router.get("/contacts/{contact_id}", response={200: ContactOut, **READ_ERRORS}, tags=["contacts"],
            summary="Read a contact")
def contact_detail(request, contact_id: int):
    return selectors.access_contact_by_id(request.auth, contact_id)


@router.patch("/contacts/{contact_id}", response={200: ContactOut, **WRITE_ERRORS}, tags=["contacts"],
              summary="Change a contact")
def contact_update(request, contact_id: int, payload: ContactPatch):
    data = payload.dict(exclude_unset=True)
    expected_version = data.pop("version", None)
    return services.contact_update(actor=request.auth, contact_id=contact_id, data=data,
                                   expected_version=expected_version, ip_address=_client_ip(request))


@router.delete("/contacts/{contact_id}", response={204: None, **WRITE_ERRORS}, tags=["contacts"],
               summary="Delete a contact")
def contact_delete(request, contact_id: int):
    services.contact_delete(actor=request.auth, contact_id=contact_id, ip_address=_client_ip(request))
    return Status(204, None)


# ======================================================================================
# Accounts
# ======================================================================================
class AccountTeamMemberOut(Schema):
    user: UserRef
    team_role: str = Field(description="E.g. executive sponsor, solution engineer.")


class AccountOut(ModelSchema):
    tags: list[str] = Field(description="Free labels.")
    custom_data: dict[str, Any] = Field(description="Values of admin-defined custom fields, by key.")
    addresses: list[AddressOut]
    account_team: list[AccountTeamMemberOut] = Field(description="Users serving this key account.")
    parent: AccountRef | None = Field(description="Group or head office.")
    owner: UserRef | None = Field(description="User responsible for the record.")
    territory: TerritoryRef | None = Field(description="Sales territory.")
    annual_revenue: Decimal | None = Field(description="Yearly revenue, as a decimal string.")

    class Meta:
        model = Account
        fields = [
            "id", "external_id", "name", "kind", "website", "phone", "email", "currency", "employees",
            "is_key_account", "description", "team", "lifecycle_stage", "value_tier", "relationship_stage",
            "industry", "version", "created_at", "updated_at",
        ]

    @staticmethod
    def resolve_tags(account: Account) -> list[str]:
        return sorted(tag.name for tag in _related_rows(account, "tag_list", "tags"))

    @staticmethod
    def resolve_account_team(account: Account) -> list:
        return sorted(_related_rows(account, "team_member_list", "team_members"), key=lambda member: member.pk)

    @staticmethod
    def resolve_addresses(account: Account) -> list:
        return sorted(_related_rows(account, "address_list", "addresses"),
                      key=lambda address: (not address.is_primary, address.pk))


class AccountSummaryOut(Schema):
    id: int
    name: str
    phone: str
    email: str
    is_key_account: bool
    value_tier: str
    lifecycle_stage: str


# As for contacts: one query per relation into plain lists, and only the columns shown.
ACCOUNT_DETAIL_LISTS = {"tags": ("tag_list", None), "addresses": ("address_list", None),
                        "team_members": ("team_member_list", None)}
ACCOUNT_OUT_COLUMNS = (
    *AccountOut.Meta.fields, "custom_data", "annual_revenue", "parent", "parent__name", "owner",
    *(f"owner__{column}" for column in USER_REF_COLUMNS), "territory", "territory__code", "territory__name",
)


def with_account_details(accounts: QuerySet[Account]) -> QuerySet[Account]:
    return accounts.select_related("owner", "territory", "parent").only(*ACCOUNT_OUT_COLUMNS)


def load_account_details(accounts: list[Account]) -> None:
    selectors.load_related_lists(accounts, ACCOUNT_DETAIL_LISTS)
    members = [member for account in accounts for member in account.team_member_list]
    selectors.load_related_records(members, "user", ("id", *USER_REF_COLUMNS))


class AccountTeamMemberIn(InputSchema):
    user_id: int = Field(description="User on the account team.")
    team_role: str = Field("", max_length=60, description="E.g. executive sponsor, solution engineer.")


class AccountIn(InputSchema):
    """An account to create; on PATCH only the fields sent are changed."""

    external_id: str | None = model_field(Account, "external_id")
    name: str | None = model_field(Account, "name")
    kind: str | None = model_field(Account, "kind")
    website: str | None = model_field(Account, "website")
    phone: str | None = Field(None, description="Main number in any common format; stored in E.164.")
    email: str | None = Field(None, description="Main email address.")
    annual_revenue: Decimal | None = model_field(Account, "annual_revenue")
    currency: str | None = model_field(Account, "currency")
    employees: int | None = model_field(Account, "employees", ge=0)
    is_key_account: bool | None = model_field(Account, "is_key_account")
    account_team: list[AccountTeamMemberIn] | None = Field(None, description="Replaces the account team.")
    parent_id: int | None = Field(None, description="Group or head office.")
    description: str | None = model_field(Account, "description")
    lifecycle_stage: str | None = model_field(Account, "lifecycle_stage")
    value_tier: str | None = model_field(Account, "value_tier")
    relationship_stage: str | None = model_field(Account, "relationship_stage")
    industry: str | None = model_field(Account, "industry")
    tags: list[str] | None = Field(None, description="Replaces the record's tags.")
    addresses: list[AddressIn] | None = Field(None, description="Addresses to add.")
    custom_data: dict[str, Any] | None = Field(None, description="Custom field values by key; merged into the "
                                                                 "stored ones, an empty value clears a key.")
    owner_id: int | None = Field(None, description="User responsible; defaults to you.")
    territory_id: int | None = Field(None, description="Sales territory; defaults to the owner's.")


class AccountPatch(AccountIn):
    version: int | None = Field(None, description="The version you read. If the record changed since, the edit "
                                                  "is refused with 409 and nothing is stored.")


AccountSort = Literal[tuple(selectors.ACCOUNT_SORTS)]  # type: ignore[valid-type]


class AccountQuery(Schema):
    q: str = Field("", description="Full-text search on name, email, website, external ID, or a phone number.")
    lifecycle_stage: LifecycleStage | None = Field(None, description="Only accounts at this stage.")
    value_tier: ValueTier | None = Field(None, description="Only accounts in this tier.")
    industry: str = Field("", description="Only accounts in this industry.")
    owner_id: int | None = Field(None, description="Only accounts owned by this user.")
    territory_id: int | None = Field(None, description="Only accounts in this territory.")
    is_key_account: bool | None = Field(None, description="Only key accounts (true) or only others (false).")
    tag: str = Field("", description="Only accounts with this tag.")
    sort: AccountSort = Field("name", description="Order: name, created or updated; a leading - reverses.")

    def to_filters(self, custom: tuple[tuple[str, str], ...]) -> selectors.AccountFilters:
        return selectors.AccountFilters(
            query=self.q.strip(), lifecycle_stage=self.lifecycle_stage or "", value_tier=self.value_tier or "",
            industry=self.industry.strip(), owner_id=self.owner_id, territory_id=self.territory_id,
            is_key_account=self.is_key_account, tag=self.tag.strip(), custom=custom)


@router.get("/accounts", response={200: list[AccountOut], **READ_ERRORS}, tags=["accounts"],
            summary="List accounts", description=f"Accounts you may see, filtered and sorted. {CUSTOM_FILTER_NOTE}")
@paginate_as(AccountOut, load=load_account_details, pagination=FullTextListPagination)
def account_list(request, filters: Query[AccountQuery]):
    accounts = selectors.account_list(request.auth, filters.to_filters(_custom_filters(request)), filters.sort)
    return with_account_details(accounts)


@router.post("/accounts", response={201: AccountOut, **WRITE_ERRORS}, tags=["accounts"], summary="Create an account")
def account_create(request, payload: AccountIn):
    account = services.account_create(actor=request.auth, data=payload.dict(exclude_unset=True),
                                      ip_address=_client_ip(request))
    return Status(201, account)


@router.get("/accounts/{account_id}", response={200: AccountOut, **READ_ERRORS}, tags=["accounts"],
            summary="Read an account")
def account_detail(request, account_id: int):
    return selectors.access_account_by_id(request.auth, account_id)


@router.patch("/accounts/{account_id}", response={200: AccountOut, **WRITE_ERRORS}, tags=["accounts"],
              summary="Change an account")
def account_update(request, account_id: int, payload: AccountPatch):
    data = payload.dict(exclude_unset=True)
    expected_version = data.pop("version", None)
    return services.account_update(actor=request.auth, account_id=account_id, data=data,
                                   expected_version=expected_version, ip_address=_client_ip(request))


@router.delete("/accounts/{account_id}", response={204: None, **WRITE_ERRORS}, tags=["accounts"],
               summary="Delete an account")
def account_delete(request, account_id: int):
    services.account_delete(actor=request.auth, account_id=account_id, ip_address=_client_ip(request))
    return Status(204, None)


# ======================================================================================
# Search and caller lookup
# ======================================================================================
class SearchOut(Schema):
    query: str = Field(description="The query as searched.")
    contacts: list[ContactSummaryOut] = Field(description="Matching contacts you may see, by name.")
    accounts: list[AccountSummaryOut] = Field(description="Matching accounts you may see, by name.")


@router.get("/search", response={200: SearchOut, **READ_ERRORS}, tags=["search"], summary="Global search")
def search(request,
           q: str = Query(..., min_length=1, description="Name, company, email, external ID, or a phone number "
                                                          "in any format."),
           limit: int = Query(20, ge=1, le=100, description="At most this many contacts and this many accounts.")):
    return selectors.global_search(request.auth, q, limit=limit)


class CallerLookupOut(Schema):
    number: str = Field(description="The number in E.164.")
    contacts: list[ContactSummaryOut] = Field(description="Contacts you may see who are reachable at the number.")


@router.get("/lookup/phone", response={200: CallerLookupOut, **READ_ERRORS}, tags=["search"],
            summary="Caller lookup by phone number")
def lookup_phone(request, number: str = Query(..., description="Phone number in any format, e.g. 0138-1234-5678 "
                                                               "or +86 138 1234 5678.")):
    number_e164, contacts = selectors.caller_lookup(request.auth, number)
    return {"number": number_e164, "contacts": contacts}


# ======================================================================================
# Custom fields
# ======================================================================================
class CustomFieldOut(ModelSchema):
    choices: list[str] = Field(description="Allowed values for a choice field.")

    class Meta:
        model = CustomField
        fields = ["id", "target", "key", "label", "label_zh", "field_type", "required", "max_length", "position",
                  "is_active"]


class CustomFieldIn(InputSchema):
    target: CustomField.TargetObject = Field(description="Which records carry this field: account or contact.")
    key: str = model_field(CustomField, "key", ...)
    label: str = model_field(CustomField, "label", ...)
    label_zh: str = model_field(CustomField, "label_zh", "")
    field_type: CustomFieldType = Field(CustomFieldType.TEXT, description="text, integer, decimal, date, boolean "
                                                                          "or choice.")
    choices: list[str] = Field([], description="Allowed values for a choice field.")
    required: bool = model_field(CustomField, "required", False)
    max_length: int = model_field(CustomField, "max_length", 255, ge=1)
    position: int = model_field(CustomField, "position", 0, ge=0)
    is_active: bool = model_field(CustomField, "is_active", True)


class CustomFieldPatch(InputSchema):
    label: str | None = model_field(CustomField, "label")
    label_zh: str | None = model_field(CustomField, "label_zh")
    choices: list[str] | None = Field(None, description="Allowed values for a choice field.")
    required: bool | None = model_field(CustomField, "required")
    max_length: int | None = model_field(CustomField, "max_length", ge=1)
    position: int | None = model_field(CustomField, "position", ge=0)
    is_active: bool | None = model_field(CustomField, "is_active")


@router.get("/custom-fields", response={200: list[CustomFieldOut], **READ_ERRORS}, tags=["custom fields"],
            summary="List custom field definitions")
@paginate(ApiListPagination)
def custom_field_list(request, target: CustomField.TargetObject | None = Query(
        None, description="Only fields of accounts or of contacts.")):
    return selectors.custom_field_list(request.auth, target or "")


@router.post("/custom-fields", response={201: CustomFieldOut, **WRITE_ERRORS}, tags=["custom fields"],
             summary="Define a custom field")
def custom_field_create(request, payload: CustomFieldIn):
    return Status(201, services.custom_field_create(actor=request.auth, data=payload.dict()))


@router.patch("/custom-fields/{field_id}", response={200: CustomFieldOut, **WRITE_ERRORS}, tags=["custom fields"],
              summary="Change a custom field")
def custom_field_update(request, field_id: int, payload: CustomFieldPatch):
    return services.custom_field_update(actor=request.auth, field_id=field_id,
                                        data=payload.dict(exclude_unset=True))


@router.delete("/custom-fields/{field_id}", response={204: None, **WRITE_ERRORS}, tags=["custom fields"],
               summary="Remove a custom field")
def custom_field_delete(request, field_id: int):
    services.custom_field_delete(actor=request.auth, field_id=field_id)
    return Status(204, None)


# ======================================================================================
# Audit log
# ======================================================================================
class AuditLogOut(ModelSchema):
    actor: UserRef | None = Field(description="Who did it; null for the system.")
    changes: dict[str, Any] = Field(description="Field: [old, new].")

    class Meta:
        model = AuditLog
        fields = ["id", "at", "action", "object_type", "object_id", "object_repr", "ip_address"]


@router.get("/audit-log", response={200: list[AuditLogOut], **READ_ERRORS}, tags=["audit log"],
            summary="Read the audit log", description="Newest first.")
@paginate(ApiListPagination)
def audit_log_list(request,
                   object_type: str = Query("", description="E.g. contact, account, user."),
                   object_id: str = Query("", description="ID of the object."),
                   action: AuditAction | None = Query(None, description="Only entries of this action.")):
    return selectors.audit_log_list(request.auth, object_type=object_type, object_id=object_id,
                                    action=action or "")


# ======================================================================================
# Users and API tokens
# ======================================================================================
class UserOut(ModelSchema):
    team: TeamRef | None = Field(description="Team the user works in.")
    territory: TerritoryRef | None = Field(description="Territory the user covers.")
    display_name: str = Field(description="Name shown in lists.")

    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "language", "phone_extension", "is_active"]

    @staticmethod
    def resolve_display_name(user: User) -> str:
        return str(user)


class UserPatch(InputSchema):
    email: str | None = model_field(User, "email")
    display_name: str | None = model_field(User, "display_name")
    role: str | None = model_field(User, "role")
    team_id: int | None = Field(None, description="Team the user works in.")
    territory_id: int | None = Field(None, description="Territory the user covers.")
    language: str | None = model_field(User, "language")
    phone_extension: str | None = model_field(User, "phone_extension")


@router.get("/users/me", response={200: UserOut, **READ_ERRORS}, tags=["users"], summary="Who am I")
def user_me(request):
    return request.auth


@router.get("/users", response={200: list[UserOut], **READ_ERRORS}, tags=["users"], summary="List active users")
@paginate(ApiListPagination)
def user_list(request):
    return selectors.visible_users(request.auth).order_by("username")


@router.get("/users/{user_id}", response={200: UserOut, **READ_ERRORS}, tags=["users"], summary="Read a user")
def user_detail(request, user_id: int):
    return selectors.access_user_by_id(request.auth, user_id)


@router.patch("/users/{user_id}", response={200: UserOut, **WRITE_ERRORS}, tags=["users"], summary="Change a user")
def user_update(request, user_id: int, payload: UserPatch):
    return services.user_update(actor=request.auth, user_id=user_id, data=payload.dict(exclude_unset=True))


@router.delete("/users/{user_id}", response={204: None, **WRITE_ERRORS}, tags=["users"],
               summary="Remove a user's access", description="The user is deactivated, not erased: records and "
                                                             "the audit log keep naming them.")
def user_deactivate(request, user_id: int):
    services.user_deactivate(actor=request.auth, user_id=user_id)
    return Status(204, None)


class TokenOut(ModelSchema):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class TokenIssuedOut(TokenOut):
    token: str = Field(description="The token itself. It is shown this once and never stored; keep it safe.")
    user_id: int = Field(description="User the token acts as.")


class TokenIn(InputSchema):
    name: str = model_field(ApiToken, "name", ..., min_length=1)
    user_id: int | None = Field(None, description="Issue for another user (administrators only); "
                                                  "defaults to you.")


@router.get("/tokens", response={200: list[TokenOut], **READ_ERRORS}, tags=["tokens"], summary="List your tokens")
@paginate(ApiListPagination)
def token_list(request):
    return selectors.api_tokens_of(request.auth)


@router.post("/tokens", response={201: TokenIssuedOut, **WRITE_ERRORS}, tags=["tokens"], summary="Issue a token")
def token_create(request, payload: TokenIn):
    user = request.auth if payload.user_id in (None, request.auth.pk) else \
        selectors.access_user_by_id(request.auth, payload.user_id)
    token, clear = services.api_token_create(actor=request.auth, user=user, name=payload.name.strip())
    return Status(201, {"id": token.pk, "name": token.name, "prefix": token.prefix, "created_at": token.created_at,
                        "last_used_at": token.last_used_at, "token": clear, "user_id": user.pk})


@router.delete("/tokens/{token_id}", response={204: None, **WRITE_ERRORS}, tags=["tokens"], summary="Revoke a token")
def token_revoke(request, token_id: int):
    services.api_token_revoke(actor=request.auth, token_id=token_id)
    return Status(204, None)
