"""Core records: users, teams, territories, accounts, contacts and what hangs off them.

Members of each model are grouped in a fixed order: fields, Meta, ``__str__``, methods.
Writes go through ``guanxi.core.services``; reads with access checks through
``guanxi.core.selectors``.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


# ======================================================================================
# Choices
# ======================================================================================
class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    SALES_MANAGER = "sales_manager", _("Sales manager")
    SALES_REP = "sales_rep", _("Sales representative")
    MARKETER = "marketer", _("Marketer")
    SERVICE_AGENT = "service_agent", _("Service agent")
    CONTACT_CENTER_AGENT = "cc_agent", _("Contact-center agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    ANALYST = "analyst", _("Analyst")
    PARTNER = "partner", _("Partner")
    CUSTOMER = "customer", _("Customer")


class LifecycleStage(models.TextChoices):
    # "New" and "Active" also name lead and contract states, which Chinese words differently.
    PROSPECT = "prospect", _("Prospect")
    NEW = "new", pgettext_lazy("lifecycle stage", "New")
    ACTIVE = "active", pgettext_lazy("lifecycle stage", "Active")
    LOYAL = "loyal", _("Loyal")
    AT_RISK = "at_risk", _("At risk")
    LOST = "lost", _("Lost")


class ValueTier(models.TextChoices):
    PLATINUM = "platinum", _("Platinum (top 1%)")
    GOLD = "gold", _("Gold (next 4%)")
    SILVER = "silver", _("Silver (next 15%)")
    BRONZE = "bronze", _("Bronze (rest)")


class RelationshipStage(models.TextChoices):
    TRANSACTIONAL = "transactional", _("Transactional")
    VALUE_ADDED = "value_added", _("Value-added")
    COOPERATIVE = "cooperative", _("Cooperative")


class AccountKind(models.TextChoices):
    COMPANY = "company", _("Company")
    HOUSEHOLD = "household", _("Household")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNDISCLOSED = "undisclosed", _("Prefer not to say")


class IncomeBand(models.TextChoices):
    LOW = "low", _("Low")
    LOWER_MIDDLE = "lower_middle", _("Lower middle")
    MIDDLE = "middle", _("Middle")
    UPPER_MIDDLE = "upper_middle", _("Upper middle")
    HIGH = "high", _("High")


class Education(models.TextChoices):
    SECONDARY = "secondary", _("Secondary school")
    VOCATIONAL = "vocational", _("Vocational")
    BACHELOR = "bachelor", _("Bachelor's degree")
    MASTER = "master", _("Master's degree")
    DOCTORATE = "doctorate", _("Doctorate")


class MaritalStatus(models.TextChoices):
    SINGLE = "single", _("Single")
    MARRIED = "married", _("Married")
    DIVORCED = "divorced", _("Divorced")
    WIDOWED = "widowed", _("Widowed")


class Channel(models.TextChoices):
    """Channels of SPEC §6; shared by consent, preferences and the interaction log."""

    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    CHAT = "chat", _("Chat")
    VIDEO = "video", _("Video")
    LETTER = "letter", _("Letter")
    FAX = "fax", _("Fax")
    VISIT = "visit", _("Visit")
    IVR = "ivr", _("IVR")
    WEB = "web", _("Web self-service")
    AUTO_REPLY = "auto_reply", _("Automatic reply")


class Visibility(models.TextChoices):
    NONE = "none", _("None")
    OWN = "own", _("Own records")
    TEAM = "team", _("Team records")
    TERRITORY = "territory", _("Territory records")
    ALL = "all", _("All records")


# ======================================================================================
# Organisation: territories, teams, users
# ======================================================================================
class Territory(models.Model):
    # --- fields ---
    code = models.SlugField(_("code"), max_length=40, unique=True, help_text=_("Short unique code, e.g. cn-south."))
    name = models.CharField(_("name"), max_length=120, help_text=_("Name shown to users."))
    parent = models.ForeignKey(
        "self", verbose_name=_("parent territory"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children", help_text=_("Larger territory this one belongs to."),
    )
    region = models.CharField(_("region"), max_length=80, blank=True, help_text=_("Sales region, e.g. South China."))
    provinces = models.JSONField(_("provinces"), default=list, blank=True, help_text=_("Provinces or states covered."))
    cities = models.JSONField(_("cities"), default=list, blank=True, help_text=_("Cities covered."))
    postcode_prefixes = models.JSONField(
        _("postcode prefixes"), default=list, blank=True, help_text=_("Postcodes starting with these belong here.")
    )
    industries = models.JSONField(_("industries"), default=list, blank=True, help_text=_("Industries covered."))

    # --- Meta ---
    class Meta:
        verbose_name = _("territory")
        verbose_name_plural = _("territories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True, help_text=_("Name of the team."))
    manager = models.ForeignKey(
        "core.User", verbose_name=_("manager"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="managed_teams", help_text=_("Manager who sees all of the team's records."),
    )
    territory = models.ForeignKey(
        Territory, verbose_name=_("territory"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="teams", help_text=_("Territory the team covers."),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    # --- fields ---
    role = models.CharField(
        _("role"), max_length=20, choices=Role.choices, default=Role.SALES_REP,
        help_text=_("Decides what the user may do; see the access matrix."),
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="members", help_text=_("Team the user works in."),
    )
    territory = models.ForeignKey(
        Territory, verbose_name=_("territory"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="users", help_text=_("Territory the user covers."),
    )
    display_name = models.CharField(_("display name"), max_length=120, blank=True, help_text=_("Name shown in lists."))
    language = models.CharField(
        _("language"), max_length=10, default="en", choices=[("en", "English"), ("zh-hans", "简体中文")],
        help_text=_("Language of the user interface."),
    )
    phone_extension = models.CharField(_("extension"), max_length=20, blank=True, help_text=_("Telephone extension."))

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username


class ApiToken(models.Model):
    """A bearer token for the REST API. Only a SHA-256 digest of the token is stored."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens",
                             help_text=_("User the token acts as."))
    name = models.CharField(_("name"), max_length=80, help_text=_("What the token is used for."))
    digest = models.CharField(_("digest"), max_length=64, unique=True, help_text=_("SHA-256 of the token."))
    prefix = models.CharField(_("prefix"), max_length=8, help_text=_("First characters, to recognise the token."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text=_("When it was issued."))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, help_text=_("Last API call."))

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


