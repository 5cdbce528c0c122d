"""Web forms of the core pages.

A form here renders fields and turns what the browser sent into the plain ``data`` dict
the services take. The services do the real validation — one set of rules for the web
UI, the API and imports — and ``ServiceForm.apply_service_errors`` puts their messages
next to the fields they belong to (``owner_id`` → the owner select, ``custom_data.size``
→ the custom field ``size``, and so on).
"""

from __future__ import annotations

import re
from html import escape

from django import forms
from django.conf import settings
from django.urls import reverse_lazy
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from guanxi.core import selectors
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import (
    Account, AuditAction, Contact, CustomField, CustomFieldType, LifecycleStage, User, ValueTier,
)
from guanxi.core.templatetags.guanxi_format import custom_field_label

# Service error keys that a form shows under another field name.
SERVICE_FIELD_NAMES = {"owner_id": "owner", "territory_id": "territory", "account_id": "account",
                       "parent_id": "parent"}
CUSTOM_PREFIX = "cf_"
_LIST_SEPARATORS = re.compile(r"[,，、;；\n]+")
_RECORD_REFERENCE = re.compile(r"#(\d+)\s*$")
YES, NO = "yes", "no"


def split_list(text: str | None) -> list[str]:
    """``"vip, 重点客户，golf"`` → ``["vip", "重点客户", "golf"]`` (Chinese commas too, no repeats)."""
    seen: dict[str, None] = {}
    for part in _LIST_SEPARATORS.split(text or ""):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def record_reference(record) -> str:
    """How a chosen account is written in a suggestion box: ``Name · #id``."""
    return f"{record} · #{record.pk}" if record is not None else ""


def model_field(model, name: str, **overrides) -> forms.Field:
    """The form field Django derives from a model field: translated label, help text, choices."""
    return model._meta.get_field(name).formfield(**overrides)


def text_input(input_type: str = "text", **attrs) -> forms.TextInput:
    widget = forms.TextInput(attrs=attrs)
    widget.input_type = input_type
    return widget


def date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# ======================================================================================
# Shared behaviour
# ======================================================================================
class ServiceForm(forms.Form):
    """A form whose cleaned data goes to a service, which may refuse it field by field."""

    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def apply_service_errors(self, error: ValidationError) -> None:
        by_key = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
        for key, messages in by_key.items():
            name = self.form_field_for(key)
            for message in messages:
                self.add_error(name, message)

    def form_field_for(self, key: str) -> str | None:
        if key.startswith("custom_data."):
            name = CUSTOM_PREFIX + key.split(".", 1)[1]
        elif key.startswith("phones."):
            name = "phone"
        elif key.startswith("emails."):
            name = "email"
        elif key.startswith("account_team."):
            name = "account_team"
        else:
            name = SERVICE_FIELD_NAMES.get(key, key)
        return name if name in self.fields else None

    def grouped_fields(self) -> list[tuple[str, list]]:
        """Visible fields by section, for a form long enough to need headings."""
        groups = [(title, [self[name] for name in names if name in self.fields]) for title, names in self.sections]
        custom = [self[name] for name in self.fields if name.startswith(CUSTOM_PREFIX)]
        if custom:
            groups.append((_("Custom fields"), custom))
        return [(title, fields) for title, fields in groups if fields]


class CustomFieldsMixin:
    """Adds the admin-defined custom fields of ``target`` as typed inputs named ``cf_<key>``."""

    def add_custom_fields(self, definitions: list[CustomField], stored: dict, *, for_filter: bool = False) -> None:
        self.custom_definitions = definitions
        for definition in definitions:
            name = CUSTOM_PREFIX + definition.key
            self.fields[name] = custom_form_field(definition, for_filter=for_filter)
            if definition.key in stored:
                value = stored[definition.key]
                if definition.field_type == CustomFieldType.BOOLEAN:
                    value = YES if value else NO
                self.initial[name] = value

    def custom_data(self) -> dict:
        data = {}
        for definition in self.custom_definitions:
            value = self.cleaned_data.get(CUSTOM_PREFIX + definition.key)
            data[definition.key] = None if value in ("", None) else value
        return data


