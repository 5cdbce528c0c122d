"""Web forms of the service domain. They parse what a person typed; the services validate
it for real (the same rules as the API) and ``apply_service_errors`` shows their refusals
next to the fields."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from guanxi.core import selectors as core_selectors
from guanxi.core.errors import PermissionDenied
from guanxi.core.forms import ServiceForm, model_field
from guanxi.service.models import (
    ALLOWED_TRANSITIONS, ArticleStatus, Case, CaseCategory, CaseOrigin, CasePriority, CaseStatus, Complaint,
    ComplaintSeverity, ComplaintStatus, FieldVisit, KnowledgeArticleVersion, Language, VisitStatus,
)

_REFERENCE = re.compile(r"#(\d+)\s*$")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; cleans to a list (empty when none were chosen)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


def attachments_field() -> MultipleFileField:
    return MultipleFileField(label=_("Attachments"), required=False, help_text=_("Up to 10 files."))


def contact_box(label, help_text="") -> forms.CharField:
    """A contact box: a text input whose suggestions htmx refreshes as the user types."""
    return forms.CharField(label=label, required=False, max_length=260, help_text=help_text,
                           widget=forms.TextInput(attrs={
                               "list": "contact-suggestions", "autocomplete": "off",
                               "hx-get": reverse_lazy("service:contact_suggestions"),
                               "hx-trigger": "input changed delay:250ms", "hx-target": "#contact-suggestions",
                               "hx-swap": "innerHTML"}))


def resolve_contact_reference(actor, text: str) -> int | None:
    """``Name · #12``, ``12`` or an exact name → the contact's ID."""
    text = (text or "").strip()
    if not text:
        return None
    match = _REFERENCE.search(text) or re.fullmatch(r"(\d+)", text)
    if match:
        return int(match.group(1))
    try:
        found = list(core_selectors.visible_contacts(actor).filter(full_name=text).values_list("id", flat=True)[:2])
    except PermissionDenied:
        found = []
    if len(found) == 1:
        return found[0]
    raise ValidationError(_("Pick the contact from the suggestions."))


