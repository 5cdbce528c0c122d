"""Web forms of the sales pages. Each turns what the browser sent into the ``data`` dict a
service takes; the services validate (one set of rules for web, API and imports) and
``ServiceForm.apply_service_errors`` puts their messages next to the fields."""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.forms import ServiceForm, resolve_account_reference
from guanxi.core.models import Channel, Role, User
from guanxi.sales.models import (
    ActivityKind, ActivityPriority, CloseReason, Currency, DisqualifyReason, ExpenseCategory, KnowledgeKind,
    LeadSource, LeadStatus, OrderStatus, Product, QuotaPeriod, Stage,
)


def date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def user_choices(empty: str = "—") -> list[tuple]:
    return [("", empty)] + [(user.pk, str(user)) for user in User.objects.filter(is_active=True).exclude(
        role__in=[Role.CUSTOMER, Role.PARTNER]).order_by("username")]


def account_box(label, help_text="") -> forms.CharField:
    """An account box with suggestions as the user types (core's suggestion endpoint)."""
    return forms.CharField(label=label, required=False, max_length=260, help_text=help_text,
                           widget=forms.TextInput(attrs={
                               "list": "account-suggestions", "autocomplete": "off",
                               "hx-get": reverse_lazy("core:account_suggestions"),
                               "hx-trigger": "input changed delay:250ms", "hx-target": "#account-suggestions",
                               "hx-swap": "innerHTML"}))


class SalesForm(ServiceForm):
    """Service errors on ``stage_id`` show under ``stage``, and so on."""

    def form_field_for(self, key: str) -> str | None:
        name = super().form_field_for(key)
        if name is None and key.endswith("_id") and key[:-3] in self.fields:
            return key[:-3]
        return name

    def cleaned_without_blanks(self, names) -> dict:
        return {name: self.cleaned_data[name] for name in names
                if name in self.cleaned_data and self.cleaned_data[name] not in (None, "")}


# ======================================================================================
# Leads
# ======================================================================================
class LeadForm(SalesForm):
    family_name = forms.CharField(label=_("Family name"), max_length=80, required=False)
    given_name = forms.CharField(label=_("Given name"), max_length=80, required=False)
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False,
                                help_text=_("Filled from family and given name when empty."))
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    job_title = forms.CharField(label=_("Job title"), max_length=120, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    industry = forms.CharField(label=_("Industry"), max_length=80, required=False)
    province = forms.CharField(label=_("Province / state"), max_length=80, required=False)
    city = forms.CharField(label=_("City"), max_length=80, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=12, required=False)
    source = forms.ChoiceField(label=_("Source"), choices=LeadSource.choices, initial=LeadSource.MANUAL)
    campaign_name = forms.CharField(label=_("Campaign"), max_length=200, required=False)
    estimated_amount = forms.DecimalField(label=_("Estimated amount"), required=False, min_value=0,
                                          decimal_places=2, max_digits=16)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial=Currency.CNY)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None,
                                   help_text=_("Empty: you. Choose “assign by the rules” to let territory and "
                                               "round-robin decide."))
    auto_assign = forms.BooleanField(label=_("Assign by the rules"), required=False)

    FIELDS = ("family_name", "given_name", "full_name", "company", "job_title", "email", "phone", "industry",
              "province", "city", "postcode", "source", "campaign_name", "estimated_amount", "currency",
              "description")

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = user_choices(str(_("Me")))
        if editing:
            del self.fields["auto_assign"]

    def to_service_data(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in self.FIELDS}
        data = {key: ("" if value is None and key not in ("estimated_amount",) else value)
                for key, value in data.items()}
        if self.cleaned_data.get("owner"):
            data["owner_id"] = self.cleaned_data["owner"]
        return data