def custom_form_field(definition: CustomField, *, for_filter: bool = False) -> forms.Field:
    common = {"label": custom_field_label(definition), "required": definition.required and not for_filter}
    kind = definition.field_type
    if kind == CustomFieldType.BOOLEAN or (for_filter and kind == CustomFieldType.CHOICE):
        choices = ([("", "—"), (YES, _("Yes")), (NO, _("No"))] if kind == CustomFieldType.BOOLEAN
                   else [("", "—")] + [(choice, choice) for choice in definition.choices])
        return forms.ChoiceField(choices=choices, widget=QuickSelect if for_filter else None, **common)
    if for_filter:  # a filter value is checked by the selector, typed as the field
        return forms.CharField(max_length=255, widget=QuickTextInput, **common)
    if kind == CustomFieldType.INTEGER:
        return forms.IntegerField(**common)
    if kind == CustomFieldType.DECIMAL:
        return forms.DecimalField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=date_input(), **common)
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—")] + [(choice, choice) for choice in definition.choices], **common)
    return forms.CharField(max_length=definition.max_length, **common)


def owner_choices(actor: User) -> list[tuple]:
    try:
        users = selectors.user_choices(actor)
    except PermissionDenied:
        users = [(actor.pk, str(actor))]
    return [("", "—"), *users]


def territory_choices() -> list[tuple]:
    return [("", "—"), *selectors.territory_choices()]


def _reference_field(label, help_text) -> forms.CharField:
    """An account box: a text input whose suggestions htmx refreshes as the user types."""
    return forms.CharField(label=label, required=False, max_length=260, help_text=help_text,
                           widget=forms.TextInput(attrs={
                               "list": "account-suggestions", "autocomplete": "off",
                               "hx-get": reverse_lazy("core:account_suggestions"),
                               "hx-trigger": "input changed delay:250ms", "hx-target": "#account-suggestions",
                               "hx-swap": "innerHTML"}))


def resolve_account_reference(actor: User, text: str) -> int | None:
    """Read what was typed into an account box: ``Name · #12``, ``12`` or an exact name."""
    text = (text or "").strip()
    if not text:
        return None
    match = _RECORD_REFERENCE.search(text) or re.fullmatch(r"(\d+)", text)
    if match:
        return int(match.group(1))
    try:
        found = list(selectors.visible_accounts(actor).filter(name=text).values_list("id", flat=True)[:2])
    except PermissionDenied:
        found = []
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValidationError(_("No account is named “%(name)s”. Pick one from the suggestions."),
                              params={"name": text})
    raise ValidationError(_("Several accounts are named “%(name)s”. Pick one from the suggestions."),
                          params={"name": text})


# ======================================================================================
# Contacts and accounts
# ======================================================================================
CONTACT_PLAIN_FIELDS = (
    "family_name", "given_name", "full_name", "alternate_name", "job_title", "email", "phone", "external_id",
    "lifecycle_stage", "value_tier", "relationship_stage", "industry", "preferred_channel", "preferred_language",
    "consent_email", "consent_sms", "consent_phone", "consent_mail", "do_not_contact", "birth_date", "gender",
    "income_band", "occupation", "education", "marital_status", "household_size",
)


