"""Mail merge: message templates rendered in a Jinja2 sandbox for one contact at a time.

A template may use ``{{ contact.given_name }}``, ``{{ contact.custom.membership_no }}``,
``{% if contact.value_tier == "gold" %}…{% endif %}``, ``{{ campaign.name }}``,
``{{ event.starts_at|datetime }}``, ``{{ unsubscribe_url }}`` and the like (``FIELDS``).

Two promises:

* A template that names an unknown field fails when it is checked — on saving, at preview
  and at campaign launch — never in the middle of a send. ``check_template`` walks the
  parsed template (every branch, not only the one a sample contact takes) and names each
  unknown field with its line.
* Rendering never meets an undefined value for a checked template: every known field is
  in every context (empty when the contact has no value), and ``StrictUndefined`` turns
  anything else into an error instead of an empty string.

The sandbox refuses attribute access to Python internals, so a template cannot reach the
database or the settings.
"""

from __future__ import annotations

import datetime
import html as html_module
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import new_context
from jinja2.sandbox import SandboxedEnvironment

from guanxi.core.models import Address, Contact, CustomField, Gender

# ======================================================================================
# What a template may use
# ======================================================================================
CONTACT_FIELDS = (
    "full_name", "family_name", "given_name", "alternate_name", "greeting_name", "job_title", "email", "phone",
    "company", "country", "province", "city", "district", "street", "postcode", "value_tier", "lifecycle_stage",
    "preferred_language", "birth_date", "gender", "occupation", "industry", "custom",
)
FIELDS: dict[str, tuple[str, ...] | None] = {
    "contact": CONTACT_FIELDS,
    "campaign": ("name", "description", "landing_url"),
    "event": ("name", "description", "starts_at", "ends_at", "venue", "address", "registration_url"),
    "sender": ("name", "email"),
    "today": None,             # a date
    "unsubscribe_url": None,   # the one-click unsubscribe link (email)
    "view_url": None,          # the campaign's landing page, tracked
}
TEMPLATE_PARTS = ("subject_en", "body_en", "subject_zh", "body_zh")


def format_date(value, language: str = "en") -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if language == "zh-hans":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {value.strftime('%B')} {value.year}"


def format_datetime(value, language: str = "en") -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    if not isinstance(value, datetime.datetime):
        return format_date(value, language)
    return f"{format_date(value, language)} {value:%H:%M}"


def format_money(value, currency: str = "") -> str:
    if value in (None, ""):
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    return f"{amount:,} {currency}".strip()


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _MergeEnvironment(SandboxedEnvironment):
    """The sandbox, reading ``contact.company`` from a merge context's plain dicts as a key
    first. Jinja tries the attribute first and the key after the AttributeError, which
    costs more than the rest of the lookup; a plain dict has no attributes but its class's
    (its methods: ``contact.items``), so for any other name the answer is the same."""

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def _environment(html: bool) -> SandboxedEnvironment:
    environment = _MergeEnvironment(undefined=StrictUndefined, autoescape=html, keep_trailing_newline=True)
    environment.filters["date"] = format_date
    environment.filters["datetime"] = format_datetime
    environment.filters["money"] = format_money
    return environment


HTML_ENVIRONMENT = _environment(html=True)
TEXT_ENVIRONMENT = _environment(html=False)


# ======================================================================================
# Checking a template before it is ever used
# ======================================================================================
SAFE_METHODS = {"items", "keys", "values", "get", "upper", "lower", "title", "capitalize", "strip", "startswith",
                "endswith", "replace", "split", "join", "format", "isoformat", "strftime"}


def _assigned_names(tree: nodes.Template) -> set[str]:
    """Names the template itself defines ({% set %}, {% for %}, macros): always allowed."""
    return {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}


def _chain(node: nodes.Node) -> tuple[str, list[str]] | None:
    """``contact.custom.plan`` → ("contact", ["custom", "plan"]); None if not rooted at a name."""
    parts: list[str] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.append("*")  # a computed key: only the prefix can be checked
        node = node.node
    if isinstance(node, nodes.Name):
        return node.name, list(reversed(parts))
    return None