# ======================================================================================
# Tags and custom fields
# ======================================================================================
class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True, help_text=_("Tag text."))
    color = models.CharField(_("colour"), max_length=7, default="#4a6fa5", help_text=_("Colour as #rrggbb."))

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("Text")
    INTEGER = "integer", _("Whole number")
    DECIMAL = "decimal", _("Decimal number")
    DATE = "date", _("Date")
    BOOLEAN = "boolean", _("Yes / no")
    CHOICE = "choice", _("Choice from a list")


class CustomField(models.Model):
    """A field an administrator adds to accounts or contacts without code.

    Values live in the record's ``custom_data`` JSON under ``key``; services validate
    them against this definition, selectors filter on them with JSON lookups.
    """

    class TargetObject(models.TextChoices):
        ACCOUNT = "account", _("Account")
        CONTACT = "contact", _("Contact")

    target = models.CharField(_("object"), max_length=20, choices=TargetObject.choices,
                              help_text=_("Which records carry this field."))
    key = models.SlugField(_("key"), max_length=50, help_text=_("Machine name used in the API and imports."))
    label = models.CharField(_("label"), max_length=100, help_text=_("Label in English."))
    label_zh = models.CharField(_("Chinese label"), max_length=100, blank=True, help_text=_("Label in Chinese."))
    field_type = models.CharField(_("type"), max_length=20, choices=CustomFieldType.choices,
                                  default=CustomFieldType.TEXT, help_text=_("Kind of value stored."))
    choices = models.JSONField(_("choices"), default=list, blank=True,
                               help_text=_("Allowed values for a choice field."))
    required = models.BooleanField(_("required"), default=False, help_text=_("A value must be given."))
    max_length = models.PositiveIntegerField(_("maximum length"), default=255, help_text=_("For text fields."))
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order in forms."))
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive fields are hidden."))

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["target", "position", "key"]
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="custom_field_unique_key")]

    def __str__(self) -> str:
        return f"{self.target}.{self.key}"