class ContactForm(CustomFieldsMixin, ServiceForm):
    family_name = model_field(Contact, "family_name")
    given_name = model_field(Contact, "given_name")
    full_name = model_field(Contact, "full_name", required=False,
                            help_text=_("Leave empty to build it from family and given name."))
    alternate_name = model_field(Contact, "alternate_name")
    job_title = model_field(Contact, "job_title")
    account = _reference_field(_("Account"), _("Type to search; pick a suggestion."))
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40,
                            help_text=_("Any format, e.g. 138 1234 5678 or +86 138-1234-5678."),
                            widget=text_input("tel", autocomplete="off"))
    email = forms.CharField(label=_("Email"), required=False, max_length=254, widget=forms.EmailInput())
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500, help_text=_("Separate with commas."))
    lifecycle_stage = model_field(Contact, "lifecycle_stage")
    value_tier = model_field(Contact, "value_tier")
    relationship_stage = model_field(Contact, "relationship_stage")
    industry = model_field(Contact, "industry")
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, empty_value=None)
    territory = forms.TypedChoiceField(label=_("Territory"), coerce=int, empty_value=None, required=False)
    external_id = model_field(Contact, "external_id")
    preferred_channel = model_field(Contact, "preferred_channel")
    preferred_language = model_field(Contact, "preferred_language")
    consent_email = model_field(Contact, "consent_email")
    consent_sms = model_field(Contact, "consent_sms")
    consent_phone = model_field(Contact, "consent_phone")
    consent_mail = model_field(Contact, "consent_mail")
    do_not_contact = model_field(Contact, "do_not_contact")
    birth_date = model_field(Contact, "birth_date", widget=date_input())
    gender = model_field(Contact, "gender")
    income_band = model_field(Contact, "income_band")
    occupation = model_field(Contact, "occupation")
    education = model_field(Contact, "education")
    marital_status = model_field(Contact, "marital_status")
    household_size = model_field(Contact, "household_size")
    interests = forms.CharField(label=_("Interests"), required=False, max_length=500,
                                help_text=_("Separate with commas."))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    sections = (
        (_("Person"), ("family_name", "given_name", "full_name", "alternate_name", "job_title", "account", "phone",
                       "email", "tags")),
        (_("Relationship"), ("lifecycle_stage", "value_tier", "relationship_stage", "industry", "owner", "territory",
                             "external_id")),
        (_("Consent and preferences"), ("preferred_channel", "preferred_language", "consent_email", "consent_sms",
                                        "consent_phone", "consent_mail", "do_not_contact")),
        (_("Demographics"), ("birth_date", "gender", "income_band", "occupation", "education", "marital_status",
                             "household_size", "interests")),
    )

    def __init__(self, *args, actor: User, contact: Contact | None = None, account: Account | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.actor, self.contact = actor, contact
        self.fields["owner"].choices = owner_choices(actor)
        self.fields["owner"].required = contact is not None  # a new contact without one is the actor's
        self.fields["territory"].choices = territory_choices()
        stored_custom = {}
        if contact is not None:
            self.initial.update({name: getattr(contact, name) for name in CONTACT_PLAIN_FIELDS})
            self.initial.update({
                "account": record_reference(contact.account) if contact.account_id else "",
                "owner": contact.owner_id, "territory": contact.territory_id, "version": contact.version,
                "tags": ", ".join(tag.name for tag in contact.tags.all()),
                "interests": ", ".join(str(item) for item in contact.interests or []),
                "phone": contact.phone, "email": contact.email, "external_id": contact.external_id or "",
            })
            stored_custom = contact.custom_data or {}
        else:
            self.initial.setdefault("owner", actor.pk)
            if account is not None:
                self.initial["account"] = record_reference(account)
        self.add_custom_fields(selectors.custom_fields_for("contact"), stored_custom)

    def clean_account(self):
        return resolve_account_reference(self.actor, self.cleaned_data.get("account"))

    def to_service_data(self) -> dict:
        cleaned = self.cleaned_data
        data = {name: cleaned.get(name) for name in CONTACT_PLAIN_FIELDS}
        data["external_id"] = data["external_id"] or None
        data["account_id"] = cleaned.get("account")
        data["owner_id"] = cleaned.get("owner")
        if cleaned.get("territory") is not None or self.contact is not None:
            data["territory_id"] = cleaned.get("territory")  # left empty on create: the owner's territory
        data["tags"] = split_list(cleaned.get("tags"))
        data["interests"] = split_list(cleaned.get("interests"))
        data["custom_data"] = self.custom_data()
        if not data["full_name"]:
            data.pop("full_name")  # the service builds it from the family and given name
        return data


ACCOUNT_PLAIN_FIELDS = (
    "name", "kind", "website", "phone", "email", "annual_revenue", "currency", "employees", "is_key_account",
    "description", "lifecycle_stage", "value_tier", "relationship_stage", "industry", "external_id",
)


class AccountForm(CustomFieldsMixin, ServiceForm):
    name = model_field(Account, "name")
    kind = model_field(Account, "kind")
    parent = _reference_field(_("Parent account"), _("Group or head office. Type to search; pick a suggestion."))
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40,
                            help_text=_("Any format, e.g. 020 8888 6666 or +86 20 8888 6666."),
                            widget=text_input("tel", autocomplete="off"))
    email = forms.CharField(label=_("Email"), required=False, max_length=254, widget=forms.EmailInput())
    website = forms.CharField(label=_("Website"), required=False, max_length=200, widget=forms.URLInput())
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500, help_text=_("Separate with commas."))
    lifecycle_stage = model_field(Account, "lifecycle_stage")
    value_tier = model_field(Account, "value_tier")
    relationship_stage = model_field(Account, "relationship_stage")
    industry = model_field(Account, "industry")
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, empty_value=None)
    territory = forms.TypedChoiceField(label=_("Territory"), coerce=int, empty_value=None, required=False)
    is_key_account = model_field(Account, "is_key_account")
    account_team = forms.TypedMultipleChoiceField(label=_("Account team"), coerce=int, required=False,
                                                  help_text=_("Users serving this key account."))
    annual_revenue = model_field(Account, "annual_revenue")
    currency = model_field(Account, "currency")
    employees = model_field(Account, "employees")
    external_id = model_field(Account, "external_id")
    description = model_field(Account, "description", widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    sections = (
        (_("Company or household"), ("name", "kind", "parent", "phone", "email", "website", "tags", "description")),
        (_("Relationship"), ("lifecycle_stage", "value_tier", "relationship_stage", "industry", "owner", "territory",
                             "is_key_account", "account_team", "external_id")),
        (_("Figures"), ("annual_revenue", "currency", "employees")),
    )

    def __init__(self, *args, actor: User, account: Account | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor, self.account = actor, account
        users = owner_choices(actor)
        self.fields["owner"].required = account is not None  # a new account without one is the actor's
        self.fields["owner"].choices = users
        self.fields["account_team"].choices = users[1:]
        self.fields["territory"].choices = territory_choices()
        stored_custom = {}
        if account is not None:
            self.initial.update({name: getattr(account, name) for name in ACCOUNT_PLAIN_FIELDS})
            self.initial.update({
                "parent": record_reference(account.parent) if account.parent_id else "",
                "owner": account.owner_id, "territory": account.territory_id, "version": account.version,
                "tags": ", ".join(tag.name for tag in account.tags.all()),
                "account_team": [member.user_id for member in account.team_members.all()],
                "external_id": account.external_id or "",
            })
            stored_custom = account.custom_data or {}
        else:
            self.initial.setdefault("owner", actor.pk)
        self.add_custom_fields(selectors.custom_fields_for("account"), stored_custom)

    def clean_parent(self):
        return resolve_account_reference(self.actor, self.cleaned_data.get("parent"))

    def to_service_data(self) -> dict:
        cleaned = self.cleaned_data
        data = {name: cleaned.get(name) for name in ACCOUNT_PLAIN_FIELDS}
        data["external_id"] = data["external_id"] or None
        data["currency"] = (data["currency"] or "").upper()
        data["parent_id"] = cleaned.get("parent")
        data["owner_id"] = cleaned.get("owner")
        if cleaned.get("territory") is not None or self.account is not None:
            data["territory_id"] = cleaned.get("territory")
        data["tags"] = split_list(cleaned.get("tags"))
        team = cleaned.get("account_team") or []
        if self.account is None or sorted(team) != sorted(self.initial.get("account_team") or []):
            data["account_team"] = team  # untouched: keep the members' roles in the team
        data["custom_data"] = self.custom_data()
        return data


# ======================================================================================
# List filters
# ======================================================================================
def _text(value) -> str:
    """``value`` as a template writes ``{{ value }}``: escaped, unless marked safe already."""
    return str(value.__html__()) if hasattr(value, "__html__") else escape(str(value))


def _html_attributes(attributes: dict) -> str:
    """Attributes as Django's ``attrs.html`` writes them: in order, ``True`` as a bare name,
    ``False`` left out, everything else as text, escaped."""
    return "".join(f" {_text(name)}" if value is True else f' {_text(name)}="{_text(value)}"'
                   for name, value in attributes.items() if value is not False)


class QuickInput:
    """An ``<input>`` with the same markup as Django's ``input.html``, written out in
    Python like ``QuickSelect``: through the templates each input of a filter bar cost
    0.3–0.4 ms (three includes), a fifth of the bar."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        shown = "" if widget["value"] is None else f' value="{_text(widget["value"])}"'
        return mark_safe(f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}'  # noqa: S308
                         f'{_html_attributes(widget["attrs"])}>')


class QuickTextInput(QuickInput, forms.TextInput):
    pass


class QuickHiddenInput(QuickInput, forms.HiddenInput):
    pass


class QuickSelect(forms.Select):
    """A ``<select>`` with the same markup as Django's, written out in Python.

    Django renders every option through two template includes, about 60 µs each; the
    owner filter on every list page offers every active user, so with a few hundred staff
    the options alone would take a large part of the page's 50 ms (SPEC §1). Values and
    labels are escaped with ``html.escape``, as Django's ``escape`` does.
    """

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{_text(widget["name"])}"{_html_attributes(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'<optgroup label="{_text(group_name)}">')
            parts.extend(f'<option value="{_text(option["value"])}"{_html_attributes(option["attrs"])}>'
                         f'{_text(option["label"])}</option>' for option in options)
            if group_name:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every value escaped above


class RecordFilterForm(CustomFieldsMixin, forms.Form):
    """The filter bar over a list page; every field is optional."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200,
                        widget=QuickTextInput(attrs={"type": "search",
                                                     "placeholder": _("Name, company, email or phone")}))
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), required=False, widget=QuickSelect,
                                        choices=[("", _("Any"))] + list(LifecycleStage.choices))
    value_tier = forms.ChoiceField(label=_("Value tier"), required=False, widget=QuickSelect,
                                   choices=[("", _("Any"))] + list(ValueTier.choices))
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, empty_value=None, required=False,
                                   widget=QuickSelect)
    territory = forms.TypedChoiceField(label=_("Territory"), coerce=int, empty_value=None, required=False,
                                       widget=QuickSelect)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=60, widget=QuickTextInput)

    target = ""

    def __init__(self, *args, actor: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("Anyone"))] + owner_choices(actor)[1:]
        self.fields["territory"].choices = [("", _("Any"))] + territory_choices()[1:]
        self.add_custom_fields(selectors.custom_fields_for(self.target), {}, for_filter=True)

    def custom_filters(self, raw_query) -> tuple[tuple[str, str], ...]:
        """Every ``cf_<key>=value`` of the query string, known field or not: the selector
        refuses unknown keys instead of silently showing everything."""
        pairs = []
        for name in raw_query:
            if name.startswith(CUSTOM_PREFIX) and raw_query.get(name, "") != "":
                pairs.append((name[len(CUSTOM_PREFIX):], raw_query.get(name)))
        return tuple(sorted(pairs))

    def filter_fields(self) -> list:
        return [self[name] for name in self.fields if name != "q"]