class DisqualifyForm(SalesForm):
    reason = forms.ChoiceField(label=_("Reason"), choices=DisqualifyReason.choices)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class ConvertForm(SalesForm):
    account = forms.ChoiceField(label=_("Account"), required=False)
    contact = forms.ChoiceField(label=_("Contact"), required=False)
    create_opportunity = forms.BooleanField(label=_("Open an opportunity"), required=False, initial=True)
    opportunity_name = forms.CharField(label=_("Opportunity name"), max_length=200, required=False)
    amount = forms.DecimalField(label=_("Amount"), required=False, min_value=0, decimal_places=2, max_digits=16)
    close_date = forms.DateField(label=_("Expected close date"), required=False, widget=date_input())
    ignore_duplicates = forms.BooleanField(label=_("This is someone new: do not use the matches"), required=False)

    NEW = "new"

    def __init__(self, *args, matches=(), **kwargs):
        super().__init__(*args, **kwargs)
        accounts = [(str(match.id), f"{match.name} · #{match.id}") for match in matches
                    if match.kind == "account" and match.visible]
        contacts = [(str(match.id), f"{match.name} · #{match.id}") for match in matches
                    if match.kind == "contact" and match.visible]
        self.fields["account"].choices = [(self.NEW, _("Create a new account from the company"))] + accounts
        self.fields["contact"].choices = [(self.NEW, _("Create a new contact"))] + contacts
        if not (accounts or contacts):
            del self.fields["ignore_duplicates"]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        opportunity = {"name": data.get("opportunity_name"), "amount": data.get("amount"),
                       "close_date": data.get("close_date")}
        return {"account_id": int(data["account"]) if data.get("account") not in (None, "", self.NEW) else None,
                "contact_id": int(data["contact"]) if data.get("contact") not in (None, "", self.NEW) else None,
                "create_opportunity": bool(data.get("create_opportunity")),
                "opportunity": {key: value for key, value in opportunity.items() if value not in (None, "")},
                "ignore_duplicates": bool(data.get("ignore_duplicates"))}


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=_("Search leads"), required=False,
                        widget=forms.TextInput(attrs={"placeholder": _("Name, company, email, phone or campaign"),
                                                      "type": "search"}))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Open leads"))]
                               + [("all", _("All"))] + list(LeadStatus.choices))
    source = forms.ChoiceField(label=_("Source"), required=False, choices=[("", "—")] + list(LeadSource.choices))
    mine = forms.BooleanField(label=_("Only mine"), required=False)

    @property
    def filter_fields(self):
        return [self["status"], self["source"], self["mine"]]


class WebToLeadForm(forms.Form):
    """The public form. ``website`` is a honeypot people never see; ``token`` is a signed
    time stamp from when the form was shown."""

    family_name = forms.CharField(label=_("Family name"), max_length=80)
    given_name = forms.CharField(label=_("Given name"), max_length=80, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    city = forms.CharField(label=_("City"), max_length=80, required=False)
    message = forms.CharField(label=_("How can we help?"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 4}))
    website = forms.CharField(label=_("Leave this field empty"), required=False,
                              widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}))
    token = forms.CharField(widget=forms.HiddenInput, required=False)
    campaign = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)
    campaign_id = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("email") and not cleaned.get("phone") and "email" not in self.errors:
            raise ValidationError(_("Give an email address or a phone number, so we can answer."))
        return cleaned


# ======================================================================================
# Opportunities
# ======================================================================================
class OpportunityForm(SalesForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    account = account_box(_("Account"), _("Type to search; pick a suggestion."))
    contact = forms.TypedChoiceField(label=_("Contact"), required=False, coerce=int, empty_value=None)
    stage = forms.TypedChoiceField(label=_("Stage"), coerce=int, required=False, empty_value=None)
    amount = forms.DecimalField(label=_("Amount"), min_value=0, decimal_places=2, max_digits=16, required=False)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial=Currency.CNY)
    probability = forms.IntegerField(label=_("Probability (%)"), min_value=0, max_value=100, required=False,
                                     help_text=_("Empty: the stage's default."))
    close_date = forms.DateField(label=_("Close date"), widget=date_input())
    next_step = forms.CharField(label=_("Next step"), max_length=300, required=False)
    close_reason = forms.ChoiceField(label=_("Close reason"), required=False,
                                     choices=[("", "—")] + list(CloseReason.choices),
                                     help_text=_("Needed for a closed stage."))
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, actor=None, pipeline=None, contacts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        stages = Stage.objects.filter(pipeline=pipeline).order_by("position") if pipeline else Stage.objects.none()
        self.fields["stage"].choices = [(stage.pk, f"{stage.name} ({stage.probability} %)") for stage in stages]
        self.fields["contact"].choices = [("", "—")] + [(contact.pk, str(contact)) for contact in contacts]
        self.fields["owner"].choices = user_choices(str(_("Me")))

    def clean_account(self):
        return resolve_account_reference(self.actor, self.cleaned_data.get("account"))

    def to_service_data(self) -> dict:
        data = self.cleaned_data
        result = {"name": data["name"], "account_id": data.get("account"), "contact_id": data.get("contact"),
                  "currency": data["currency"], "close_date": data["close_date"], "next_step": data.get("next_step", ""),
                  "description": data.get("description", "")}
        if data.get("amount") is not None:
            result["amount"] = data["amount"]
        if data.get("stage"):
            result["stage_id"] = data["stage"]
        if data.get("probability") is not None:
            result["probability"] = data["probability"]
        if data.get("close_reason"):
            result["close_reason"] = data["close_reason"]
        if data.get("owner"):
            result["owner_id"] = data["owner"]
        return result


