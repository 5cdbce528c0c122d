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
    ComplaintSeverity, ComplaintStatus, FieldVisit, KnowledgeArticleVersion, Language, ServiceAgent, ServiceCalendar,
    ServiceQueue, SlaPolicy, SlaTrigger, VisitStatus,
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


# ======================================================================================
# Configuration: business calendars, SLA policies with escalation rules, queues, agents
# ======================================================================================
_HOURS = r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}"
_SPECIAL_DAY = re.compile(rf"^({_HOURS}(?:\s*,\s*{_HOURS})*)\s*(.*)$")
_SKILL = re.compile(r"^\s*([^:=\s][^:=]*?)\s*[:=]\s*(-?\d+)\s*$")
WEEKDAY_LABELS = (("mon", _("Monday")), ("tue", _("Tuesday")), ("wed", _("Wednesday")), ("thu", _("Thursday")),
                  ("fri", _("Friday")), ("sat", _("Saturday")), ("sun", _("Sunday")))


def staff_users():
    """People who work in the CRM (customers and partners sign in too, but take no cases)."""
    from guanxi.core.models import Role, User

    return User.objects.filter(is_active=True).exclude(role__in=(Role.CUSTOMER, Role.PARTNER)).order_by("username")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        return getattr(user, "display_name", "") or user.get_username()


class UsersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user) -> str:
        return getattr(user, "display_name", "") or user.get_username()


def skills_to_text(skills: dict) -> str:
    return ", ".join(f"{name}: {level}" for name, level in sorted((skills or {}).items()))


def skills_from_text(text: str) -> dict:
    """``billing: 3, network: 5`` → ``{"billing": 3, "network": 5}`` (levels checked by the service)."""
    skills = {}
    for item in filter(None, (part.strip() for part in re.split(r"[,;\n]", text or ""))):
        match = _SKILL.match(item)
        if not match:
            raise ValidationError(_("Write each skill as name: level, e.g. billing: 3 (check “%(item)s”).") % {
                "item": item[:40]})
        skills[match.group(1)] = int(match.group(2))
    return skills


class LineErrorsMixin:
    """Service errors on list items (``days.2.date``) are shown on the list's field with
    the line or row they concern."""

    list_fields: dict[str, str] = {}

    def apply_service_errors(self, error: ValidationError) -> None:
        by_key = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        for key, messages in by_key.items():
            prefix, _dot, rest = key.partition(".")
            if prefix in self.list_fields and rest:
                index = rest.split(".", 1)[0]
                label = self.list_fields[prefix]
                for message in messages:
                    where = _("%(what)s %(number)s") % {"what": label, "number": int(index) + 1} \
                        if index.isdigit() else rest
                    self.add_error(self.form_field_for(prefix) or None, f"{where}: {message}")
                continue
            name = self.form_field_for(key)
            for message in messages:
                self.add_error(name, message)