class ContactFilterForm(RecordFilterForm):
    target = "contact"
    account = forms.IntegerField(widget=QuickHiddenInput, required=False)

    def to_filters(self, raw_query) -> selectors.ContactFilters:
        cleaned = self.cleaned_data
        return selectors.ContactFilters(
            query=cleaned.get("q") or "", lifecycle_stage=cleaned.get("lifecycle_stage") or "",
            value_tier=cleaned.get("value_tier") or "", owner_id=cleaned.get("owner"),
            territory_id=cleaned.get("territory"), account_id=cleaned.get("account"), tag=cleaned.get("tag") or "",
            custom=self.custom_filters(raw_query))


class AccountFilterForm(RecordFilterForm):
    target = "account"
    industry = forms.CharField(label=_("Industry"), required=False, max_length=80)
    key_account = forms.ChoiceField(label=_("Key account"), required=False,
                                    choices=[("", _("Any")), (YES, _("Yes")), (NO, _("No"))])

    def to_filters(self, raw_query) -> selectors.AccountFilters:
        cleaned = self.cleaned_data
        key_account = {YES: True, NO: False}.get(cleaned.get("key_account") or "")
        return selectors.AccountFilters(
            query=cleaned.get("q") or "", lifecycle_stage=cleaned.get("lifecycle_stage") or "",
            value_tier=cleaned.get("value_tier") or "", industry=cleaned.get("industry") or "",
            owner_id=cleaned.get("owner"), territory_id=cleaned.get("territory"), is_key_account=key_account,
            tag=cleaned.get("tag") or "", custom=self.custom_filters(raw_query))


# ======================================================================================
# Administration and profile
# ======================================================================================
class CustomFieldForm(ServiceForm):
    target = model_field(CustomField, "target")
    key = model_field(CustomField, "key")
    label = model_field(CustomField, "label")
    label_zh = model_field(CustomField, "label_zh")
    field_type = model_field(CustomField, "field_type")
    choices = forms.CharField(label=_("Choices"), required=False, max_length=2000,
                              help_text=_("For a choice field: the allowed values, separated with commas."))
    required = model_field(CustomField, "required")
    max_length = model_field(CustomField, "max_length")
    position = model_field(CustomField, "position")

    def to_service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["choices"] = split_list(data.get("choices"))
        return data


class AuditFilterForm(forms.Form):
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=60,
                                  help_text=_("E.g. contact, account, user."))
    object_id = forms.CharField(label=_("Object ID"), required=False, max_length=64)
    action = forms.ChoiceField(label=_("Action"), required=False, choices=[("", _("Any"))] + list(AuditAction.choices))


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language of the user interface"), choices=settings.LANGUAGES)


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=80,
                           help_text=_("What the token is for, e.g. “billing sync”."))