# ======================================================================================
# Customers: accounts and contacts
# ======================================================================================
class CustomerRecord(models.Model):
    """Fields every customer record (account or contact) shares."""

    external_id = models.CharField(_("external ID"), max_length=64, null=True, blank=True, unique=True,
                                   help_text=_("Key in the source system; imports upsert on it."))
    owner = models.ForeignKey(User, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("User responsible for the record."))
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text=_("Team of the owner when the record was assigned."))
    territory = models.ForeignKey(Territory, verbose_name=_("territory"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", help_text=_("Sales territory."))
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=20, choices=LifecycleStage.choices,
                                       default=LifecycleStage.PROSPECT, help_text=_("Where the customer stands."))
    value_tier = models.CharField(_("value tier"), max_length=20, choices=ValueTier.choices, blank=True,
                                  help_text=_("Tier in the value pyramid."))
    relationship_stage = models.CharField(_("relationship stage"), max_length=20,
                                          choices=RelationshipStage.choices, default=RelationshipStage.TRANSACTIONAL,
                                          help_text=_("Depth of the relationship."))
    industry = models.CharField(_("industry"), max_length=80, blank=True, help_text=_("Industry or sector."))
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="+",
                                  help_text=_("Free labels."))
    custom_data = models.JSONField(_("custom fields"), default=dict, blank=True,
                                   help_text=_("Values of admin-defined custom fields."))
    search_text = models.TextField(_("search text"), blank=True, editable=False,
                                   help_text=_("Normalized text indexed for full-text search."))
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Raised on every change; "
                                                                             "stale edits are refused."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True,
                                      help_text=_("When the record was created."))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, db_index=True,
                                      help_text=_("When the record last changed."))

    class Meta:
        abstract = True


class Account(CustomerRecord):
    # --- fields ---
    name = models.CharField(_("name"), max_length=200, help_text=_("Company or household name."))
    kind = models.CharField(_("kind"), max_length=20, choices=AccountKind.choices, default=AccountKind.COMPANY,
                            help_text=_("Company or household."))
    website = models.URLField(_("website"), blank=True, help_text=_("Web address."))
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True,
                             help_text=_("Main number in E.164 format."))
    email = models.EmailField(_("email"), blank=True, help_text=_("Main email address."))
    annual_revenue = models.DecimalField(_("annual revenue"), max_digits=16, decimal_places=2, null=True,
                                         blank=True, help_text=_("Yearly revenue."))
    currency = models.CharField(_("currency"), max_length=3, default="CNY", help_text=_("ISO 4217 code."))
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True, help_text=_("Head count."))
    is_key_account = models.BooleanField(_("key account"), default=False, db_index=True,
                                         help_text=_("Managed by an account team."))
    account_team = models.ManyToManyField(User, verbose_name=_("account team"), through="AccountTeamMember",
                                          blank=True, related_name="key_accounts",
                                          help_text=_("Users serving this key account."))
    parent = models.ForeignKey("self", verbose_name=_("parent account"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="subsidiaries",
                               help_text=_("Group or head office."))
    description = models.TextField(_("description"), blank=True, help_text=_("Notes about the account."))

    SEARCH_FIELDS = ("name", "email", "phone", "website", "external_id")

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["owner", "name"], name="account_owner_name"),
            models.Index(fields=["team", "name"], name="account_team_name"),
            models.Index(fields=["territory", "name"], name="account_territory_name"),
        ]

    def __str__(self) -> str:
        return self.name