class CalendarForm(LineErrorsMixin, ServiceForm):
    list_fields = {"days": _("Line")}

    name = forms.CharField(label=_("Name"), max_length=120, help_text=_("E.g. Shanghai office hours."))
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, initial="Asia/Shanghai",
                                help_text=_("IANA time zone, e.g. Asia/Shanghai or Europe/Berlin."))
    days = forms.CharField(
        label=_("Holidays and special days"), required=False, widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("One day per line: the date, then the name for a holiday (closed), or the date, the hours and "
                    "the name for a special day, e.g. “2026-10-01 National Day” or "
                    "“2026-10-10 09:00-18:00 Make-up working day”."))

    def __init__(self, *args, calendar=None, **kwargs):
        super().__init__(*args, **kwargs)
        for day, label in WEEKDAY_LABELS:
            self.fields[day] = forms.CharField(label=label, required=False, max_length=120,
                                               help_text=_("E.g. 09:00-12:00, 13:00-18:00; empty when closed."))
        if calendar is not None and not self.is_bound:
            self.initial.update({"name": calendar.name, "time_zone": calendar.time_zone,
                                 **{day: (calendar.weekly_hours or {}).get(day, "") for day, _label in WEEKDAY_LABELS},
                                 "days": "\n".join(" ".join(filter(None, (
                                     day.date.isoformat(), day.hours if day.kind == "special" else "", day.name)))
                                     for day in calendar.days.all())})

    def clean_days(self):
        rows = []
        for number, line in enumerate((self.cleaned_data.get("days") or "").splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            date_text, _space, rest = line.partition(" ")
            try:
                date = forms.DateField().clean(date_text)
            except ValidationError:
                raise ValidationError(_("Line %(number)s: start with the date as YYYY-MM-DD.") % {
                    "number": number}) from None
            special = _SPECIAL_DAY.match(rest.strip())
            if special:
                rows.append({"date": date, "kind": "special", "hours": special.group(1),
                             "name": special.group(2).strip()[:120]})
            else:
                rows.append({"date": date, "kind": "holiday", "hours": "", "name": rest.strip()[:120]})
        return rows

    def form_field_for(self, key: str) -> str | None:
        if key.startswith("weekly_hours."):
            return key.split(".", 1)[1] if key.split(".", 1)[1] in self.fields else None
        return super().form_field_for(key)

    def to_service_data(self) -> dict:
        cleaned = self.cleaned_data
        return {"name": cleaned["name"], "time_zone": cleaned["time_zone"],
                "weekly_hours": {day: cleaned[day].strip() for day, _label in WEEKDAY_LABELS
                                 if cleaned.get(day, "").strip()},
                "days": cleaned["days"]}


class SlaPolicyForm(ServiceForm):
    name = model_field(SlaPolicy, "name")
    priority = model_field(SlaPolicy, "priority")
    customer_tier = model_field(SlaPolicy, "customer_tier")
    calendar = forms.ModelChoiceField(label=_("Business calendar"), queryset=ServiceCalendar.objects.all(),
                                      help_text=_("Hours in which the targets count."))
    first_response_minutes = model_field(SlaPolicy, "first_response_minutes")
    resolution_minutes = model_field(SlaPolicy, "resolution_minutes")
    warning_percent = model_field(SlaPolicy, "warning_percent")
    position = model_field(SlaPolicy, "position")
    is_active = model_field(SlaPolicy, "is_active", required=False)

    def __init__(self, *args, policy=None, **kwargs):
        super().__init__(*args, **kwargs)
        if policy is not None and not self.is_bound:
            self.initial.update({name: getattr(policy, name) for name in (
                "name", "priority", "customer_tier", "first_response_minutes", "resolution_minutes",
                "warning_percent", "position", "is_active")})
            self.initial["calendar"] = policy.calendar_id
        elif not self.is_bound:
            self.initial.setdefault("is_active", True)

    def form_field_for(self, key: str) -> str | None:
        return "calendar" if key == "calendar_id" else super().form_field_for(key)

    def to_service_data(self) -> dict:
        data = {name: value for name, value in self.cleaned_data.items() if name != "calendar"}
        data["calendar_id"] = self.cleaned_data["calendar"].pk
        return data


class EscalationRuleForm(forms.Form):
    trigger = forms.ChoiceField(label=_("When"), required=False,
                                choices=[("", _("(no rule)"))] + list(SlaTrigger.choices))
    reassign_queue = forms.ModelChoiceField(label=_("Move to queue"), required=False,
                                            queryset=ServiceQueue.objects.all())
    reassign_to = UserChoiceField(label=_("Reassign to"), required=False, queryset=None)
    raise_priority = forms.BooleanField(label=_("Raise priority"), required=False)
    mark_escalated = forms.BooleanField(label=_("Mark escalated"), required=False, initial=True)
    notify_assignee = forms.BooleanField(label=_("Notify assignee"), required=False, initial=True)
    notify_users = UsersChoiceField(label=_("Also notify"), required=False, queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reassign_to"].queryset = staff_users()
        self.fields["notify_users"].queryset = staff_users()

    def to_service_data(self) -> dict | None:
        cleaned = self.cleaned_data
        if not cleaned.get("trigger"):
            return None
        return {"trigger": cleaned["trigger"], "raise_priority": cleaned["raise_priority"],
                "mark_escalated": cleaned["mark_escalated"], "notify_assignee": cleaned["notify_assignee"],
                "reassign_queue_id": cleaned["reassign_queue"].pk if cleaned.get("reassign_queue") else None,
                "reassign_to_id": cleaned["reassign_to"].pk if cleaned.get("reassign_to") else None,
                "notify_user_ids": [user.pk for user in cleaned.get("notify_users") or []]}


EscalationRuleFormSet = forms.formset_factory(EscalationRuleForm, extra=2, max_num=20, validate_max=True)


def escalation_rule_initial(policy) -> list[dict]:
    return [{"trigger": rule.trigger, "reassign_queue": rule.reassign_queue_id, "reassign_to": rule.reassign_to_id,
             "raise_priority": rule.raise_priority, "mark_escalated": rule.mark_escalated,
             "notify_assignee": rule.notify_assignee, "notify_users": [user.pk for user in rule.notify_users.all()]}
            for rule in policy.escalation_rules.all()] if policy is not None else []


class QueueForm(ServiceForm):
    code = model_field(ServiceQueue, "code")
    name = model_field(ServiceQueue, "name")
    strategy = model_field(ServiceQueue, "strategy")
    required_skills = forms.CharField(label=_("Required skills"), required=False, max_length=500,
                                      help_text=_("Skill: minimum level 1-10, e.g. “billing: 3, mandarin: 5”; "
                                                  "agents holding them serve the queue."))
    categories = forms.MultipleChoiceField(label=_("Categories"), required=False, choices=CaseCategory.choices,
                                           widget=forms.CheckboxSelectMultiple,
                                           help_text=_("New cases of these categories join this queue."))
    experts_from_priority = model_field(ServiceQueue, "experts_from_priority")
    supervisor = UserChoiceField(label=_("Supervisor"), required=False, queryset=None,
                                 help_text=_("Notified when no agent can take a case."))
    is_active = model_field(ServiceQueue, "is_active", required=False)

    def __init__(self, *args, queue=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supervisor"].queryset = staff_users()
        if queue is not None and not self.is_bound:
            self.initial.update({name: getattr(queue, name) for name in (
                "code", "name", "strategy", "categories", "experts_from_priority", "is_active")})
            self.initial.update({"required_skills": skills_to_text(queue.required_skills),
                                 "supervisor": queue.supervisor_id})
        elif not self.is_bound:
            self.initial.setdefault("is_active", True)

    def clean_required_skills(self):
        return skills_from_text(self.cleaned_data.get("required_skills"))

    def form_field_for(self, key: str) -> str | None:
        return "supervisor" if key == "supervisor_id" else super().form_field_for(key)

    def to_service_data(self) -> dict:
        data = {name: value for name, value in self.cleaned_data.items() if name != "supervisor"}
        data["supervisor_id"] = self.cleaned_data["supervisor"].pk if self.cleaned_data.get("supervisor") else None
        return data


class AgentForm(LineErrorsMixin, ServiceForm):
    list_fields = {"queues": _("Queue")}

    user = UserChoiceField(label=_("Person"), queryset=None)
    skills = forms.CharField(label=_("Skills"), required=False, max_length=500,
                             help_text=_("Skill: level 1-10, e.g. “billing: 8, network: 4”."))
    max_open_cases = model_field(ServiceAgent, "max_open_cases")
    accepting_cases = model_field(ServiceAgent, "accepting_cases", required=False)
    is_technician = model_field(ServiceAgent, "is_technician", required=False)
    calendar = forms.ModelChoiceField(label=_("Working hours"), required=False,
                                      queryset=ServiceCalendar.objects.all(),
                                      help_text=_("When a technician can be booked."))
    queues = forms.ModelMultipleChoiceField(label=_("Member of queues"), required=False,
                                            queryset=ServiceQueue.objects.all(), widget=forms.CheckboxSelectMultiple,
                                            help_text=_("Besides the queues the skills qualify for."))

    def __init__(self, *args, agent=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = staff_users()
        self.penalties = {membership.queue_id: membership.penalty
                          for membership in agent.memberships.all()} if agent is not None else {}
        if agent is not None:
            self.fields["user"].disabled = True  # a disabled field takes its value from initial, posted or not
            self.initial["user"] = agent.user_id
            if not self.is_bound:
                self.initial.update({"skills": skills_to_text(agent.skills),
                                     "max_open_cases": agent.max_open_cases,
                                     "accepting_cases": agent.accepting_cases,
                                     "is_technician": agent.is_technician, "calendar": agent.calendar_id,
                                     "queues": [membership.queue_id for membership in agent.memberships.all()]})
        elif not self.is_bound:
            self.initial.update({"accepting_cases": True, "max_open_cases": 20})

    def clean_skills(self):
        return skills_from_text(self.cleaned_data.get("skills"))

    def form_field_for(self, key: str) -> str | None:
        return {"calendar_id": "calendar"}.get(key) or super().form_field_for(key)

    def to_service_data(self) -> dict:
        cleaned = self.cleaned_data
        return {"skills": cleaned["skills"], "max_open_cases": cleaned["max_open_cases"],
                "accepting_cases": cleaned["accepting_cases"], "is_technician": cleaned["is_technician"],
                "calendar_id": cleaned["calendar"].pk if cleaned.get("calendar") else None,
                "queues": [{"queue_id": queue.pk, "penalty": self.penalties.get(queue.pk, 0)}
                           for queue in cleaned.get("queues") or []]}