# ======================================================================================
# Cases
# ======================================================================================
class CaseFilterForm(forms.Form):
    q = forms.CharField(label=_("Search cases"), required=False, max_length=200, widget=forms.TextInput(attrs={
        "type": "search", "placeholder": _("Case number, subject, customer")}))
    # "open" stands for every status that still needs work (new, open, pending, escalated, reopened).
    status = forms.ChoiceField(label=_("Status"), required=False, initial="open", choices=[
        ("open", _("Open (needs work)")), ("", _("Any"))] + [
        choice for choice in CaseStatus.choices if choice[0] != CaseStatus.OPEN])
    priority = forms.ChoiceField(label=_("Priority"), required=False, choices=[("", _("Any"))] + list(
        CasePriority.choices))
    category = forms.ChoiceField(label=_("Category"), required=False, choices=[("", _("Any"))] + list(
        CaseCategory.choices))
    origin = forms.ChoiceField(label=_("Channel"), required=False, choices=[("", _("Any"))] + list(
        CaseOrigin.choices))
    queue = forms.TypedChoiceField(label=_("Queue"), required=False, coerce=int, empty_value=None)
    assigned = forms.ChoiceField(label=_("Assigned"), required=False, choices=[
        ("", _("Anyone")), ("mine", _("To me")), ("unassigned", _("Nobody (waiting)"))])
    triage = forms.BooleanField(label=_("Only unknown senders (triage)"), required=False)
    breached = forms.BooleanField(label=_("Only SLA breached"), required=False)
    sort = forms.ChoiceField(label=_("Order"), required=False, choices=[
        ("-created", _("Newest first")), ("created", _("Oldest first")), ("due", _("Due soonest")),
        ("priority", _("Highest priority")), ("-updated", _("Recently changed"))])

    filter_fields_names = ("status", "priority", "category", "origin", "queue", "assigned", "triage", "breached",
                           "sort")

    def __init__(self, *args, queues=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", _("Any"))] + [(queue.pk, queue.name) for queue in queues]

    @property
    def filter_fields(self):
        return [self[name] for name in self.filter_fields_names]


class CaseForm(ServiceForm):
    contact = contact_box(_("Contact"), _("Type a name, phone or email; pick a suggestion."))
    subject = model_field(Case, "subject")
    description = model_field(Case, "description", widget=forms.Textarea(attrs={"rows": 5}))
    category = model_field(Case, "category")
    priority = model_field(Case, "priority")
    origin = model_field(Case, "origin", label=_("Channel"))
    product = model_field(Case, "product")
    order_ref = model_field(Case, "order_ref")
    attachments = attachments_field()

    def __init__(self, *args, actor=None, contact=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if contact is not None and not self.is_bound:
            self.initial["contact"] = f"{contact.full_name} · #{contact.pk}"
        self.fields["subject"].widget.attrs.update({
            "hx-get": reverse_lazy("service:case_form_suggestions"), "hx-trigger": "input changed delay:400ms",
            "hx-target": "#article-suggestions", "hx-include": "[name=description]"})
        self.fields["description"].widget.attrs.update({
            "hx-get": reverse_lazy("service:case_form_suggestions"), "hx-trigger": "input changed delay:400ms",
            "hx-target": "#article-suggestions", "hx-include": "[name=subject]"})

    def clean_contact(self):
        return resolve_contact_reference(self.actor, self.cleaned_data.get("contact"))

    def form_field_for(self, key: str) -> str | None:
        if key in ("contact_id", "account_id"):
            return "contact"
        return super().form_field_for(key) if key in self.fields else None

    def to_service_data(self) -> dict:
        cleaned = self.cleaned_data
        data = {name: cleaned.get(name) for name in ("subject", "description", "category", "priority", "origin",
                                                      "product", "order_ref")}
        data["contact_id"] = cleaned.get("contact")
        return data


class CaseWebForm(ServiceForm):
    """The public form customers send a case with (no sign-in)."""

    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Your email"), help_text=_("We answer here; replies to our email join your case."))
    subject = forms.CharField(label=_("Subject"), max_length=200)
    category = forms.ChoiceField(label=_("What is it about?"), choices=CaseCategory.choices, initial="other")
    product = forms.CharField(label=_("Product or service"), max_length=200, required=False)
    order_ref = forms.CharField(label=_("Order number"), max_length=64, required=False)
    description = forms.CharField(label=_("Describe the problem"), widget=forms.Textarea(attrs={"rows": 6}))
    attachments = attachments_field()
    # Left empty by people; filled by form-spamming robots (hidden from people by CSS and aria-hidden).
    website = forms.CharField(required=False, label=_("Leave this empty"))


class ReplyForm(ServiceForm):
    body = forms.CharField(label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 5}))
    kind = forms.ChoiceField(label=_("Send as"), choices=[("reply", _("Reply to the customer")),
                                                          ("note", _("Internal note"))], initial="reply")
    new_status = forms.ChoiceField(label=_("Then set status"), required=False)
    attachments = attachments_field()

    def __init__(self, *args, case: Case | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = ALLOWED_TRANSITIONS.get(case.status, ()) if case is not None else ()
        self.fields["new_status"].choices = [("", _("(unchanged)"))] + [
            (status, CaseStatus(status).label) for status in allowed]
        if case is not None and CaseStatus.PENDING_CUSTOMER in allowed:
            self.fields["new_status"].help_text = _("Pending customer pauses the SLA clock until they answer.")


class StatusForm(ServiceForm):
    status = forms.ChoiceField(label=_("New status"))
    note = forms.CharField(label=_("Note"), required=False, max_length=2000,
                           help_text=_("For resolved: how it was solved."),
                           widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, case: Case | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = ALLOWED_TRANSITIONS.get(case.status, ()) if case is not None else CaseStatus.values
        self.fields["status"].choices = [(status, CaseStatus(status).label) for status in allowed]
        if case is not None and not self.is_bound:
            self.initial["version"] = case.version


class AssignForm(ServiceForm):
    target = forms.ChoiceField(label=_("Give to"))
    note = forms.CharField(label=_("Why"), required=False, max_length=500)

    def __init__(self, *args, people=(), queues=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [
            (_("People"), [(f"user:{person.pk}", str(person)) for person in people]),
            (_("Queues (routed by skills and load)"), [(f"queue:{queue.pk}", queue.name) for queue in queues])]

    def target_ids(self) -> tuple[int | None, int | None]:
        kind, _sep, identifier = self.cleaned_data["target"].partition(":")
        return (int(identifier), None) if kind == "user" else (None, int(identifier))


class LinkCustomerForm(ServiceForm):
    contact = contact_box(_("Contact"), _("Who wrote this? Pick a contact; create one first if needed."))

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean_contact(self):
        contact = resolve_contact_reference(self.actor, self.cleaned_data.get("contact"))
        if contact is None:
            raise ValidationError(_("Pick the contact from the suggestions."))
        return contact

    def form_field_for(self, key: str) -> str | None:
        return "contact"


# ======================================================================================
# Knowledge base
# ======================================================================================
class ArticleSearchForm(forms.Form):
    q = forms.CharField(label=_("Search the knowledge base"), required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": _("Problem, symptom or keyword (中文 or English)")}))
    language = forms.ChoiceField(label=_("Language"), required=False,
                                 choices=[("", _("Any"))] + list(Language.choices))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any"))] + list(
        ArticleStatus.choices))
    category = forms.ChoiceField(label=_("Category"), required=False, choices=[("", _("Any"))] + list(
        CaseCategory.choices))

    @property
    def filter_fields(self):
        return [self["language"], self["status"], self["category"]]


class ArticleForm(ServiceForm):
    language = forms.ChoiceField(label=_("Language of this text"), choices=Language.choices)
    title = model_field(KnowledgeArticleVersion, "title")
    problem = model_field(KnowledgeArticleVersion, "problem", widget=forms.Textarea(attrs={"rows": 4}))
    solution = model_field(KnowledgeArticleVersion, "solution", widget=forms.Textarea(attrs={"rows": 8}))
    keywords = model_field(KnowledgeArticleVersion, "keywords")
    change_note = model_field(KnowledgeArticleVersion, "change_note", required=False)
    category = forms.ChoiceField(label=_("Category"), choices=CaseCategory.choices)
    status = forms.ChoiceField(label=_("Status"), choices=ArticleStatus.choices)

    def form_field_for(self, key: str) -> str | None:
        if key.startswith("translations."):
            return key.rsplit(".", 1)[-1] if key.rsplit(".", 1)[-1] in self.fields else None
        return key if key in self.fields else None

    def to_service_data(self) -> dict:
        cleaned = self.cleaned_data
        return {"category": cleaned["category"], "status": cleaned["status"], "translations": [{
            field: cleaned.get(field) or "" for field in ("language", "title", "problem", "solution", "keywords",
                                                         "change_note")}]}


# ======================================================================================
# Complaints, visits
# ======================================================================================
class ComplaintForm(ServiceForm):
    subject = model_field(Complaint, "subject")
    description = model_field(Complaint, "description", widget=forms.Textarea(attrs={"rows": 4}))
    severity = forms.ChoiceField(label=_("Severity"), choices=ComplaintSeverity.choices,
                                 initial=ComplaintSeverity.MEDIUM)


class ComplaintStepForm(ServiceForm):
    root_cause = model_field(Complaint, "root_cause", widget=forms.Textarea(attrs={"rows": 3}))
    corrective_action = model_field(Complaint, "corrective_action", widget=forms.Textarea(attrs={"rows": 3}))
    preventive_action = model_field(Complaint, "preventive_action", widget=forms.Textarea(attrs={"rows": 3}))
    status = forms.ChoiceField(label=_("Move to"), required=False)
    note = forms.CharField(label=_("What was found or done"), required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, complaint: Complaint | None = None, **kwargs):
        from guanxi.service.models import COMPLAINT_FLOW

        super().__init__(*args, **kwargs)
        allowed = COMPLAINT_FLOW.get(complaint.status, ()) if complaint is not None else ()
        self.fields["status"].choices = [("", _("(stay)"))] + [(status, ComplaintStatus(status).label)
                                                             for status in allowed]
        if complaint is not None and not self.is_bound:
            self.initial.update({field: getattr(complaint, field) for field in (
                "root_cause", "corrective_action", "preventive_action", "version")})


class VisitForm(ServiceForm):
    technician = forms.TypedChoiceField(label=_("Technician"), coerce=int)
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    ends_at = forms.DateTimeField(label=_("Ends at"), widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    address = model_field(FieldVisit, "address", required=False,
                          help_text=_("Leave empty for the customer's primary address."))
    notes = model_field(FieldVisit, "notes", widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, technicians=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technician"].choices = [(agent.user_id, str(agent.user)) for agent in technicians]

    def form_field_for(self, key: str) -> str | None:
        return {"technician_id": "technician"}.get(key, key if key in self.fields else None)


class VisitStatusForm(ServiceForm):
    status = forms.ChoiceField(label=_("Status"), choices=VisitStatus.choices)
    outcome = model_field(FieldVisit, "outcome", widget=forms.Textarea(attrs={"rows": 2}))