def _unknown_fields(source: str, environment: SandboxedEnvironment, custom_keys: set[str]) -> list[str]:
    """Every reference to an unknown field in ``source``, as "line N: name" messages."""
    tree = environment.parse(source)
    assigned = _assigned_names(tree)
    problems: list[str] = []
    seen: set[tuple[int, str]] = set()

    def report(line: int, name: str) -> None:
        if (line, name) not in seen:
            seen.add((line, name))
            problems.append(_("line %(line)d: unknown field “%(name)s”") % {"line": line, "name": name})

    def walk(node: nodes.Node) -> None:
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            # contact.custom.items(): check the object, and that the method is a plain one
            if node.node.attr not in SAFE_METHODS:
                report(node.lineno, node.node.attr)
            walk(node.node.node)
            for child in (*node.args, *node.kwargs):
                walk(child)
            return
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            chain = _chain(node)
            if chain is not None:
                root, parts = chain
                if root not in assigned:
                    _check_chain(node.lineno, root, parts, custom_keys, report)
                    # the computed key of a Getitem may itself use fields
                    for child in node.iter_child_nodes():
                        if not isinstance(child, (nodes.Getattr, nodes.Getitem, nodes.Name)):
                            walk(child)
                    return
        if isinstance(node, nodes.Filter) and node.name not in environment.filters:
            problems.append(_("line %(line)d: unknown filter “%(name)s”") % {"line": node.lineno, "name": node.name})
        if isinstance(node, nodes.Name) and node.ctx == "load":
            if node.name not in FIELDS and node.name not in assigned and node.name not in environment.globals:
                report(node.lineno, node.name)
            return
        for child in node.iter_child_nodes():
            walk(child)

    walk(tree)
    return problems


def _check_chain(line: int, root: str, parts: list[str], custom_keys: set[str], report) -> None:
    if root not in FIELDS:
        report(line, ".".join([root, *parts]))
        return
    allowed = FIELDS[root]
    if not parts:
        return
    if allowed is None:  # a plain value (today, unsubscribe_url): only its own methods
        return
    first = parts[0]
    if first not in allowed:
        report(line, f"{root}.{first}")
        return
    if root == "contact" and first == "custom" and len(parts) > 1 and parts[1] != "*":
        if parts[1] not in custom_keys:
            report(line, f"contact.custom.{parts[1]}")


def check_template(parts: dict[str, str], *, html: bool) -> None:
    """Raise ``ValidationError`` keyed by part (``subject_en``…) for syntax errors, unknown
    filters and unknown fields, with line numbers."""
    environment = HTML_ENVIRONMENT if html else TEXT_ENVIRONMENT
    custom_keys = set(CustomField.objects.filter(target="contact", is_active=True).values_list("key", flat=True))
    errors: dict[str, list[str]] = {}
    for name, source in parts.items():
        if not source:
            continue
        part_environment = TEXT_ENVIRONMENT if name.startswith("subject") else environment
        try:
            problems = _unknown_fields(source, part_environment, custom_keys)
            if not problems:
                part_environment.compile(source)
        except TemplateSyntaxError as error:  # also unknown filters and tests (TemplateAssertionError)
            problems = [_("line %(line)d: %(message)s") % {"line": error.lineno or 1, "message": error.message}]
        if problems:
            errors[name] = problems
    if errors:
        raise ValidationError(errors)


# ======================================================================================
# Contexts
# ======================================================================================
CONTACT_COLUMNS = ("id", "full_name", "family_name", "given_name", "alternate_name", "job_title", "email", "phone",
                   "value_tier", "lifecycle_stage", "preferred_language", "birth_date", "gender", "occupation",
                   "industry", "custom_data", "account_id", "account__name")
ADDRESS_PARTS = ("country", "province", "city", "district", "street", "postcode")