class AccountTeamMember(models.Model):
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="team_members", help_text=_("Key account."))
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+",
                             help_text=_("Team member."))
    team_role = models.CharField(_("role in team"), max_length=60, blank=True,
                                 help_text=_("E.g. executive sponsor, solution engineer."))

    class Meta:
        verbose_name = _("account team member")
        verbose_name_plural = _("account team members")
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="account_team_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account}"


class Contact(CustomerRecord):
    # --- fields: identity ---
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="contacts",
                                help_text=_("Company or household the person belongs to."))
    family_name = models.CharField(_("family name"), max_length=80, blank=True, help_text=_("Surname, e.g. 王."))
    given_name = models.CharField(_("given name"), max_length=80, blank=True, help_text=_("First name, e.g. 芳."))
    full_name = models.CharField(_("full name"), max_length=200, help_text=_("Name as shown; Chinese names "
                                                                           "family name first."))
    alternate_name = models.CharField(_("alternate name"), max_length=200, blank=True,
                                      help_text=_("Name in another script, e.g. pinyin or English name."))
    job_title = models.CharField(_("job title"), max_length=120, blank=True, help_text=_("Position."))
    email = models.EmailField(_("email"), blank=True, db_index=True, help_text=_("Primary email, lower case."))
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True,
                             help_text=_("Primary phone in E.164 format."))
    # --- fields: demographics used by analysis ---
    birth_date = models.DateField(_("birth date"), null=True, blank=True, help_text=_("Date of birth."))
    gender = models.CharField(_("gender"), max_length=20, choices=Gender.choices, blank=True, help_text="")
    income_band = models.CharField(_("income band"), max_length=20, choices=IncomeBand.choices, blank=True,
                                   help_text=_("Household income band."))
    occupation = models.CharField(_("occupation"), max_length=80, blank=True, help_text=_("Occupation."))
    education = models.CharField(_("education"), max_length=20, choices=Education.choices, blank=True,
                                 help_text=_("Highest education."))
    marital_status = models.CharField(_("marital status"), max_length=20, choices=MaritalStatus.choices,
                                      blank=True, help_text="")
    household_size = models.PositiveSmallIntegerField(_("household size"), null=True, blank=True,
                                                      help_text=_("People in the household."))
    interests = models.JSONField(_("interests"), default=list, blank=True, help_text=_("List of interests."))
    # --- fields: consent and preferences ---
    preferred_channel = models.CharField(_("preferred channel"), max_length=20, choices=Channel.choices,
                                         blank=True, help_text=_("Channel the person prefers."))
    preferred_language = models.CharField(_("preferred language"), max_length=10, default="zh-hans",
                                          choices=[("en", "English"), ("zh-hans", "简体中文")],
                                          help_text=_("Language for messages and documents."))
    consent_email = models.BooleanField(_("email consent"), default=False, help_text=_("May receive marketing email."))
    consent_sms = models.BooleanField(_("SMS consent"), default=False, help_text=_("May receive marketing SMS."))
    consent_phone = models.BooleanField(_("phone consent"), default=False, help_text=_("May receive sales calls."))
    consent_mail = models.BooleanField(_("mail consent"), default=False, help_text=_("May receive letters."))
    do_not_contact = models.BooleanField(_("do not contact"), default=False, db_index=True,
                                         help_text=_("Overrides every consent: never contact."))
    is_erased = models.BooleanField(_("erased"), default=False, help_text=_("Personal data anonymized on request."))
    # --- fields: analytics written back ---
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True, help_text=_("Probability of churn."))
    lifetime_value = models.DecimalField(_("lifetime value"), max_digits=14, decimal_places=2, null=True,
                                         blank=True, help_text=_("Predicted customer lifetime value."))

    SEARCH_FIELDS = ("full_name", "alternate_name", "email", "phone", "account__name", "external_id")

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["full_name", "id"]
        indexes = [
            models.Index(fields=["full_name", "id"], name="contact_name_id"),
            models.Index(fields=["owner", "full_name", "id"], name="contact_owner_name"),
            # A rep's own contacts by last change (the list's other sort) without sorting them all.
            models.Index(fields=["owner", "updated_at", "id"], name="contact_owner_updated"),
            models.Index(fields=["team", "full_name", "id"], name="contact_team_name"),
            models.Index(fields=["territory", "full_name", "id"], name="contact_territory_name"),
            models.Index(fields=["lifecycle_stage", "full_name", "id"], name="contact_stage_name"),
            models.Index(fields=["account", "full_name"], name="contact_account_name"),
        ]

    def __str__(self) -> str:
        return self.full_name