class MoveForm(SalesForm):
    stage = forms.TypedChoiceField(label=_("Move to stage"), coerce=int)
    close_reason = forms.ChoiceField(label=_("Close reason"), required=False,
                                     choices=[("", "—")] + list(CloseReason.choices))
    close_note = forms.CharField(label=_("Close note"), max_length=500, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, pipeline=None, **kwargs):
        super().__init__(*args, **kwargs)
        stages = pipeline.stages.order_by("position") if pipeline else []
        self.fields["stage"].choices = [(stage.pk, stage.name) for stage in stages]


# ======================================================================================
# Quotes, orders, contracts
# ======================================================================================
class QuoteHeaderForm(SalesForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    valid_until = forms.DateField(label=_("Valid until"), widget=date_input())
    discount_percent = forms.DecimalField(label=_("Quote discount (%)"), min_value=0, max_value=100,
                                          decimal_places=2, max_digits=5)
    tax_percent = forms.DecimalField(label=_("Tax rate (%)"), min_value=0, max_value=100, decimal_places=2,
                                     max_digits=5)
    language = forms.ChoiceField(label=_("Language"), choices=[("en", "English"), ("zh-hans", "简体中文")])
    terms = forms.CharField(label=_("Terms"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class QuoteLineForm(SalesForm):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int)
    quantity = forms.DecimalField(label=_("Quantity"), min_value=0.01, decimal_places=2, max_digits=12, initial=1)
    discount_percent = forms.DecimalField(label=_("Discount (%)"), min_value=0, max_value=100, decimal_places=2,
                                          max_digits=5, initial=0)
    options = forms.TypedMultipleChoiceField(label=_("Options"), coerce=int, required=False,
                                             widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, products=(), options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", _("Choose a product"))] + [
            (product.pk, f"{product.sku} · {product.name}") for product in products]
        self.fields["options"].choices = list(options)

    def to_service_data(self) -> dict:
        return {"product_id": self.cleaned_data["product"], "quantity": self.cleaned_data["quantity"],
                "discount_percent": self.cleaned_data["discount_percent"],
                "option_ids": self.cleaned_data.get("options") or []}

    def form_field_for(self, key: str) -> str | None:
        return {"option_ids": "options", "product_id": "product"}.get(key) or super().form_field_for(key)


class OrderStatusForm(SalesForm):
    status = forms.ChoiceField(label=_("New status"), choices=OrderStatus.choices)
    carrier = forms.CharField(label=_("Carrier"), max_length=80, required=False)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=80, required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class ContractForm(SalesForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    start_date = forms.DateField(label=_("Start date"), widget=date_input())
    end_date = forms.DateField(label=_("End date"), widget=date_input())
    value = forms.DecimalField(label=_("Value"), min_value=0, decimal_places=2, max_digits=16, required=False)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial=Currency.CNY)
    auto_renew = forms.BooleanField(label=_("Open a renewal opportunity before the end"), required=False,
                                    initial=True)
    renewal_notice_days = forms.IntegerField(label=_("Renewal notice (days)"), min_value=0, max_value=730,
                                             initial=60)
    terms = forms.CharField(label=_("Terms"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class SignForm(SalesForm):
    signed_by_name = forms.CharField(label=_("Signed by (customer)"), max_length=200)


# ======================================================================================
# Activities
# ======================================================================================
class ActivityForm(SalesForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=ActivityKind.choices)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    start_at = forms.DateTimeField(label=_("Starts / due"), widget=datetime_input())
    end_at = forms.DateTimeField(label=_("Ends"), required=False, widget=datetime_input())
    all_day = forms.BooleanField(label=_("All day"), required=False)
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False,
                                choices=[("", _("By kind"))] + list(Channel.choices))
    priority = forms.ChoiceField(label=_("Priority"), choices=ActivityPriority.choices,
                                 initial=ActivityPriority.NORMAL)
    is_callback = forms.BooleanField(label=_("Scheduled callback"), required=False)
    callback_phone = forms.CharField(label=_("Callback number"), max_length=40, required=False)
    reminder_minutes = forms.TypedChoiceField(
        label=_("Remind me"), coerce=int, required=False, empty_value=None,
        choices=[("", _("No reminder")), (0, _("At the time")), (5, _("5 minutes before")),
                 (15, _("15 minutes before")), (60, _("1 hour before")), (1440, _("1 day before"))])
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    account = forms.IntegerField(widget=forms.HiddenInput, required=False)
    contact = forms.IntegerField(widget=forms.HiddenInput, required=False)
    lead = forms.IntegerField(widget=forms.HiddenInput, required=False)
    opportunity = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = user_choices(str(_("Me")))

    def to_service_data(self) -> dict:
        data = self.cleaned_data
        result = {name: data.get(name) for name in ("kind", "subject", "start_at", "end_at", "location",
                                                    "priority", "description")}
        result["all_day"] = bool(data.get("all_day"))
        result["is_callback"] = bool(data.get("is_callback"))
        result["callback_phone"] = data.get("callback_phone") or ""
        result["location"] = result["location"] or ""
        result["description"] = result["description"] or ""
        if data.get("channel"):
            result["channel"] = data["channel"]
        if data.get("reminder_minutes") is not None and data.get("start_at"):
            result["reminder_at"] = data["start_at"] - datetime.timedelta(minutes=data["reminder_minutes"])
        else:
            result["reminder_at"] = None
        for name in ("account", "contact", "lead", "opportunity"):
            if data.get(name):
                result[f"{name}_id"] = data[name]
        if data.get("owner"):
            result["owner_id"] = data["owner"]
        return result


# ======================================================================================
# Team: territories, quotas, expenses, knowledge
# ======================================================================================
class ReassignForm(SalesForm):
    from_territory = forms.TypedChoiceField(label=_("From territory"), coerce=int, required=False, empty_value=None)
    from_owner = forms.TypedChoiceField(label=_("From owner"), coerce=int, required=False, empty_value=None)
    to_territory = forms.TypedChoiceField(label=_("To territory"), coerce=int, required=False, empty_value=None)
    to_owner = forms.TypedChoiceField(label=_("To owner"), coerce=int, required=False, empty_value=None)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    def __init__(self, *args, territories=(), **kwargs):
        super().__init__(*args, **kwargs)
        territory_choices = [("", "—")] + [(territory.pk, territory.name) for territory in territories]
        self.fields["from_territory"].choices = self.fields["to_territory"].choices = territory_choices
        self.fields["from_owner"].choices = self.fields["to_owner"].choices = user_choices()


class QuotaForm(SalesForm):
    user = forms.TypedChoiceField(label=_("Sales rep"), coerce=int)
    period = forms.ChoiceField(label=_("Period"), choices=QuotaPeriod.choices, initial=QuotaPeriod.QUARTER)
    period_start = forms.DateField(label=_("Period start"), widget=date_input())
    period_end = forms.DateField(label=_("Period end"), widget=date_input())
    amount = forms.DecimalField(label=_("Target"), min_value=0, decimal_places=2, max_digits=16)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial=Currency.CNY)

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [(user.pk, str(user)) for user in users]


class ExpenseForm(SalesForm):
    spent_on = forms.DateField(label=_("Date"), widget=date_input(), initial=timezone.localdate)
    category = forms.ChoiceField(label=_("Category"), choices=ExpenseCategory.choices)
    amount = forms.DecimalField(label=_("Amount"), min_value=0.01, decimal_places=2, max_digits=16)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial=Currency.CNY)
    description = forms.CharField(label=_("What for"), max_length=300)
    submit = forms.BooleanField(label=_("Submit for approval now"), required=False, initial=True)


class KnowledgePostForm(SalesForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=KnowledgeKind.choices)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 8}))
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))


class ProductForm(SalesForm):
    sku = forms.CharField(label=_("SKU"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=200)
    name_zh = forms.CharField(label=_("Chinese name"), max_length=200, required=False)
    family = forms.CharField(label=_("Product family"), max_length=80, required=False)
    unit = forms.CharField(label=_("Unit"), max_length=20, initial="unit")
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PriceForm(SalesForm):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int)
    unit_price = forms.DecimalField(label=_("Unit price"), min_value=0, decimal_places=2, max_digits=16)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [(product.pk, f"{product.sku} · {product.name}")
                                          for product in Product.objects.filter(is_active=True).order_by("sku")]