def greeting_name(row: dict, language: str) -> str:
    """How a letter addresses the person: 王女士 / 李先生 in Chinese, the given name in English."""
    family, given, full = row.get("family_name") or "", row.get("given_name") or "", row.get("full_name") or ""
    if language == "zh-hans":
        if family and row.get("gender") == Gender.FEMALE:
            return f"{family}女士"
        if family and row.get("gender") == Gender.MALE:
            return f"{family}先生"
        return full
    return given or full


def contact_context(row: dict, address: dict | None, custom_keys: Iterable[str]) -> dict:
    """The ``contact`` of a template: every known field present, empty when unknown."""
    language = row.get("preferred_language") or "zh-hans"
    custom = {key: "" for key in custom_keys}
    custom.update(row.get("custom_data") or {})
    context = {
        "full_name": row.get("full_name") or "", "family_name": row.get("family_name") or "",
        "given_name": row.get("given_name") or "", "alternate_name": row.get("alternate_name") or "",
        "greeting_name": greeting_name(row, language), "job_title": row.get("job_title") or "",
        "email": row.get("email") or "", "phone": row.get("phone") or "",
        "company": row.get("account__name") or "", "value_tier": row.get("value_tier") or "",
        "lifecycle_stage": row.get("lifecycle_stage") or "", "preferred_language": language,
        "birth_date": row.get("birth_date") or "", "gender": row.get("gender") or "",
        "occupation": row.get("occupation") or "", "industry": row.get("industry") or "", "custom": custom,
    }
    for part in ADDRESS_PARTS:
        context[part] = (address or {}).get(part) or ""
    return context


def primary_addresses(contact_rows: list[dict], contact_ids: QuerySet | None = None) -> dict[int, dict]:
    """The mailing address of each contact: its own primary (or first) address, else its
    account's. Two queries for any number of contacts (``contact_ids``: the subquery the
    rows were read with, if any, names them to the database instead of their IDs)."""
    if contact_ids is not None:
        account_ids = Contact.objects.filter(pk__in=contact_ids, account_id__isnull=False).values("account_id")
    else:
        contact_ids = [row["id"] for row in contact_rows]
        account_ids = {row["account_id"] for row in contact_rows if row.get("account_id")}
    own: dict[int, dict] = {}
    for address in (Address.objects.filter(contact_id__in=contact_ids).order_by("-is_primary", "id")
                    .values("contact_id", *ADDRESS_PARTS)):
        own.setdefault(address["contact_id"], address)
    of_account: dict[int, dict] = {}
    if any(row.get("account_id") for row in contact_rows):
        for address in (Address.objects.filter(account_id__in=account_ids).order_by("-is_primary", "id")
                        .values("account_id", *ADDRESS_PARTS)):
            of_account.setdefault(address["account_id"], address)
    return {row["id"]: own.get(row["id"]) or of_account.get(row.get("account_id")) for row in contact_rows}


def contact_rows(contact_ids: Iterable[int] | QuerySet) -> list[dict]:
    ids = contact_ids if isinstance(contact_ids, QuerySet) else list(contact_ids)
    return list(Contact.objects.filter(pk__in=ids).values(*CONTACT_COLUMNS))


def contexts_for(contact_ids: Iterable[int] | QuerySet, extra: dict | None = None) -> dict[int, dict]:
    """Merge contexts for many contacts in three queries: contacts, addresses, custom fields.
    ``contact_ids``: the IDs, or a query of them (a subquery, for many)."""
    rows = contact_rows(contact_ids)
    addresses = primary_addresses(rows, contact_ids if isinstance(contact_ids, QuerySet) else None)
    custom_keys = list(CustomField.objects.filter(target="contact", is_active=True).values_list("key", flat=True))
    base = base_context(extra)
    return {row["id"]: {**base, "contact": contact_context(row, addresses.get(row["id"]), custom_keys),
                        "_language": row.get("preferred_language") or "zh-hans"} for row in rows}


def base_context(extra: dict | None = None) -> dict:
    """Every top-level name present, so that a checked template never meets an undefined one."""
    context: dict[str, Any] = {
        "campaign": {"name": "", "description": "", "landing_url": ""},
        "event": {"name": "", "description": "", "starts_at": "", "ends_at": "", "venue": "", "address": "",
                  "registration_url": ""},
        "sender": {"name": "", "email": ""},
        "today": timezone.localdate(), "unsubscribe_url": "", "view_url": "",
    }
    for key, value in (extra or {}).items():
        context[key] = {**context[key], **value} if isinstance(context.get(key), dict) else value
    return context