class PhoneKind(models.TextChoices):
    MOBILE = "mobile", _("Mobile")
    WORK = "work", _("Work")
    HOME = "home", pgettext_lazy("kind of phone or address", "Home")  # not the home page
    FAX = "fax", _("Fax")
    OTHER = "other", _("Other")


class ContactPhone(models.Model):
    """Every number a contact can be reached at, in E.164, for caller lookup."""

    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                related_name="phones", help_text="")
    number = models.CharField(pgettext_lazy("phone", "number"), max_length=20, db_index=True,
                              help_text=_("E.164, e.g. +8613812345678."))
    kind = models.CharField(_("kind"), max_length=10, choices=PhoneKind.choices, default=PhoneKind.MOBILE,
                            help_text="")
    is_primary = models.BooleanField(_("primary"), default=False, help_text="")

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        constraints = [models.UniqueConstraint(fields=["contact", "number"], name="contact_phone_unique")]

    def __str__(self) -> str:
        return self.number


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                related_name="emails", help_text="")
    email = models.EmailField(_("email"), db_index=True, help_text=_("Lower-case address."))
    kind = models.CharField(_("kind"), max_length=10, default="work", help_text=_("Work, personal…"))
    is_primary = models.BooleanField(_("primary"), default=False, help_text="")

    class Meta:
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")
        constraints = [models.UniqueConstraint(fields=["contact", "email"], name="contact_email_unique")]

    def __str__(self) -> str:
        return self.email


class Address(models.Model):
    class Kind(models.TextChoices):
        BILLING = "billing", _("Billing")
        SHIPPING = "shipping", _("Shipping")
        HOME = "home", pgettext_lazy("kind of phone or address", "Home")
        WORK = "work", _("Work")
        OTHER = "other", _("Other")

    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="addresses", help_text="")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="addresses", help_text="")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.WORK, help_text="")
    country = models.CharField(_("country"), max_length=2, default="CN", help_text=_("ISO 3166 code."))
    province = models.CharField(_("province / state"), max_length=80, blank=True, help_text="")
    city = models.CharField(_("city"), max_length=80, blank=True, help_text="")
    district = models.CharField(_("district"), max_length=80, blank=True, help_text="")
    street = models.CharField(_("street"), max_length=200, blank=True, help_text=_("Street and number."))
    postcode = models.CharField(_("postcode"), max_length=12, blank=True, db_index=True, help_text="")
    is_primary = models.BooleanField(_("primary"), default=False, help_text="")

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self) -> str:
        if self.country == "CN":  # Chinese addresses run from the largest unit to the smallest
            return f"{self.province}{self.city}{self.district}{self.street}"
        return ", ".join(part for part in (self.street, self.city, self.province, self.postcode) if part)