# ======================================================================================
# Rendering
# ======================================================================================
@dataclass(frozen=True)
class RenderedMessage:
    language: str
    subject: str
    body: str          # HTML for email, text otherwise
    text: str          # plain text (derived from the HTML for email)

    @property
    def sms_segments(self) -> int:
        """Billed SMS parts: 160 GSM characters (153 when split), 70 UCS-2 (67 when split)."""
        ascii_only = all(ord(character) < 128 for character in self.text)
        single, multi = (160, 153) if ascii_only else (70, 67)
        length = len(self.text)
        return 1 if length <= single else -(-length // multi)


class MessageRenderer:
    """A template compiled once (per language and part) and rendered for many contacts."""

    def __init__(self, template, *, subject_override: str = "", html: bool | None = None):
        self.html = template.channel == "email" if html is None else html
        body_environment = HTML_ENVIRONMENT if self.html else TEXT_ENVIRONMENT
        self._compiled: dict[str, tuple] = {}
        for language in ("en", "zh-hans"):
            subject, body = template.parts_for(language)
            if subject_override:
                subject = subject_override
            self._compiled[language] = (TEXT_ENVIRONMENT.from_string(subject or ""),
                                        body_environment.from_string(body or ""))
        # Jinja's Template.render() copies the template's globals (a ChainMap, slow to read)
        # into a new dict, and once more into a set, for every call; flattened once here.
        self._globals = {**TEXT_ENVIRONMENT.globals, **body_environment.globals}

    def render(self, context: dict, language: str | None = None) -> RenderedMessage:
        language = language if language in self._compiled else context.get("_language", "zh-hans")
        if language not in self._compiled:
            language = "zh-hans"
        subject_template, body_template = self._compiled[language]
        variables = {**self._globals, **context, "language": language}
        subject = " ".join(_render(subject_template, variables, self._globals).split())
        body = _render(body_template, variables, self._globals)
        text = _html_to_text(body) if self.html else body
        return RenderedMessage(language=language, subject=subject, body=body, text=text)


def _render(template, variables: dict, flat_globals: dict) -> str:
    """``template.render(variables)`` for variables that already hold the template's globals
    (``flat_globals``): the same output and errors, without the copies."""
    try:
        context = new_context(template.environment, template.name, template.blocks, variables, shared=True,
                              globals=flat_globals)
        return template.environment.concat(template.root_render_func(context))
    except Exception:
        return template.environment.handle_exception()


_BREAKS = re.compile(r"(?i)<br\s*/?>|</p>|</div>|</h[1-6]>|</li>|</tr>")
_LINKS = re.compile(r'(?is)<a\s[^>]*?href="([^"]+)"[^>]*>(.*?)</a>')
_TAGS = re.compile(r"(?s)<!--.*?-->|<[^>]*>")


def _link_as_text(match: re.Match) -> str:
    return f"{match[2]} ({match[1]})"


def _html_to_text(html: str) -> str:
    """The plain-text part of an email: line breaks where blocks end, links as "text (url)"."""
    text = _TAGS.sub("", _LINKS.sub(_link_as_text, _BREAKS.sub("\n", html)))
    if "&" in text:
        text = html_module.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join([line for line in lines if line]).strip() + "\n"


def render_checked(template, context: dict, language: str | None = None, **options) -> RenderedMessage:
    """Check the template, then render it for one context: the preview's path."""
    check_template({name: getattr(template, name) for name in TEMPLATE_PARTS}, html=template.channel == "email")
    try:
        return MessageRenderer(template, **options).render(context, language)
    except (UndefinedError, SecurityError, TypeError, ValueError) as error:
        raise ValidationError({"__all__": [_("The template cannot be rendered: %(error)s") % {"error": error}]}) \
            from None