class ConsentRecord(models.Model):
    """Append-only history of consent given or withdrawn, for privacy requests."""

    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE,
                                related_name="consent_history", help_text="")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, help_text="")
    granted = models.BooleanField(_("granted"), help_text=_("True when given, false when withdrawn."))
    source = models.CharField(_("source"), max_length=120, blank=True, help_text=_("Form, import, call…"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, help_text="")
    recorded_by = models.ForeignKey(User, verbose_name=_("recorded by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+", help_text="")

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel} {self.granted}"


# ======================================================================================
# Audit log
# ======================================================================================
class AuditAction(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    EXPORT = "export", _("Export")
    IMPORT = "import", _("Import")
    LOGIN = "login", _("Login")
    LOGIN_FAILED = "login_failed", _("Failed login")
    LOGOUT = "logout", _("Logout")


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: D401 - the log is append-only
        raise PermissionError("The audit log is append-only.")

    def delete(self):
        raise PermissionError("The audit log is append-only.")


class AuditLog(models.Model):
    """Append-only: the model refuses updates and deletes, and database triggers do too."""

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True, help_text=_("When it happened."))
    actor = models.ForeignKey(User, verbose_name=_("actor"), null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+", help_text=_("Who did it."))
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices, help_text="")
    object_type = models.CharField(_("object type"), max_length=60, blank=True, help_text=_("E.g. contact."))
    object_id = models.CharField(_("object ID"), max_length=64, blank=True, help_text="")
    object_repr = models.CharField(_("object"), max_length=200, blank=True, help_text=_("Name at the time."))
    changes = models.JSONField(_("changes"), default=dict, blank=True, help_text=_("Field: [old, new]."))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True, help_text="")

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "at"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")


# ======================================================================================
# Imports (resumable runs of guanxi.core.importing)
# ======================================================================================
class ImportRunState(models.TextChoices):
    PENDING = "pending", _("Waiting to start")
    CHECKED = "checked", _("Checked (dry run)")
    INVALID = "invalid", _("Refused: the file has errors")
    RUNNING = "running", _("Importing")
    INTERRUPTED = "interrupted", _("Interrupted; can be resumed")
    SUCCEEDED = "succeeded", _("Imported")


class ImportRun(models.Model):
    """One import of one file: what was asked, how far it got, what it found.

    ``rows_done`` is the checkpoint: it is written in the same transaction as the rows it
    counts, so after a crash the run resumes exactly after the last committed chunk.
    ``file_sha256`` ties the checkpoint to the file's content: a changed file starts over.
    """

    # --- fields ---
    object_type = models.CharField(_("object type"), max_length=20, help_text=_("contact or account."))
    file_name = models.CharField(_("file name"), max_length=255, help_text=_("Name of the file as given."))
    stored_path = models.CharField(_("stored file"), max_length=500, blank=True,
                                   help_text=_("Where an uploaded file is kept until the import finishes."))
    file_sha256 = models.CharField(_("file fingerprint"), max_length=64, db_index=True,
                                   help_text=_("SHA-256 of the file's bytes."))
    file_size = models.BigIntegerField(_("file size"), default=0, help_text=_("Bytes."))
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True,
                               help_text=_("Column header → field, as used for this run."))
    options = models.JSONField(_("options"), default=dict, blank=True,
                               help_text=_("Encoding, sheet, skip-invalid and the like."))
    state = models.CharField(_("state"), max_length=20, choices=ImportRunState.choices,
                             default=ImportRunState.PENDING, db_index=True, help_text="")
    actor = models.ForeignKey(User, verbose_name=_("started by"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text=_("User the import acts as."))
    job_id = models.PositiveIntegerField(_("job"), null=True, blank=True,
                                         help_text=_("Background job running the import, if any."))
    total_rows = models.PositiveIntegerField(_("rows in file"), default=0, help_text=_("Data rows, header excluded."))
    rows_done = models.PositiveIntegerField(_("rows committed"), default=0,
                                            help_text=_("Data rows up to here are committed (the checkpoint)."))
    created_count = models.PositiveIntegerField(_("created"), default=0, help_text=_("Records created."))
    updated_count = models.PositiveIntegerField(_("updated"), default=0, help_text=_("Records updated."))
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0,
                                                  help_text=_("Rows that matched a record and changed nothing."))
    error_count = models.PositiveIntegerField(_("rows with errors"), default=0, help_text=_("Rows refused."))
    issues = models.JSONField(_("issues"), default=list, blank=True,
                              help_text=_("The first problems found: file, row, column, message."))
    message = models.CharField(_("message"), max_length=500, blank=True, help_text=_("Latest status line."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, help_text="")

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.object_type}, {self.state})"
