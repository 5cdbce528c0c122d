"""Import of contacts and accounts from CSV and XLSX files.

One engine serves the CLI (``guanxi import``), the web pages and the background job
``core.import``. A run goes:

1. **Read** the header row, map each column to a field (default guesses from English and
   Chinese headers, overridable), and refuse the file at once — nothing written — when a
   required column is missing or the mapping names unknown fields.
2. **Check** (all-or-nothing and dry runs): parse, normalize and validate every row, and
   resolve its references (owner, territory, account, existing records) read-only. Any
   bad row means nothing is written; the report names file, row (as the spreadsheet
   shows it, header = row 1), column and problem for each.
3. **Write** in chunks of ``chunk_size`` rows. Each chunk is one transaction that also
   moves the run's checkpoint (``ImportRun.rows_done``), so a crash loses at most the
   chunk in flight and a resumed run continues right after the last committed one.
   Writes are upserts — by external ID, else by the normalized dedup keys (E.164 phone,
   lower-case email for contacts; the name for accounts) — so even replaying a chunk
   cannot create a duplicate.

Rows are normalized by the same functions the services use (``normalize_phone``,
``normalize_email``, ``display_name``, ``coerce_value`` for custom fields,
``services.contact_search_text``), and written set-based through ``bulk_writes``; the
stored result equals what ``services.contact_create`` stores for the same input (a test
compares them). One audit entry per run records the counts. Parsing runs in a helper
thread so that it overlaps the database work of the previous chunk, or, for a large file,
in a pool of forked worker processes (one per core) while this process only writes.

A large contact import into a table small next to it (``BULK_INDEX_MIN_ROWS``) drops the
indexes only reads need — non-unique indexes, the SQLite FTS5 triggers, the PostgreSQL
GIN index — and on PostgreSQL the contact tables' foreign keys, and builds each once at the
end (FTS5 ``rebuild``, ``CREATE INDEX``, ``ADD CONSTRAINT`` checking every row). What was
dropped is stored in the run in the same transaction; the run's last step restores it, a
resumed run finishes and restores it, and ``guanxi migrate`` (post_migrate) or the next
import repairs it for a crashed run never resumed. Unique indexes and those of the dedup
lookups (phone numbers, emails, external IDs) stay, so upserts and dedup are unchanged.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime
import gc
import hashlib
import json
import operator
import pickle
import queue
import re
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, models, transaction
from django.db.models.signals import post_migrate
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core import bulk_writes, selectors, services
from guanxi.core.access import scope_for
from guanxi.core.audit import audit_record
from guanxi.core.custom_fields import FALSE_WORDS, TRUE_WORDS, coerce_value
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import (
    Account, AccountKind, Address, AuditAction, Channel, ConsentRecord, Contact, ContactEmail, ContactPhone,
    CustomField, Education, Gender, ImportRun, ImportRunState, IncomeBand, LifecycleStage, MaritalStatus, PhoneKind,
    RelationshipStage, Tag, Territory, User, ValueTier, Visibility,
)
from guanxi.core.normalize import PhoneError, display_name, normalize_email, normalize_phone

DEFAULT_CHUNK_SIZE = 10_000
MAX_STORED_ISSUES = 1_000        # per level, in ImportRun.issues; the CLI report keeps every error
OBJECT_TYPES = ("contact", "account")
LIST_SEPARATORS = re.compile(r"\s*[;,，；、|]\s*")
IMPORT_SOURCE = "import"


# ======================================================================================
# Issues: what the report lists
# ======================================================================================
class Level:
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Issue:
    """One finding, located as the user sees the spreadsheet: header = row 1."""

    file: str
    row: int
    column: str
    message: str
    value: str = ""
    level: str = Level.ERROR

    def as_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "column": self.column, "message": self.message,
                "value": self.value, "level": self.level}

    def __str__(self) -> str:
        if self.column:
            where = _("%(file)s, row %(row)d, column “%(column)s”") % {
                "file": self.file, "row": self.row, "column": self.column}
        else:
            where = _("%(file)s, row %(row)d") % {"file": self.file, "row": self.row}
        shown = f" (“{self.value}”)" if self.value and self.value not in self.message else ""
        return f"{where}: {self.message}{shown}"


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unreadable, required column missing, bad
    mapping…). Nothing was written."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("; ".join(str(issue) for issue in issues))


class CellError(ValueError):
    """A cell's value is not acceptable; the message is shown to the user."""


# ======================================================================================
# Cell parsers: raw cell (str from CSV; str/int/float/date/bool from XLSX) → value
# ======================================================================================
def cell_text(value: Any) -> str:
    """The text of a cell; spreadsheets keep phone numbers and IDs as numbers."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
            return text[1:]  # the exporter's guard against spreadsheet formulas (exporting.spreadsheet_safe)
        return text
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def parse_text(max_length: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = cell_text(value)
        if len(text) > max_length:
            raise CellError(_("At most %(limit)d characters (this has %(count)d).")
                            % {"limit": max_length, "count": len(text)})
        return text

    return parse


def parse_choice(choices: type[models.TextChoices], synonyms: dict[str, str] | None = None) -> Callable[[Any], str]:
    """Accept the stored value, the English or Chinese label, or a synonym, any case."""
    lookup: dict[str, str] = {}

    def build() -> None:
        for value, label in choices.choices:
            lookup[value.lower()] = value
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    lookup[str(label).strip().lower()] = value
        for word, value in (synonyms or {}).items():
            lookup[word.lower()] = value

    def parse(value: Any) -> str:
        if not lookup:
            build()
        text = cell_text(value)
        found = lookup.get(text.lower())
        if found is None:
            raise CellError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices.values)})
        return found

    return parse


_DATE_PATTERNS = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)


def parse_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = cell_text(value)
    if " " in text or "T" in text:  # a date with a midnight time, as spreadsheets write it
        text = re.split(r"[ T]", text, maxsplit=1)[0]
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            try:
                return datetime.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                break
    raise CellError(_("Not a date; write it as YYYY-MM-DD."))


def parse_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = cell_text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError(_("Write yes or no."))


def parse_integer(minimum: int, maximum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        try:
            number = Decimal(cell_text(value))
        except InvalidOperation:
            raise CellError(_("Enter a whole number.")) from None
        if number != number.to_integral_value():
            raise CellError(_("Enter a whole number."))
        if not minimum <= number <= maximum:
            raise CellError(_("Enter a number from %(low)d to %(high)d.") % {"low": minimum, "high": maximum})
        return int(number)

    return parse


def parse_decimal(max_digits: int, decimal_places: int) -> Callable[[Any], Decimal]:
    def parse(value: Any) -> Decimal:
        text = cell_text(value).replace(",", "").replace("，", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CellError(_("Enter a number.")) from None
        if not number.is_finite():
            raise CellError(_("Enter a number."))
        number = number.quantize(Decimal(1).scaleb(-decimal_places))
        if len(number.as_tuple().digits) > max_digits:
            raise CellError(_("At most %(digits)d digits.") % {"digits": max_digits})
        return number

    return parse


def parse_phone(value: Any) -> str:
    try:
        return normalize_phone(cell_text(value))
    except PhoneError as error:
        raise CellError(str(error)) from None


def parse_email(value: Any) -> str:
    try:
        return normalize_email(cell_text(value))
    except ValidationError as error:
        raise CellError(" ".join(error.messages)) from None


def parse_list(value: Any) -> list[str]:
    return [part for part in LIST_SEPARATORS.split(cell_text(value)) if part]


def parse_phone_list(value: Any) -> list[str]:
    return [parse_phone(part) for part in parse_list(value)]


def parse_email_list(value: Any) -> list[str]:
    return [parse_email(part) for part in parse_list(value)]


_url_validator = URLValidator()


def parse_url(value: Any) -> str:
    text = cell_text(value)
    if "://" not in text:
        text = "https://" + text
    try:
        _url_validator(text)
    except ValidationError:
        raise CellError(_("Not a web address.")) from None
    if len(text) > 200:
        raise CellError(_("At most %(limit)d characters (this has %(count)d).") % {"limit": 200, "count": len(text)})
    return text


def parse_currency(value: Any) -> str:
    text = cell_text(value).upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise CellError(_("Write a three-letter currency code such as CNY, USD or EUR."))
    return text


def parse_language(value: Any) -> str:
    word = cell_text(value).lower()
    languages = {"en": "en", "english": "en", "英文": "en", "英语": "en", "zh-hans": "zh-hans", "zh": "zh-hans",
                 "zh-cn": "zh-hans", "chinese": "zh-hans", "中文": "zh-hans", "简体中文": "zh-hans"}
    if word not in languages:
        raise CellError(_("Choose one of: %(choices)s.") % {"choices": "en, zh-hans"})
    return languages[word]


# ======================================================================================
# Fields an import can fill, per object type
# ======================================================================================
@dataclass(frozen=True)
class ImportField:
    """One importable field: how to read its cells and which headers mean it."""

    name: str
    label: Any
    parse: Callable[[Any], Any]
    aliases: tuple[str, ...] = ()
    custom_field: CustomField | None = None


def _model_label(model, name: str):
    return model._meta.get_field(name).verbose_name


def _text_field(model, name: str, *aliases: str) -> ImportField:
    return ImportField(name, _model_label(model, name), parse_text(model._meta.get_field(name).max_length), aliases)


GENDER_SYNONYMS = {"m": "male", "f": "female", "男": "male", "女": "female", "男性": "male", "女性": "female"}
BOOLEAN_CONSENT_ALIASES = {
    "consent_email": ("email consent", "邮件同意", "同意邮件"),
    "consent_sms": ("sms consent", "短信同意", "同意短信"),
    "consent_phone": ("phone consent", "电话同意", "同意电话"),
    "consent_mail": ("mail consent", "letter consent", "信函同意", "同意信函"),
}
NAME_ALIASES = ("name", "full name", "contact name", "contact", "姓名", "名字", "全名", "联系人", "联系人姓名", "客户姓名")
PHONE_ALIASES = ("phone", "mobile", "mobile phone", "mobile number", "cell", "cell phone", "telephone", "tel",
                 "phone number", "手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "移动电话")
EMAIL_ALIASES = ("email", "e-mail", "email address", "mail", "邮箱", "电子邮件", "电子邮箱", "邮件", "邮箱地址")
OWNER_ALIASES = ("owner", "owner username", "assigned to", "负责人", "所有者", "归属人", "销售负责人")
TERRITORY_ALIASES = ("territory", "territory code", "销售区域", "区域", "辖区")
TAG_ALIASES = ("tags", "tag", "labels", "标签")
ADDRESS_FIELDS = ("country", "province", "city", "district", "street", "postcode")


def _shared_fields(model) -> list[ImportField]:
    """Fields accounts and contacts have in common (``CustomerRecord`` and the address)."""
    return [
        ImportField("external_id", _model_label(model, "external_id"), parse_text(64),
                    ("external id", "ext id", "source id", "外部编号", "外部id", "外部ID", "客户编号", "编号")),
        ImportField("lifecycle_stage", _model_label(model, "lifecycle_stage"), parse_choice(LifecycleStage),
                    ("lifecycle", "stage", "生命周期", "生命周期阶段", "阶段")),
        ImportField("value_tier", _model_label(model, "value_tier"), parse_choice(ValueTier),
                    ("tier", "价值等级", "客户等级", "价值层级")),
        ImportField("relationship_stage", _model_label(model, "relationship_stage"), parse_choice(RelationshipStage),
                    ("relationship", "关系阶段")),
        _text_field(model, "industry", "sector", "行业"),
        ImportField("tags", gettext_lazy("tags"), parse_list, TAG_ALIASES),
        ImportField("owner", gettext_lazy("owner (username)"), parse_text(150), OWNER_ALIASES),
        ImportField("territory", gettext_lazy("territory (code)"), parse_text(40), TERRITORY_ALIASES),
        ImportField("country", _model_label(Address, "country"), parse_text(2), ("国家", "country code")),
        ImportField("province", _model_label(Address, "province"), parse_text(80), ("state", "省", "省份")),
        ImportField("city", _model_label(Address, "city"), parse_text(80), ("town", "城市", "市")),
        ImportField("district", _model_label(Address, "district"), parse_text(80), ("county", "区", "区县")),
        ImportField("street", _model_label(Address, "street"), parse_text(200),
                    ("address", "street address", "地址", "街道", "详细地址")),
        ImportField("postcode", _model_label(Address, "postcode"), parse_text(12),
                    ("zip", "zip code", "postal code", "邮编", "邮政编码")),
    ]


def contact_fields() -> list[ImportField]:
    return [
        ImportField("full_name", _model_label(Contact, "full_name"), parse_text(200), NAME_ALIASES),
        _text_field(Contact, "family_name", "last name", "surname", "lastname", "姓"),
        _text_field(Contact, "given_name", "first name", "firstname", "名"),
        _text_field(Contact, "alternate_name", "english name", "pinyin", "英文名", "拼音", "别名"),
        _text_field(Contact, "job_title", "title", "position", "职位", "职务", "头衔"),
        ImportField("phone", _model_label(Contact, "phone"), parse_phone, PHONE_ALIASES),
        ImportField("phones", gettext_lazy("other mobile numbers"), parse_phone_list,
                    ("other phones", "other mobiles", "其他电话", "其他手机")),
        ImportField("work_phone", gettext_lazy("work phone"), parse_phone_list,
                    ("office phone", "business phone", "办公电话", "工作电话", "单位电话")),
        ImportField("home_phone", gettext_lazy("home phone"), parse_phone_list, ("家庭电话", "住宅电话")),
        ImportField("fax", gettext_lazy("fax"), parse_phone_list, ("fax number", "传真")),
        ImportField("other_phone", gettext_lazy("other phone"), parse_phone_list, ("其他号码",)),
        ImportField("email", _model_label(Contact, "email"), parse_email, EMAIL_ALIASES),
        ImportField("emails", gettext_lazy("other emails"), parse_email_list, ("other emails", "其他邮箱")),
        ImportField("account", gettext_lazy("account (name)"), parse_text(200),
                    ("company", "company name", "account name", "organization", "organisation", "employer",
                     "公司", "公司名称", "单位", "工作单位", "企业", "客户公司")),
        ImportField("account_external_id", gettext_lazy("account external ID"), parse_text(64),
                    ("company external id", "company id", "公司编号", "公司外部编号")),
        ImportField("birth_date", _model_label(Contact, "birth_date"), parse_date,
                    ("birthday", "date of birth", "dob", "生日", "出生日期")),
        ImportField("gender", _model_label(Contact, "gender"), parse_choice(Gender, GENDER_SYNONYMS), ("sex", "性别")),
        ImportField("income_band", _model_label(Contact, "income_band"), parse_choice(IncomeBand),
                    ("income", "收入", "收入水平")),
        _text_field(Contact, "occupation", "职业"),
        ImportField("education", _model_label(Contact, "education"), parse_choice(Education), ("学历", "教育程度")),
        ImportField("marital_status", _model_label(Contact, "marital_status"), parse_choice(MaritalStatus),
                    ("婚姻状况", "婚姻")),
        ImportField("household_size", _model_label(Contact, "household_size"), parse_integer(0, 32767),
                    ("家庭人数", "家庭成员数")),
        ImportField("interests", _model_label(Contact, "interests"), parse_list, ("兴趣", "爱好", "兴趣爱好")),
        ImportField("preferred_channel", _model_label(Contact, "preferred_channel"), parse_choice(Channel),
                    ("首选渠道", "偏好渠道")),
        ImportField("preferred_language", _model_label(Contact, "preferred_language"), parse_language,
                    ("language", "语言", "首选语言")),
        *[ImportField(name, _model_label(Contact, name), parse_boolean, aliases)
          for name, aliases in BOOLEAN_CONSENT_ALIASES.items()],
        ImportField("do_not_contact", _model_label(Contact, "do_not_contact"), parse_boolean,
                    ("dnc", "请勿联系", "勿扰")),
        *_shared_fields(Contact),
    ]


def account_fields() -> list[ImportField]:
    return [
        ImportField("name", _model_label(Account, "name"), parse_text(200),
                    ("account name", "company", "company name", "organization", "organisation", "公司", "公司名称",
                     "客户名称", "名称", "企业名称", "单位名称")),
        ImportField("kind", _model_label(Account, "kind"),
                    parse_choice(AccountKind, {"公司": "company", "企业": "company", "家庭": "household"}),
                    ("type", "类型", "客户类型")),
        ImportField("website", _model_label(Account, "website"), parse_url, ("web", "url", "homepage", "网站", "网址")),
        ImportField("phone", _model_label(Account, "phone"), parse_phone, PHONE_ALIASES + ("总机",)),
        ImportField("email", _model_label(Account, "email"), parse_email, EMAIL_ALIASES),
        ImportField("annual_revenue", _model_label(Account, "annual_revenue"), parse_decimal(16, 2),
                    ("revenue", "年收入", "营业额", "年营业额")),
        ImportField("currency", _model_label(Account, "currency"), parse_currency, ("币种", "货币")),
        ImportField("employees", _model_label(Account, "employees"), parse_integer(0, 2_147_483_647),
                    ("headcount", "staff", "员工数", "员工人数")),
        ImportField("is_key_account", _model_label(Account, "is_key_account"), parse_boolean,
                    ("key account", "大客户", "重点客户")),
        ImportField("description", _model_label(Account, "description"), parse_text(100_000),
                    ("notes", "描述", "备注", "说明")),
        ImportField("parent_external_id", gettext_lazy("parent account external ID"), parse_text(64),
                    ("parent id", "parent external id", "上级公司编号", "母公司编号")),
        *_shared_fields(Account),
    ]


def custom_import_fields(object_type: str) -> list[ImportField]:
    """``cf_<key>`` for every active custom field; its key and labels are header aliases."""
    found = []
    for custom in selectors.custom_fields_for(object_type):
        def parse(value, custom=custom):
            if isinstance(value, str):
                value = value.strip()
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            elif isinstance(value, datetime.datetime):
                value = value.date()
            try:
                return coerce_value(custom, value)
            except ValidationError as error:
                raise CellError(" ".join(error.messages)) from None

        aliases = tuple(alias for alias in (custom.key, custom.label, custom.label_zh) if alias)
        found.append(ImportField(f"cf_{custom.key}", custom.label, parse, aliases, custom_field=custom))
    return found


def fields_for(object_type: str) -> dict[str, ImportField]:
    base = contact_fields() if object_type == "contact" else account_fields()
    return {item.name: item for item in base + custom_import_fields(object_type)}


REQUIRED_NAME_FIELDS = {"contact": ("full_name", "family_name", "given_name"), "account": ("name",)}


# ======================================================================================
# Column mapping
# ======================================================================================
def header_key(text: str) -> str:
    """Headers compare without case, spaces or punctuation: "E-mail" = "email" = "EMAIL"."""
    text = unicodedata.normalize("NFKC", str(text or "")).lower()
    return re.sub(r"[\s_\-./()（）:：*#]+", "", text)


IGNORE = ""   # mapping value meaning "do not import this column"


def guess_mapping(headers: list[str], available: dict[str, ImportField]) -> dict[str, str]:
    """Header → field name for every header we recognise; unrecognised headers map to ``IGNORE``."""
    lookup: dict[str, str] = {}
    for name, item in available.items():  # labels and aliases first, exact field names win last
        for alias in (*item.aliases, str(item.label)):
            lookup.setdefault(header_key(alias), name)
        with translation.override("zh-hans"):
            lookup.setdefault(header_key(str(item.label)), name)
    for name in available:
        lookup[header_key(name)] = name
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        name = lookup.get(header_key(header), IGNORE)
        if name in used:
            name = IGNORE  # a second column meaning the same field is reported, not merged
        if name:
            used.add(name)
        mapping[header] = name
    return mapping


def parse_mapping_option(text: str) -> dict[str, str]:
    """``--map "Header=field,Other header=field"`` or a path to a JSON object file."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.endswith(".json") and Path(text).is_file():
        try:
            loaded = json.loads(Path(text).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ImportFileError([Issue(text, 0, "", _("The mapping file is not valid JSON: %(error)s")
                                         % {"error": error})]) from None
        if not isinstance(loaded, dict):
            raise ImportFileError([Issue(text, 0, "", _("The mapping file must hold an object of "
                                                        "“header”: “field” pairs."))])
        return {str(key): "" if value in (None, "-", "ignore") else str(value) for key, value in loaded.items()}
    mapping = {}
    for part in re.split(r",(?=[^,=]+=)", text):
        if "=" not in part:
            raise ImportFileError([Issue("--map", 0, "", _("Write the mapping as Header=field pairs separated by "
                                                           "commas; “%(part)s” has no “=”.") % {"part": part})])
        header, name = part.split("=", 1)
        name = name.strip()
        mapping[header.strip()] = "" if name in ("-", "ignore") else name
    return mapping


@dataclass
class ImportPlan:
    """A file's columns resolved to fields: what to read, and from where."""

    object_type: str
    file_label: str
    headers: list[str]
    mapping: dict[str, str]                       # header → field name ("" = not imported)
    columns: list[tuple[int, str, ImportField]]    # (position, header, field) to read
    available: dict[str, ImportField]
    defaults: dict[str, Any] = field(default_factory=dict)   # stored columns of a new record, before the row
    readers: list[tuple[int, str, str, Callable[[Any], Any]]] = field(init=False)  # (position, header, name, parse)
    phone_columns: tuple[tuple[str, str], ...] = field(init=False)  # the phone fields mapped, with their kinds

    def __post_init__(self) -> None:
        self.readers = [(position, header, item.name, item.parse) for position, header, item in self.columns]
        mapped = {item.name for _position, _header, item in self.columns}
        self.phone_columns = tuple((name, kind) for name, kind in PHONE_COLUMNS if name in mapped)

    def header_for(self, name: str) -> str:
        for _position, header, item in self.columns:
            if item.name == name:
                return header
        return str(self.available[name].label) if name in self.available else name

    def has(self, name: str) -> bool:
        return any(item.name == name for _position, _header, item in self.columns)


def build_plan(object_type: str, file_label: str, headers: list[str],
               overrides: dict[str, str] | None = None) -> tuple[ImportPlan, list[Issue]]:
    """Resolve the mapping; raises ``ImportFileError`` for problems that stop the import,
    returns warnings (columns not imported) alongside the plan."""
    available = fields_for(object_type)
    mapping = guess_mapping(headers, available)
    problems: list[Issue] = []
    for header, name in (overrides or {}).items():
        if header not in mapping:
            problems.append(Issue(file_label, 1, header, _("The mapping names column “%(header)s”, which is not "
                                                           "in the file.") % {"header": header}))
            continue
        if name and name not in available:
            if name.startswith("cf_"):
                message = _("Unknown custom field “%(key)s”; define it first or leave the column out.")
                problems.append(Issue(file_label, 1, header, message % {"key": name[3:]}))
            else:
                problems.append(Issue(file_label, 1, header, _("Unknown field “%(field)s”. Fields: %(fields)s.")
                                      % {"field": name, "fields": ", ".join(sorted(available))}))
            continue
        mapping[header] = name
    claimed = {name for header, name in (overrides or {}).items() if name and header in mapping}
    for header, name in mapping.items():  # an explicit choice beats a guess for the same field
        if name in claimed and (overrides or {}).get(header) != name:
            mapping[header] = IGNORE
    warnings: list[Issue] = []
    seen: dict[str, str] = {}
    columns: list[tuple[int, str, ImportField]] = []
    for position, header in enumerate(headers):
        name = mapping.get(header, IGNORE)
        if not header.strip():
            continue
        if not name:
            if header_key(header).startswith("cf") and header.lower().startswith("cf_"):
                problems.append(Issue(file_label, 1, header, _("Unknown custom field “%(key)s”; define it first or "
                                                               "leave the column out.") % {"key": header[3:]}))
            else:
                warnings.append(Issue(file_label, 1, header, _("Column not imported: no field matches its header."),
                                      level=Level.WARNING))
            continue
        if name in seen:
            problems.append(Issue(file_label, 1, header, _("Columns “%(first)s” and “%(second)s” both map to "
                                                           "“%(field)s”.") % {"first": seen[name], "second": header,
                                                                             "field": name}))
            continue
        seen[name] = header
        columns.append((position, header, available[name]))
    duplicates = {header for header in headers if header.strip() and headers.count(header) > 1}
    for header in sorted(duplicates):
        problems.append(Issue(file_label, 1, header, _("Two columns have the header “%(header)s”.")
                              % {"header": header}))
    required = REQUIRED_NAME_FIELDS[object_type]
    if not any(name in seen for name in required):
        label = capfirst(str(available[required[0]].label))
        problems.append(Issue(file_label, 1, label, _("Required column missing: the file needs a name column "
                                                      "(for example “%(example)s”).")
                              % {"example": "Full name / 姓名" if object_type == "contact" else "Name / 公司名称"}))
    if problems:
        raise ImportFileError(problems)
    model = Contact if object_type == "contact" else Account
    defaults = {column: model._meta.get_field(column).get_default()
                for column in (CONTACT_COLUMNS if object_type == "contact" else ACCOUNT_COLUMNS)}
    plan = ImportPlan(object_type, file_label, headers, {header: mapping.get(header, IGNORE) for header in headers},
                      columns, available, defaults)
    return plan, warnings


# ======================================================================================
# Reading files
# ======================================================================================
def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_xlsx(path: str | Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def detect_encoding(path: str | Path) -> str:
    """UTF-8 (with or without BOM) when the start of the file decodes as such, else GB18030."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


class TableFile:
    """Rows of a CSV or XLSX file: ``headers`` and ``rows()`` yielding (row number, cells)."""

    def __init__(self, path: str | Path, *, file_label: str | None = None, encoding: str | None = None,
                 sheet: str | None = None):
        self.path = Path(path)
        self.file_label = file_label or self.path.name
        self.is_xlsx = is_xlsx(self.path)
        self.encoding = None if self.is_xlsx else (encoding or detect_encoding(self.path))
        self.sheet = sheet
        self.header_row = 1
        self.headers: list[str] = []
        self._read_headers()

    # --- CSV ---
    def _csv_handle(self):
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ImportFileError([Issue(self.file_label, 0, "", _("Unknown encoding “%(encoding)s”.")
                                         % {"encoding": self.encoding})]) from None
        return open(self.path, newline="", encoding=self.encoding)

    def _delimiter(self, sample: str) -> str:
        """Comma, semicolon, tab or bar, guessed from the header line. Only the delimiter is
        taken from the guess: quoting stays Excel's ("" inside quotes is a quote)."""
        try:
            return csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|").delimiter
        except csv.Error:
            return ","

    # --- XLSX ---
    def _worksheet(self):
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a damaged file
            raise ImportFileError([Issue(self.file_label, 0, "", _("The spreadsheet cannot be read: %(error)s")
                                         % {"error": error})]) from None
        if self.sheet:
            if self.sheet not in workbook.sheetnames:
                raise ImportFileError([Issue(self.file_label, 0, "", _("No sheet named “%(sheet)s”; sheets: "
                                                                       "%(sheets)s.") % {
                    "sheet": self.sheet, "sheets": ", ".join(workbook.sheetnames)})])
            return workbook, workbook[self.sheet]
        return workbook, workbook.worksheets[0]

    def _read_headers(self) -> None:
        for row_number, cells in self._raw_rows():
            if any(cell_text(cell) for cell in cells):
                self.header_row = row_number
                self.headers = [cell_text(cell) for cell in cells]
                while self.headers and not self.headers[-1]:
                    self.headers.pop()
                return
        raise ImportFileError([Issue(self.file_label, 1, "", _("The file is empty: no header row."))])

    def _raw_rows(self) -> Iterator[tuple[int, list]]:
        if self.is_xlsx:
            workbook, worksheet = self._worksheet()
            try:
                for row_number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
                    yield row_number, list(cells)
            finally:
                workbook.close()
            return
        handle = self._csv_handle()
        row_number = 0
        try:
            sample = handle.read(4096)
            handle.seek(0)
            reader = csv.reader(handle, delimiter=self._delimiter(sample))
            for row_number, cells in enumerate(reader, start=1):
                yield row_number, cells
        except UnicodeDecodeError:
            raise ImportFileError([Issue(self.file_label, row_number + 1, "", _(
                "The file is not valid %(encoding)s text here; save it as UTF-8 or give the right encoding "
                "(for example GB18030).") % {"encoding": self.encoding})]) from None
        except csv.Error as error:
            raise ImportFileError([Issue(self.file_label, row_number + 1, "", _("Broken CSV: %(error)s")
                                         % {"error": error})]) from None
        finally:
            handle.close()

    def rows(self, after_row: int = 0) -> Iterator[tuple[int, list]]:
        """Data rows after the header (and after ``after_row``), skipping empty lines."""
        skip = max(self.header_row, after_row)
        for row_number, cells in self._raw_rows():
            if row_number <= skip:
                continue
            if self.is_xlsx:
                if not cells or not any(cell is not None and cell != "" for cell in cells):
                    continue
            elif not any(cells):  # CSV cells are strings: empty ones are false
                continue
            yield row_number, cells

    def estimate_rows(self) -> int:
        """Data rows, counted cheaply for the progress bar (exact unless cells span lines)."""
        if self.is_xlsx:
            workbook, worksheet = self._worksheet()
            try:
                return max(0, (worksheet.max_row or 0) - self.header_row)
            finally:
                workbook.close()
        lines = 0
        last = b"\n"
        with open(self.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                lines += block.count(b"\n")
                last = block[-1:]
        if last != b"\n":
            lines += 1
        return max(0, lines - self.header_row)


# ======================================================================================
# Normalized rows
# ======================================================================================
class ParsedRow:
    """One data row after parsing: field → value for every non-empty mapped cell."""

    __slots__ = ("number", "values", "issues", "ok", "keys", "base", "search")

    def __init__(self, number: int, values: dict[str, Any], issues: list[Issue] | None = None, ok: bool = True,
                 base: tuple | None = None, search: str | None = None):
        self.number = number
        self.values = values
        self.issues = [] if issues is None else issues
        self.ok = ok                # False once an error is found
        self.keys: set | None = None  # its dedup keys, computed once (see _Writer.keys)
        self.base = base            # stored columns (the writer's ``columns`` order) of a new record from this row
        self.search = search        # search text of that new record, when the row alone decides it

    def __reduce__(self):
        # Parsed rows travel from the parse workers and through the spool a million at a
        # time: as one flat tuple they unpickle in a third of the time an instance takes.
        return ParsedRow, (self.number, self.values, self.issues or None, self.ok, self.base, self.search)

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)
        if issue.level == Level.ERROR:
            self.ok = False


# Phone kinds as plain strings (the stored values): parsed rows pickle them by the million.
PHONE_COLUMNS = (("phone", str(PhoneKind.MOBILE.value)), ("phones", str(PhoneKind.MOBILE.value)),
                 ("work_phone", str(PhoneKind.WORK.value)), ("home_phone", str(PhoneKind.HOME.value)),
                 ("fax", str(PhoneKind.FAX.value)), ("other_phone", str(PhoneKind.OTHER.value)))
_MOBILE = str(PhoneKind.MOBILE.value)
_PHONE_NAMES = frozenset(name for name, _kind in PHONE_COLUMNS)


def parse_row(plan: ImportPlan, number: int, cells: list) -> ParsedRow:
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    count = len(cells)
    for position, header, name, parse in plan.readers:
        raw = cells[position] if position < count else None
        if raw is None or (isinstance(raw, str) and (not raw or raw.isspace())):
            continue
        try:
            value = parse(raw)
        except CellError as error:
            issues.append(Issue(plan.file_label, number, header, str(error), cell_text(raw)[:200]))
            continue
        if value is None or value == "" or value == []:
            continue
        values[name] = value
    if plan.object_type == "contact":
        if plan.phone_columns:
            phones: dict[str, str] = {}  # number → kind, in column order: the first number is the primary one
            for name, kind in plan.phone_columns:
                found = values.pop(name, None)
                for number_e164 in [found] if isinstance(found, str) else found or []:
                    if number_e164 not in phones or kind != _MOBILE:
                        phones[number_e164] = kind  # a work/home/fax column says what a number in "phone" is
            if phones:
                values["_phones"] = list(phones.items())
        if "email" in values or "emails" in values:
            emails = ([values.pop("email")] if "email" in values else []) + values.pop("emails", [])
            values["_emails"] = list(dict.fromkeys(emails))
    if "country" in values:
        values["country"] = values["country"].upper()
    row = ParsedRow(number, values, issues, not issues)
    if not issues and plan.defaults:
        prepare_new_record(plan, row)
    return row


def prepare_new_record(plan: ImportPlan, row: ParsedRow) -> None:
    """What a new record's columns and search text would be, from the row alone.

    Done here, in the parser thread or process, so that the process writing to the database
    only adds what needs the database (owner, account, custom fields). The search text is
    left for later when it depends on an account looked up by external ID.
    """
    values = row.values
    state = dict(plan.defaults)
    if plan.object_type == "contact":
        for name in values.keys() & CONTACT_DIRECT_SET:
            state[name] = values[name]
        if "full_name" not in values:
            state["full_name"] = display_name(state["family_name"], state["given_name"])
        if "_phones" in values:
            state["phone"] = values["_phones"][0][0]
        if "_emails" in values:
            state["email"] = values["_emails"][0]
        state["external_id"] = values.get("external_id")
        if "account_external_id" not in values:
            account = values.get("account")
            row.search = services.contact_search_text(_SearchView(
                full_name=state["full_name"], alternate_name=state["alternate_name"], email=state["email"],
                phone=state["phone"], account_id=1 if account else None,
                account=_AccountName(account) if account else None, external_id=state["external_id"]))
    else:
        for name in values.keys() & ACCOUNT_DIRECT_SET:
            state[name] = values[name]
        state["external_id"] = values.get("external_id")
        row.search = services.account_search_text(_SearchView(
            name=state["name"], email=state["email"], phone=state["phone"], website=state["website"],
            external_id=state["external_id"]))
    row.base = tuple(state.values())


def _parsed(table: TableFile, plan: ImportPlan, chunk_size: int, after_row: int,
            spool: _Spool | None = None) -> Iterator[list[ParsedRow]]:
    chunk: list[ParsedRow] = []
    for number, cells in table.rows(after_row):
        chunk.append(parse_row(plan, number, cells))
        if len(chunk) >= chunk_size:
            if spool is not None:
                spool.add_block(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
            yield chunk
            chunk = []
    if chunk:
        if spool is not None:
            spool.add_block(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
        yield chunk


# Files of at least PARALLEL_MIN_ROWS rows are parsed by a pool of worker processes (one
# per core), PARSE_BLOCK_ROWS rows at a time; the process that writes to the database
# only reads the CSV and unpickles the parsed rows. Workers are forked, so they share the
# plan (its parsers are closures, not picklable) and never touch the database.
PARALLEL_MIN_ROWS = 20_000
PARSE_BLOCK_ROWS = 1_000
BLOCKS_IN_FLIGHT = 16
_worker_plan: ImportPlan | None = None


def _parse_block(block: list[tuple[int, list]]) -> bytes:
    plan = _worker_plan
    return pickle.dumps([parse_row(plan, number, cells) for number, cells in block], protocol=pickle.HIGHEST_PROTOCOL)


def _worker_start(language: str) -> None:
    translation.activate(language)
    gc.freeze()    # what the fork inherited is never garbage; collections would only copy its pages
    gc.disable()   # a block's rows are freed by reference counting when it is sent


# The collector's passes cost a third of an import's time: every chunk allocates a few
# hundred thousand objects (rows, dicts, tuples) that live until the chunk is written, so
# they reach the old generation and trigger full collections over all of Django's objects,
# yet they hold no reference cycles and reference counting frees them (a 100,000-row import
# leaves no cyclic garbage of its own). While any import runs, the objects alive before it
# are frozen out of collections and automatic collections are off.
_collector_lock = threading.Lock()
_collector_users = 0
_collector_was_enabled = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    global _collector_users, _collector_was_enabled
    with _collector_lock:
        _collector_users += 1
        if _collector_users == 1:
            _collector_was_enabled = gc.isenabled()
            gc.freeze()
            gc.disable()
    try:
        yield
    finally:
        with _collector_lock:
            _collector_users -= 1
            if _collector_users == 0:
                gc.unfreeze()
                if _collector_was_enabled:
                    gc.enable()


def use_processes(table: TableFile, plan: ImportPlan) -> bool:
    import multiprocessing
    import os

    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if threading.current_thread() is not threading.main_thread():
        return False  # a job thread of a server: forking a multi-threaded process is not safe
    if any(item.custom_field is not None for _position, _header, item in plan.columns):
        return False  # custom field parsers may read definitions from the database
    return table.estimate_rows() >= PARALLEL_MIN_ROWS


def _parsed_in_processes(table: TableFile, plan: ImportPlan, chunk_size: int, after_row: int,
                         spool: _Spool | None = None) -> Iterator[list[ParsedRow]]:
    import multiprocessing
    import os

    global _worker_plan
    _worker_plan = plan
    stop = threading.Event()
    slots = threading.Semaphore(BLOCKS_IN_FLIGHT)   # bounds the parsed blocks waiting in memory

    def blocks() -> Iterator[list[tuple[int, list]]]:
        block: list[tuple[int, list]] = []
        for item in table.rows(after_row):
            block.append(item)
            if len(block) >= PARSE_BLOCK_ROWS:
                while not slots.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                yield block
                block = []
        if block:
            yield block

    pool = multiprocessing.get_context("fork").Pool(os.cpu_count(), initializer=_worker_start,
                                                    initargs=(translation.get_language() or "en",))
    try:
        yield from _regrouped(_loaded(pool.imap(_parse_block, blocks()), slots, spool), chunk_size)
    finally:
        stop.set()
        pool.terminate()
        pool.join()
        _worker_plan = None


def _loaded(blocks: Iterator[bytes], slots: threading.Semaphore | None,
            spool: _Spool | None) -> Iterator[list[ParsedRow]]:
    for data in blocks:
        if slots is not None:
            slots.release()
        if spool is not None:
            spool.add_block(data)
        yield pickle.loads(data)


def _regrouped(blocks: Iterator[list[ParsedRow]], chunk_size: int) -> Iterator[list[ParsedRow]]:
    chunk: list[ParsedRow] = []
    for block in blocks:
        chunk.extend(block)
        while len(chunk) >= chunk_size:
            yield chunk[:chunk_size]
            chunk = chunk[chunk_size:]
    if chunk:
        yield chunk


def parse_chunks(table: TableFile, plan: ImportPlan, chunk_size: int, after_row: int = 0,
                 spool: _Spool | None = None) -> Iterator[list[ParsedRow]]:
    """Parsed rows in chunks (as parsed, also kept in ``spool``): from worker processes for
    a large file, else from a helper thread one chunk ahead of the consumer."""
    if use_processes(table, plan):
        return _parsed_in_processes(table, plan, chunk_size, after_row, spool)
    return in_background(lambda: _parsed(table, plan, chunk_size, after_row, spool))


def in_background(make_chunks: Callable[[], Iterator[list[ParsedRow]]]) -> Iterator[list[ParsedRow]]:
    """Run ``make_chunks`` in a helper thread, one chunk ahead of the consumer.

    Parsing is pure Python; the consumer spends much of its time inside the database
    driver, which releases the GIL, so the two overlap on a second core.
    """
    handoff: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    end = object()
    language = translation.get_language()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        translation.activate(language or "en")  # messages in the language of the user who imports
        try:
            for chunk in make_chunks():
                if not hand_over(chunk):
                    return
            hand_over(end)
        except BaseException as error:  # handed over and re-raised in the consumer
            hand_over(error)

    producer = threading.Thread(target=produce, name="guanxi-import-parser", daemon=True)
    producer.start()
    try:
        while True:
            item = handoff.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        producer.join()


class _Spool:
    """Parsed rows kept on disk between the check and the write pass, as the pickled blocks
    the parser produced: reading them back costs a fraction of parsing the file again."""

    def __init__(self):
        self.file = tempfile.TemporaryFile(dir=uploads_dir(), prefix="spool-")
        self.count = 0

    def add_block(self, data: bytes) -> None:
        self.file.write(len(data).to_bytes(8, "little"))
        self.file.write(data)
        self.count += 1

    def blocks(self) -> Iterator[bytes]:
        self.file.seek(0)
        for _number in range(self.count):
            size = int.from_bytes(self.file.read(8), "little")
            yield self.file.read(size)

    def chunks(self, chunk_size: int) -> Iterator[list[ParsedRow]]:
        return _regrouped(_loaded(self.blocks(), None, None), chunk_size)

    def close(self) -> None:
        self.file.close()


# ======================================================================================
# Resolution and writing, shared by both object types
# ======================================================================================
class _SearchView:
    """The attributes ``services.contact_search_text`` / ``account_search_text`` read,
    without building a model instance per row (that alone would cost seconds a million)."""

    __slots__ = ("full_name", "alternate_name", "email", "phone", "account_id", "account", "external_id", "name",
                 "website")

    def __init__(self, *, full_name=None, alternate_name=None, email=None, phone=None, account_id=None,
                 account=None, external_id=None, name=None, website=None):
        self.full_name, self.alternate_name, self.email, self.phone = full_name, alternate_name, email, phone
        self.account_id, self.account, self.external_id = account_id, account, external_id
        self.name, self.website = name, website


class _AccountName:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


@dataclass
class Decision:
    """What one row does: create a record, update one, or nothing (an error)."""

    row: ParsedRow
    record_id: int | None = None      # the record to update, or the id reserved for a create
    create: bool = False


@dataclass
class RunCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0


class _References:
    """Owners, territories and accounts by the keys files use, cached for the whole run."""

    def __init__(self, actor: User):
        self.actor = actor
        self.users: dict[str, tuple[int, int | None, int | None] | None] = {}
        self.territories: dict[str, int | None] = {}
        self.accounts_by_external_id: dict[str, tuple[int, str] | None] = {}
        self.accounts_by_name: dict[str, list[int]] = {}    # visible accounts with that exact name

    def load_users(self, usernames: set[str]) -> None:
        missing = [name for name in usernames if name not in self.users]
        for name in missing:
            self.users[name] = None
        for start in range(0, len(missing), 5000):
            for user_id, username, team_id, territory_id in User.objects.filter(
                    username__in=missing[start:start + 5000], is_active=True).values_list(
                    "id", "username", "team_id", "territory_id"):
                self.users[username] = (user_id, team_id, territory_id)

    def load_territories(self, codes: set[str]) -> None:
        missing = [code for code in codes if code not in self.territories]
        for code in missing:
            self.territories[code] = None
        for territory_id, code in Territory.objects.filter(code__in=missing).values_list("id", "code"):
            self.territories[code] = territory_id

    def load_accounts(self, external_ids: set[str]) -> None:
        missing = [key for key in external_ids if key not in self.accounts_by_external_id]
        for key in missing:
            self.accounts_by_external_id[key] = None
        visible = selectors.visible_accounts(self.actor)
        for start in range(0, len(missing), 5000):
            for account_id, external_id, name in visible.filter(
                    external_id__in=missing[start:start + 5000]).values_list("id", "external_id", "name"):
                self.accounts_by_external_id[external_id] = (account_id, name)

    def forget_account(self, external_id: str) -> None:
        self.accounts_by_external_id.pop(external_id, None)


def _in_batches(values: list, size: int = 5000) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# PostgreSQL plans ``= ANY(array)`` of 10,000 keys as a sequential scan once the table is
# large (a chunk's lookups then read the whole table, the import's cost growing with its
# square); arrays of 1,000 keep to the index: 10,000 phone numbers among a million rows are
# found in 35 ms instead of 200 ms. While an import fills a table that was empty, its
# statistics still describe the empty table, so the planner scans it sequentially even for
# 1,000 keys (37 ms per lookup at 300,000 rows, a third of the write time): the lookups
# run with sequential scans disabled — every one of them has an index.
POSTGRES_LOOKUP_BATCH = 1000


def _rows_where_in(sql: str, values: list) -> list[tuple]:
    """Rows of ``sql`` (whose ``IN ({})`` gets the placeholders) for ``values``, in batches.

    Plain SQL because building an ORM ``__in`` filter costs ~10 µs per value, and the
    import looks up every external ID, phone and email of every chunk.
    """
    found: list[tuple] = []
    postgres = connection.vendor == "postgresql"
    if postgres:  # one array parameter instead of thousands of placeholders
        sql = sql.replace("IN ({})", "= ANY(%s)")
    if not values:
        return found
    with connection.cursor() as cursor:
        if postgres:
            # A transaction-local setting, put back after the lookups (an error rolls the
            # savepoint back, and the setting with it).
            with transaction.atomic():
                cursor.execute("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
                before = cursor.fetchone()[0]
                for batch in _in_batches(values, POSTGRES_LOOKUP_BATCH):
                    cursor.execute(sql, [batch])
                    found.extend(cursor.fetchall())
                cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [before])
            return found
        for batch in _in_batches(values, 5000):
            cursor.execute(sql.format(", ".join(["%s"] * len(batch))), batch)
            found.extend(cursor.fetchall())
    return found


class _Writer:
    """Shared machinery of the contact and account writers: people, tags, addresses,
    custom fields, and the set-based write of a wave of decisions."""

    model: type[models.Model]
    object_type: str
    columns: tuple[str, ...]  # every stored column except the primary key

    def __init__(self, plan: ImportPlan, actor: User, references: _References, counts: RunCounts,
                 report: Callable[[Issue], None], *, write: bool):
        self.plan = plan
        self.actor = actor
        self.references = references
        self.counts = counts
        self.report = report
        self.write = write
        self.change_scope = scope_for(actor, self.object_type, "change")
        self.may_create = scope_for(actor, self.object_type, "create") != Visibility.NONE
        self.custom_fields = {item.custom_field.key: item.custom_field for item in plan.available.values()
                              if item.custom_field is not None}
        self.required_custom = [custom for custom in self.custom_fields.values() if custom.required]
        self.tag_ids: dict[str, int] = {}
        self.decided: list[Decision] = []      # every decision taken, for the dry-run counts
        self.match_everything = write          # a check matches only rows whose outcome depends on it
        self.has_custom_columns = any(item.custom_field is not None for _p, _h, item in plan.columns)
        mapped = {item.name for _position, _header, item in plan.columns}
        self.maps_people = not mapped.isdisjoint(("owner", "territory"))   # else nothing to resolve per row
        self.maps_address = not mapped.isdisjoint(ADDRESS_FIELDS)
        self.tag_lists: dict[tuple[str, ...], list[int]] = {}   # a file repeats a few tag lists many times
        self.defaults = {column: self.model._meta.get_field(column).get_default() for column in self.columns}
        self.staged = True   # SQLite: through a staging table while the full-text trigger is in place

    # --- reporting ---
    def error(self, row: ParsedRow, name: str, message: str, value: str = "") -> None:
        issue = Issue(self.plan.file_label, row.number, self.plan.header_for(name) if name else "", message, value)
        row.add(issue)
        self.report(issue)

    def note(self, row: ParsedRow, name: str, message: str, level: str = Level.NOTE) -> None:
        issue = Issue(self.plan.file_label, row.number, self.plan.header_for(name) if name else "", message,
                      level=level)
        row.add(issue)
        self.report(issue)

    # --- references ---
    def resolve_people(self, rows: list[ParsedRow]) -> None:
        if not self.maps_people:
            return
        self.references.load_users({row.values["owner"] for row in rows if "owner" in row.values})
        self.references.load_territories({row.values["territory"] for row in rows if "territory" in row.values})
        for row in rows:
            if "owner" in row.values and self.references.users[row.values["owner"]] is None:
                self.error(row, "owner", _("No active user has this username."), row.values["owner"])
            if "territory" in row.values and self.references.territories[row.values["territory"]] is None:
                self.error(row, "territory", _("No territory has this code."), row.values["territory"])

    def assign_people(self, state: dict, row: ParsedRow, is_new: bool) -> None:
        """Owner, team and territory exactly as ``services._assign_people`` sets them."""
        values = row.values
        owner = self.references.users.get(values["owner"]) if "owner" in values else None
        owner_territory = None
        if owner is not None and owner[0] != state["owner_id"]:
            state["owner_id"], state["team_id"], owner_territory = owner
            if owner_territory and "territory" not in values:
                state["territory_id"] = owner_territory
        elif is_new and state["owner_id"] is None:
            state["owner_id"], state["team_id"] = self.actor.pk, self.actor.team_id
            owner_territory = self.actor.territory_id
        if "territory" in values:
            state["territory_id"] = self.references.territories[values["territory"]]
        elif is_new and state["territory_id"] is None:
            state["territory_id"] = owner_territory

    def check_custom(self, row: ParsedRow, is_new: bool, existing: dict | None) -> dict:
        custom = dict(existing or {})
        if self.has_custom_columns:
            for name, value in row.values.items():
                if name.startswith("cf_"):
                    custom[name[3:]] = value
        if is_new:
            for definition in self.required_custom:
                if custom.get(definition.key) in (None, ""):
                    self.error(row, f"cf_{definition.key}", _("This field is required."))
        return custom

    def refuse_creates_without_right(self, creates: list[Decision]) -> None:
        if not self.may_create:
            for decision in creates:
                self.error(decision.row, "", _("This row matches no existing record, and you may not create "
                                               "%(objects)s.") % {"objects": self.model._meta.verbose_name_plural})

    def check_changeable(self, rows_and_ids: list[tuple[ParsedRow, int, str]]) -> set[int]:
        """Ids among the matched records the actor may change; rows matching others are errors."""
        ids = {record_id for _row, record_id, _how in rows_and_ids}
        if self.change_scope == Visibility.ALL or not ids:
            allowed = ids
        else:
            visible = (selectors.visible_contacts(self.actor, "change") if self.object_type == "contact"
                       else selectors.visible_accounts(self.actor, "change"))
            allowed = set()
            if self.change_scope != Visibility.NONE:
                for batch in _in_batches(sorted(ids)):
                    allowed.update(visible.filter(pk__in=batch).values_list("pk", flat=True))
        for row, record_id, how in rows_and_ids:
            if record_id not in allowed:
                self.error(row, how, _("This matches %(object)s #%(id)d, which you may not change.")
                           % {"object": self.object_type, "id": record_id})
        return allowed

    # --- tags and addresses ---
    def tag_ids_for(self, names: list[str]) -> list[int]:
        key = tuple(names)
        found = self.tag_lists.get(key)
        if found is None:
            found = self.tag_lists[key] = self._tag_ids_for(names)
        return list(found)

    def _tag_ids_for(self, names: list[str]) -> list[int]:
        wanted = {name.strip()[:60] for name in names if name.strip()}
        missing = [name for name in wanted if name not in self.tag_ids]
        if missing:
            for tag_id, name in Tag.objects.filter(name__in=missing).values_list("id", "name"):
                self.tag_ids[name] = tag_id
            for name in missing:
                if name not in self.tag_ids and self.write:
                    self.tag_ids[name] = Tag.objects.get_or_create(name=name)[0].pk
        return sorted(self.tag_ids[name] for name in wanted if name in self.tag_ids)

    def address_values(self, values: dict) -> dict:
        if not self.maps_address:
            return {}
        return {name: values[name] for name in ADDRESS_FIELDS if name in values}

    def write_addresses(self, creates: list[tuple[int, dict]], updates: list[tuple[int, dict]]) -> None:
        """New records get one primary address; updated records have their primary (else first)
        address changed, or one added."""
        owner_column = f"{self.object_type}_id"
        existing: dict[int, int] = {}
        if updates:
            for batch in _in_batches([record_id for record_id, _values in updates]):
                for address_id, record_id in (Address.objects.filter(**{f"{owner_column}__in": batch})
                                              .order_by("-is_primary", "id").values_list("id", owner_column)):
                    existing.setdefault(record_id, address_id)
        to_insert = []
        defaults = {name: Address._meta.get_field(name).get_default() for name in ADDRESS_FIELDS}
        for record_id, values in creates + [(record_id, values) for record_id, values in updates
                                            if record_id not in existing]:
            address = {**defaults, **values}
            to_insert.append((record_id, Address.Kind.WORK, True, *[address[name] for name in ADDRESS_FIELDS]))
        bulk_writes.insert_rows(Address, (owner_column, "kind", "is_primary", *ADDRESS_FIELDS), to_insert)
        for record_id, values in updates:
            if record_id in existing:
                Address.objects.filter(pk=existing[record_id]).update(**values)

    def write_tags(self, through, owner_column: str, assignments: list[tuple[int, list[int], bool]]) -> None:
        """``assignments``: (record id, tag ids, replace existing?)."""
        replaced = [record_id for record_id, _tags, replace in assignments if replace]
        if replaced:
            bulk_writes.delete_where_in(through, owner_column, replaced)
        bulk_writes.insert_rows(through, (owner_column, "tag_id"),
                                [(record_id, tag_id) for record_id, tag_ids, _replace in assignments
                                 for tag_id in tag_ids])

    # --- the run over a wave ---
    def keys(self, row: ParsedRow) -> set:
        if row.keys is None:
            row.keys = self.dedup_keys(row)
        return row.keys

    def dedup_keys(self, row: ParsedRow) -> set:
        raise NotImplementedError

    def references_of(self, row: ParsedRow) -> set:
        return set()

    has_references = False   # whether references_of can name other rows' keys

    def process(self, rows: list[ParsedRow]) -> None:
        """Resolve and (when writing) store the rows of one chunk, wave by wave: a row whose
        keys meet a row earlier in the same wave waits for the next wave, so it finds that
        row's record in the database exactly as if the rows had been imported one by one."""
        wave: list[ParsedRow] = []
        pending: set = set()
        for row in rows:
            keys = self.keys(row)
            if wave and (not keys.isdisjoint(pending)
                         or self.has_references and not self.references_of(row).isdisjoint(pending)):
                self.process_wave(wave)
                wave, pending = [], set()
            wave.append(row)
            pending |= keys
        if wave:
            self.process_wave(wave)

    def process_wave(self, rows: list[ParsedRow]) -> None:
        raise NotImplementedError

    def rows_to_match(self, rows: list[ParsedRow]) -> list[ParsedRow]:
        """The valid rows to look up among existing records. Writing needs all of them; a
        check (before an all-or-nothing import) only those whose verdict depends on the
        match: a row the actor may not be allowed to change, or one that lacks what a new
        record needs (a name, required custom fields)."""
        live = [row for row in rows if row.ok]
        if self.match_everything or self.change_scope != Visibility.ALL:
            return live
        required = REQUIRED_NAME_FIELDS[self.object_type]
        custom_names = [f"cf_{custom.key}" for custom in self.required_custom]
        if not custom_names:
            return [row for row in live if row.values.keys().isdisjoint(required)]
        return [row for row in live
                if row.values.keys().isdisjoint(required)
                or any(name not in row.values for name in custom_names)]

    def finish_wave(self, rows: list[ParsedRow], decisions: list[Decision], creates: list, updates: list,
                    deferred: list[Decision]) -> None:
        """Count, write (unless only checking), then take the rows that must wait."""
        self.counts.errors += sum(1 for row in rows if not row.ok)  # rows arrive valid; these failed here
        if self.write:
            self.write_creates(creates)
            self.write_updates(updates)
        self.decided.extend(decision for decision in decisions if decision.row.ok)
        if deferred:
            self.process_wave([decision.row for decision in deferred])

    def write_creates(self, prepared: list) -> None:
        raise NotImplementedError

    def write_updates(self, prepared: list) -> None:
        raise NotImplementedError


# ======================================================================================
# Contacts
# ======================================================================================
CONTACT_COLUMNS = tuple(
    f.attname for f in Contact._meta.concrete_fields if not f.primary_key
)
CONTACT_DIRECT_FIELDS = tuple(name for name in services.CONTACT_FIELDS if name != "external_id")
CONTACT_DIRECT_SET = frozenset(CONTACT_DIRECT_FIELDS)
CONSENT_CHANNELS = services.CONSENT_FIELDS
_contact_row = operator.itemgetter(*CONTACT_COLUMNS)   # a state dict's stored values, in column order


class ContactWriter(_Writer):
    model = Contact
    object_type = "contact"
    columns = CONTACT_COLUMNS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.may_create_accounts = scope_for(self.actor, "account", "create") != Visibility.NONE
        self.account_required_fields = [custom.key for custom in selectors.custom_fields_for("account")
                                        if custom.required]
        self.account_writer: AccountWriter | None = None

    def dedup_keys(self, row: ParsedRow) -> set:
        values = row.values
        keys = {("p", number) for number, _kind in values.get("_phones", ())}
        keys |= {("e", email) for email in values.get("_emails", ())}
        if "external_id" in values:
            keys.add(("x", values["external_id"]))
        return keys

    # --- resolution ---
    def resolve_accounts(self, rows: list[ParsedRow]) -> dict[str, int | None]:
        """Account ids for the account columns: by external ID (must exist and be visible),
        else by exact name among visible accounts (created when missing and allowed)."""
        self.references.load_accounts({row.values["account_external_id"] for row in rows
                                       if "account_external_id" in row.values})
        by_name = self.references.accounts_by_name
        names = {row.values["account"] for row in rows
                 if "account" in row.values and "account_external_id" not in row.values} - by_name.keys()
        for batch in _in_batches(sorted(names)):
            for name in batch:
                by_name[name] = []
            for account_id, name in selectors.visible_accounts(self.actor).filter(name__in=batch).values_list(
                    "id", "name").order_by("id"):
                by_name[name].append(account_id)
        names_to_create = []
        resolved: dict[str, int | None] = {}
        for row in rows:
            values = row.values
            if "account_external_id" in values:
                found = self.references.accounts_by_external_id.get(values["account_external_id"])
                if found is None:
                    self.error(row, "account_external_id", _("No account you can see has this external ID."),
                               values["account_external_id"])
                else:
                    values["_account"] = found
            elif "account" in values:
                name = values["account"]
                matches = by_name.get(name, [])
                if len(matches) > 1:
                    self.error(row, "account", _("Several accounts have this name; give the account external ID "
                                                 "instead."), name)
                elif matches:
                    values["_account"] = (matches[0], name)
                elif not self.may_create_accounts:
                    self.error(row, "account", _("No account has this name, and you may not create accounts."),
                               name)
                elif self.account_required_fields:
                    self.error(row, "account", _("No account has this name, and a new one needs %(fields)s; "
                                                 "import the accounts first.")
                               % {"fields": ", ".join(self.account_required_fields)}, name)
                else:
                    names_to_create.append(name)
                    values["_account_new"] = name
        if names_to_create and self.write:
            resolved = self.create_accounts(sorted(set(names_to_create)))
            for name, account_id in resolved.items():
                by_name[name] = [account_id]
            for row in rows:
                if "_account_new" in row.values:
                    name = row.values.pop("_account_new")
                    row.values["_account"] = (resolved[name], name)
        return resolved

    def create_accounts(self, names: list[str]) -> dict[str, int]:
        """Companies named in a contact file that do not exist yet, made by the account writer
        so they are stored exactly as an account import (or ``account_create``) would."""
        if self.account_writer is None:
            account_plan = ImportPlan("account", self.plan.file_label, [], {}, [], fields_for("account"))
            self.account_writer = AccountWriter(account_plan, self.actor, self.references, RunCounts(),
                                                lambda issue: None, write=True)
        rows = [ParsedRow(0, {"name": name}) for name in names]
        self.account_writer.create_all(rows)
        return {row.values["name"]: row.values["_id"] for row in rows}

    def match_existing(self, rows: list[ParsedRow]) -> list[Decision]:
        values_of = [row.values for row in rows]
        external_ids = [values["external_id"] for values in values_of if "external_id" in values]
        by_external_id: dict[str, int] = dict(_rows_where_in(
            "SELECT external_id, id FROM core_contact WHERE external_id IN ({})", external_ids))
        phones = sorted({number for values in values_of for number, _kind in values.get("_phones", ())})
        emails = sorted({email for values in values_of for email in values.get("_emails", ())})
        by_phone: dict[str, int] = {}
        for number, contact_id in sorted(_rows_where_in(
                "SELECT number, contact_id FROM core_contactphone WHERE number IN ({})", phones),
                key=lambda pair: pair[1]):
            by_phone.setdefault(number, contact_id)
        by_email: dict[str, int] = {}
        for email, contact_id in sorted(_rows_where_in(
                "SELECT email, contact_id FROM core_contactemail WHERE email IN ({})", emails),
                key=lambda pair: pair[1]):
            by_email.setdefault(email, contact_id)
        candidates = sorted(set(by_phone.values()) | set(by_email.values()))
        matched_external: dict[int, str | None] = dict(_rows_where_in(
            "SELECT id, external_id FROM core_contact WHERE id IN ({})", candidates))

        decisions: list[Decision] = []
        to_check: list[tuple[ParsedRow, int, str]] = []
        for row in rows:
            values = row.values
            external_id = values.get("external_id")
            if external_id and external_id in by_external_id:
                decisions.append(Decision(row, by_external_id[external_id]))
                to_check.append((row, by_external_id[external_id], "external_id"))
                continue
            phone_match = next((by_phone[number] for number, _kind in values.get("_phones", ())
                                if number in by_phone), None)
            email_match = next((by_email[email] for email in values.get("_emails", ()) if email in by_email), None)
            match, how = (phone_match, "phone") if phone_match else (email_match, "email")
            if match and external_id and matched_external.get(match):
                # Another source record shares the number or address (a family line, a shared
                # mailbox): the external ID says it is a different person.
                self.note(row, how, _("Shares this %(key)s with contact #%(id)d (external ID %(other)s); created "
                                      "as a separate contact.") % {"key": how, "id": match,
                                                                     "other": matched_external[match]},
                          level=Level.WARNING)
                decisions.append(Decision(row, None, create=True))
                continue
            if match:
                if phone_match and email_match and phone_match != email_match:
                    self.note(row, "email", _("The email belongs to contact #%(other)d; matched contact #%(id)d "
                                              "by phone.") % {"other": email_match, "id": phone_match},
                              level=Level.WARNING)
                self.note(row, how, _("Matched existing contact #%(id)d by %(key)s; updated it.")
                          % {"id": match, "key": how})
                decisions.append(Decision(row, match))
                to_check.append((row, match, how))
                continue
            decisions.append(Decision(row, None, create=True))
        self.check_changeable(to_check)
        return [decision for decision in decisions if decision.row.ok]

    # --- the wave ---
    def process(self, rows: list[ParsedRow]) -> None:
        if not self.write and not self.match_everything:
            # A check (not a dry run) writes nothing, so a later row cannot find an earlier
            # row's record: the waves would give the same verdicts, one wave gives them sooner.
            self.process_wave(rows)
            return
        super().process(rows)

    def process_wave(self, rows: list[ParsedRow]) -> None:
        self.resolve_people(rows)
        self.resolve_accounts(rows)
        decisions, deferred = _split_repeated_targets(self.match_existing(self.rows_to_match(rows)))
        creates = [decision for decision in decisions if decision.create]
        self.refuse_creates_without_right(creates)
        for decision in creates:
            if decision.row.ok and not any(name in decision.row.values
                                           for name in ("full_name", "family_name", "given_name")):
                self.error(decision.row, "full_name", _("Enter a name (family name, given name or full name)."))
        creates = [decision for decision in creates if decision.row.ok]
        if self.write or self.required_custom:  # a check needs the new state only for required custom fields
            creates = self.prepare_creates(creates)
        updates = self.prepare_updates([decision for decision in decisions if not decision.create])
        self.finish_wave(rows, decisions, creates, updates, deferred)

    # --- creates ---
    def new_state(self, row: ParsedRow) -> dict:
        values = row.values
        if row.base is None:
            prepare_new_record(self.plan if self.plan.defaults else _with_defaults(self.plan, self.defaults), row)
        state = dict(zip(self.columns, row.base))
        account = values.get("_account")
        state["account_id"] = account[0] if account else None
        state["custom_data"] = self.check_custom(row, True, None)
        self.assign_people(state, row, True)
        return state

    def prepare_creates(self, decisions: list[Decision]) -> list[tuple[Decision, dict]]:
        prepared = []
        for decision in decisions:
            state = self.new_state(decision.row)
            if decision.row.ok:
                prepared.append((decision, state))
        return prepared

    def search_text(self, state: dict, account_name: str | None) -> str:
        view = _SearchView(full_name=state["full_name"], alternate_name=state["alternate_name"],
                           email=state["email"], phone=state["phone"], account_id=state["account_id"],
                           account=_AccountName(account_name) if account_name is not None else None,
                           external_id=state["external_id"])
        return services.contact_search_text(view)

    def write_creates(self, prepared: list[tuple[Decision, dict]]) -> None:
        if not prepared:
            return
        now = timezone.now()
        ids = bulk_writes.reserve_ids(Contact, len(prepared))
        rows, phones, emails, consents, tags, addresses = [], [], [], [], [], []
        for record_id, (decision, state) in zip(ids, prepared):
            values = decision.row.values
            decision.record_id = record_id
            account = values.get("_account")
            if decision.row.search is not None and "account_external_id" not in values:
                state["search_text"] = decision.row.search
            else:
                state["search_text"] = self.search_text(state, account[1] if account else None)
            state["created_at"] = state["updated_at"] = now
            rows.append((record_id, *_contact_row(state)))
            for position, (number, kind) in enumerate(values.get("_phones", ())):
                phones.append((record_id, number, kind, position == 0))
            for position, email in enumerate(values.get("_emails", ())):
                emails.append((record_id, email, "work", position == 0))
            for consent_field, channel in CONSENT_CHANNELS.items():
                if state[consent_field]:
                    consents.append((record_id, channel, True, IMPORT_SOURCE, now, self.actor.pk))
            if "tags" in values:
                tags.append((record_id, self.tag_ids_for(values["tags"]), False))
            address = self.address_values(values)
            if address:
                addresses.append((record_id, address))
        bulk_writes.insert_rows(Contact, ("id", *CONTACT_COLUMNS), rows, staged=self.staged)
        bulk_writes.insert_rows(ContactPhone, ("contact_id", "number", "kind", "is_primary"), phones)
        bulk_writes.insert_rows(ContactEmail, ("contact_id", "email", "kind", "is_primary"), emails)
        bulk_writes.insert_rows(ConsentRecord, ("contact_id", "channel", "granted", "source", "recorded_at",
                                                "recorded_by_id"), consents)
        self.write_tags(Contact.tags.through, "contact_id", tags)
        self.write_addresses(addresses, [])
        self.counts.created += len(prepared)

    # --- updates ---
    def prepare_updates(self, decisions: list[Decision]) -> list[tuple[Decision, dict, dict]]:
        """(decision, state before, state after) for each matched record."""
        if not decisions:
            return []
        ids = sorted({decision.record_id for decision in decisions})
        before: dict[int, dict] = {}
        for batch in _in_batches(ids):
            for values in Contact.objects.filter(pk__in=batch).values("id", *CONTACT_COLUMNS):
                before[values["id"]] = values
        prepared = []
        for decision in decisions:
            old = before.get(decision.record_id)
            if old is None:  # deleted between match and now
                self.error(decision.row, "", _("The matched contact was deleted meanwhile."))
                continue
            row = decision.row
            values = row.values
            state = dict(old)
            for name in CONTACT_DIRECT_FIELDS:
                if name in values:
                    state[name] = values[name]
            if "external_id" in values:
                state["external_id"] = values["external_id"]
            if "full_name" not in values and ({"family_name", "given_name"} & values.keys()):
                state["full_name"] = display_name(state["family_name"], state["given_name"])
            if "_phones" in values:
                state["phone"] = values["_phones"][0][0]
            if "_emails" in values:
                state["email"] = values["_emails"][0]
            if "_account" in values:
                state["account_id"] = values["_account"][0]
            state["custom_data"] = self.check_custom(row, False, old["custom_data"])
            self.assign_people(state, row, False)
            if row.ok:
                prepared.append((decision, old, state))
        return prepared

    def write_updates(self, prepared: list[tuple[Decision, dict, dict]]) -> None:
        if not prepared:
            return
        now = timezone.now()
        ids = [decision.record_id for decision, _old, _new in prepared]
        phones_of: dict[int, dict[str, tuple[int, str, bool]]] = {}
        emails_of: dict[int, dict[str, tuple[int, bool]]] = {}
        tags_of: dict[int, list[int]] = {}
        account_names: dict[int, str] = {}
        for batch in _in_batches(ids):
            for phone_id, contact_id, number, kind, primary in ContactPhone.objects.filter(
                    contact_id__in=batch).values_list("id", "contact_id", "number", "kind", "is_primary"):
                phones_of.setdefault(contact_id, {})[number] = (phone_id, kind, primary)
            for email_id, contact_id, email, primary in ContactEmail.objects.filter(
                    contact_id__in=batch).values_list("id", "contact_id", "email", "is_primary"):
                emails_of.setdefault(contact_id, {})[email] = (email_id, primary)
            for contact_id, tag_id in Contact.tags.through.objects.filter(contact_id__in=batch).values_list(
                    "contact_id", "tag_id"):
                tags_of.setdefault(contact_id, []).append(tag_id)
        account_ids = sorted({new["account_id"] for _decision, _old, new in prepared if new["account_id"]})
        for batch in _in_batches(account_ids):
            account_names.update(Account.objects.filter(pk__in=batch).values_list("id", "name"))

        changed_rows, new_phones, phone_flags, new_emails, email_flags, consents, tags, addresses = \
            [], [], [], [], [], [], [], []
        for decision, old, state in prepared:
            record_id = decision.record_id
            values = decision.row.values
            state["search_text"] = self.search_text(state, account_names.get(state["account_id"]))
            children_changed = False
            existing_phones = phones_of.get(record_id, {})
            for position, (number, kind) in enumerate(values.get("_phones", ())):
                primary = position == 0
                if number not in existing_phones:
                    new_phones.append((record_id, number, kind, primary))
                    children_changed = True
                elif existing_phones[number][1:] != (kind, primary):
                    phone_flags.append((existing_phones[number][0], kind, primary))
                    children_changed = True
            if values.get("_phones"):
                primary_number = values["_phones"][0][0]
                for number, (phone_id, kind, primary) in existing_phones.items():
                    if primary and number != primary_number:
                        phone_flags.append((phone_id, kind, False))
                        children_changed = True
            existing_emails = emails_of.get(record_id, {})
            for position, email in enumerate(values.get("_emails", ())):
                primary = position == 0
                if email not in existing_emails:
                    new_emails.append((record_id, email, "work", primary))
                    children_changed = True
                elif existing_emails[email][1] != primary:
                    email_flags.append((existing_emails[email][0], primary))
                    children_changed = True
            if values.get("_emails"):
                for email, (email_id, primary) in existing_emails.items():
                    if primary and email != values["_emails"][0]:
                        email_flags.append((email_id, False))
                        children_changed = True
            if "tags" in values:
                wanted = self.tag_ids_for(values["tags"])
                if sorted(tags_of.get(record_id, [])) != wanted:
                    tags.append((record_id, wanted, True))
                    children_changed = True
            address = self.address_values(values)
            if address:
                addresses.append((record_id, address))
                children_changed = True
            for consent_field, channel in CONSENT_CHANNELS.items():
                if old[consent_field] != state[consent_field]:
                    consents.append((record_id, channel, state[consent_field], IMPORT_SOURCE, now, self.actor.pk))
            fields_changed = any(old[column] != state[column] for column in CONTACT_COLUMNS)
            if not fields_changed and not children_changed:
                self.counts.unchanged += 1
                continue
            state["updated_at"] = now
            state["version"] = old["version"] + 1
            changed_rows.append((record_id, *[state[column] for column in CONTACT_COLUMNS]))
            self.counts.updated += 1
        bulk_writes.update_rows(Contact, ("id", *CONTACT_COLUMNS), changed_rows)
        bulk_writes.insert_rows(ContactPhone, ("contact_id", "number", "kind", "is_primary"), new_phones)
        bulk_writes.update_rows(ContactPhone, ("id", "kind", "is_primary"), phone_flags)
        bulk_writes.insert_rows(ContactEmail, ("contact_id", "email", "kind", "is_primary"), new_emails)
        bulk_writes.update_rows(ContactEmail, ("id", "is_primary"), email_flags)
        bulk_writes.insert_rows(ConsentRecord, ("contact_id", "channel", "granted", "source", "recorded_at",
                                                "recorded_by_id"), consents)
        self.write_tags(Contact.tags.through, "contact_id", tags)
        self.write_addresses([], addresses)


# ======================================================================================
# Accounts
# ======================================================================================
ACCOUNT_COLUMNS = tuple(f.attname for f in Account._meta.concrete_fields if not f.primary_key)
ACCOUNT_DIRECT_FIELDS = tuple(name for name in services.ACCOUNT_FIELDS if name != "external_id") + ("phone", "email")
ACCOUNT_DIRECT_SET = frozenset(ACCOUNT_DIRECT_FIELDS)
_account_row = operator.itemgetter(*ACCOUNT_COLUMNS)


class AccountWriter(_Writer):
    model = Account
    object_type = "account"
    columns = ACCOUNT_COLUMNS

    def dedup_keys(self, row: ParsedRow) -> set:
        keys = {("n", row.values.get("name"))} if "name" in row.values else set()
        if "external_id" in row.values:
            keys.add(("x", row.values["external_id"]))
        return keys

    has_references = True

    def references_of(self, row: ParsedRow) -> set:
        return {("x", row.values["parent_external_id"])} if "parent_external_id" in row.values else set()

    def resolve_parents(self, rows: list[ParsedRow]) -> None:
        wanted = {row.values["parent_external_id"] for row in rows if "parent_external_id" in row.values}
        for key in wanted:  # parents created by earlier waves of this file are in the database now
            if self.references.accounts_by_external_id.get(key) is None:
                self.references.forget_account(key)
        self.references.load_accounts(wanted)
        for row in rows:
            if "parent_external_id" in row.values:
                found = self.references.accounts_by_external_id.get(row.values["parent_external_id"])
                if found is None:
                    self.error(row, "parent_external_id", _("No account you can see has this external ID (a parent "
                                                            "must exist already or come earlier in the file)."),
                               row.values["parent_external_id"])
                else:
                    row.values["_parent"] = found[0]

    def match_existing(self, rows: list[ParsedRow]) -> list[Decision]:
        external_ids = [row.values["external_id"] for row in rows if "external_id" in row.values]
        by_external_id: dict[str, int] = dict(_rows_where_in(
            "SELECT external_id, id FROM core_account WHERE external_id IN ({})", external_ids))
        names = sorted({row.values["name"] for row in rows if "name" in row.values
                        and row.values.get("external_id") not in by_external_id})
        by_name: dict[str, list[tuple[int, str | None]]] = {}
        for account_id, name, external_id in sorted(_rows_where_in(
                "SELECT id, name, external_id FROM core_account WHERE name IN ({})", names)):
            by_name.setdefault(name, []).append((account_id, external_id))
        decisions, to_check = [], []
        for row in rows:
            values = row.values
            external_id = values.get("external_id")
            if external_id and external_id in by_external_id:
                decisions.append(Decision(row, by_external_id[external_id]))
                to_check.append((row, by_external_id[external_id], "external_id"))
                continue
            matches = by_name.get(values.get("name"), [])
            if external_id:  # only a record without an external ID can be adopted by name
                matches = [match for match in matches if match[1] is None]
            if len(matches) > 1:
                self.error(row, "name", _("Several accounts have this name; add an external ID column to tell them "
                                          "apart."), values["name"])
            elif matches:
                self.note(row, "name", _("Matched existing account #%(id)d by name; updated it.")
                          % {"id": matches[0][0]})
                decisions.append(Decision(row, matches[0][0]))
                to_check.append((row, matches[0][0], "name"))
            else:
                decisions.append(Decision(row, None, create=True))
        self.check_changeable(to_check)
        return [decision for decision in decisions if decision.row.ok]

    def process_wave(self, rows: list[ParsedRow]) -> None:
        self.resolve_people(rows)
        self.resolve_parents(rows)
        decisions, deferred = _split_repeated_targets(self.match_existing(self.rows_to_match(rows)))
        creates = [decision for decision in decisions if decision.create]
        self.refuse_creates_without_right(creates)
        for decision in creates:
            if decision.row.ok and "name" not in decision.row.values:
                self.error(decision.row, "name", _("Enter the account's name."))
        prepared_creates = [(decision, self.new_state(decision.row)) for decision in creates if decision.row.ok]
        prepared_creates = [(decision, state) for decision, state in prepared_creates if decision.row.ok]
        prepared_updates = self.prepare_updates([decision for decision in decisions if not decision.create])
        if not self.write:
            for row in rows:  # later rows of the file may name these as parents
                if row.ok and "external_id" in row.values:
                    self.references.accounts_by_external_id.setdefault(row.values["external_id"], (0, ""))
        self.finish_wave(rows, decisions, prepared_creates, prepared_updates, deferred)

    def create_all(self, rows: list[ParsedRow]) -> None:
        """Create accounts for rows known to be new (companies named in a contact file)."""
        self.write_creates([(Decision(row, None, create=True), self.new_state(row)) for row in rows])

    def new_state(self, row: ParsedRow) -> dict:
        values = row.values
        if row.base is None:
            prepare_new_record(self.plan if self.plan.defaults else _with_defaults(self.plan, self.defaults), row)
        state = dict(zip(self.columns, row.base))
        state["parent_id"] = values.get("_parent")
        state["custom_data"] = self.check_custom(row, True, None)
        self.assign_people(state, row, True)
        return state

    def search_text(self, state: dict) -> str:
        return services.account_search_text(_SearchView(name=state["name"], email=state["email"],
                                                        phone=state["phone"], website=state["website"],
                                                        external_id=state["external_id"]))

    def write_creates(self, prepared: list[tuple[Decision, dict]]) -> None:
        if not prepared:
            return
        now = timezone.now()
        ids = bulk_writes.reserve_ids(Account, len(prepared))
        rows, tags, addresses = [], [], []
        for record_id, (decision, state) in zip(ids, prepared):
            values = decision.row.values
            values["_id"] = decision.record_id = record_id
            state["search_text"] = decision.row.search if decision.row.search is not None else self.search_text(state)
            state["created_at"] = state["updated_at"] = now
            rows.append((record_id, *_account_row(state)))
            if "tags" in values:
                tags.append((record_id, self.tag_ids_for(values["tags"]), False))
            address = self.address_values(values)
            if address:
                addresses.append((record_id, address))
            if state["external_id"]:
                self.references.accounts_by_external_id[state["external_id"]] = (record_id, state["name"])
        bulk_writes.insert_rows(Account, ("id", *ACCOUNT_COLUMNS), rows, staged=True)
        self.write_tags(Account.tags.through, "account_id", tags)
        self.write_addresses(addresses, [])
        self.counts.created += len(prepared)

    def prepare_updates(self, decisions: list[Decision]) -> list[tuple[Decision, dict, dict]]:
        if not decisions:
            return []
        before: dict[int, dict] = {}
        for batch in _in_batches(sorted({decision.record_id for decision in decisions})):
            for values in Account.objects.filter(pk__in=batch).values("id", *ACCOUNT_COLUMNS):
                before[values["id"]] = values
        prepared = []
        for decision in decisions:
            old = before.get(decision.record_id)
            if old is None:
                self.error(decision.row, "", _("The matched account was deleted meanwhile."))
                continue
            values = decision.row.values
            state = dict(old)
            for name in ACCOUNT_DIRECT_FIELDS:
                if name in values:
                    state[name] = values[name]
            if "external_id" in values:
                state["external_id"] = values["external_id"]
            if "_parent" in values:
                if values["_parent"] == decision.record_id:
                    self.error(decision.row, "parent_external_id", _("An account cannot be its own parent."))
                    continue
                state["parent_id"] = values["_parent"]
            state["custom_data"] = self.check_custom(decision.row, False, old["custom_data"])
            self.assign_people(state, decision.row, False)
            if decision.row.ok:
                prepared.append((decision, old, state))
        return prepared

    def write_updates(self, prepared: list[tuple[Decision, dict, dict]]) -> None:
        if not prepared:
            return
        now = timezone.now()
        tags_of: dict[int, list[int]] = {}
        for batch in _in_batches([decision.record_id for decision, _old, _new in prepared]):
            for account_id, tag_id in Account.tags.through.objects.filter(account_id__in=batch).values_list(
                    "account_id", "tag_id"):
                tags_of.setdefault(account_id, []).append(tag_id)
        changed_rows, tags, addresses, renamed = [], [], [], []
        for decision, old, state in prepared:
            record_id = decision.record_id
            values = decision.row.values
            state["search_text"] = self.search_text(state)
            children_changed = False
            if "tags" in values:
                wanted = self.tag_ids_for(values["tags"])
                if sorted(tags_of.get(record_id, [])) != wanted:
                    tags.append((record_id, wanted, True))
                    children_changed = True
            address = self.address_values(values)
            if address:
                addresses.append((record_id, address))
                children_changed = True
            if state["external_id"]:
                self.references.accounts_by_external_id[state["external_id"]] = (record_id, state["name"])
            if not any(old[column] != state[column] for column in ACCOUNT_COLUMNS) and not children_changed:
                self.counts.unchanged += 1
                continue
            if old["name"] != state["name"]:
                renamed.append(record_id)
            state["updated_at"] = now
            state["version"] = old["version"] + 1
            changed_rows.append((record_id, *[state[column] for column in ACCOUNT_COLUMNS]))
            self.counts.updated += 1
        bulk_writes.update_rows(Account, ("id", *ACCOUNT_COLUMNS), changed_rows)
        self.write_tags(Account.tags.through, "account_id", tags)
        self.write_addresses([], addresses)
        if renamed:  # contacts index their company's name (as account_update keeps them in step)
            for contact in Contact.objects.filter(account_id__in=renamed).select_related("account"):
                Contact.objects.filter(pk=contact.pk).update(search_text=services.contact_search_text(contact))


WRITERS = {"contact": ContactWriter, "account": AccountWriter}


def _with_defaults(plan: ImportPlan, defaults: dict) -> ImportPlan:
    """The plan with a new record's defaults (the account writer that creates companies
    named in a contact file builds its own plan without them)."""
    plan.defaults = defaults
    return plan


def _split_repeated_targets(decisions: list[Decision]) -> tuple[list[Decision], list[Decision]]:
    """Two rows matching one record (one by phone, one by email) must apply one after the
    other; the second waits for the next wave."""
    kept, deferred, targets = [], [], set()
    for decision in decisions:
        if not decision.create and decision.record_id in targets:
            deferred.append(decision)
            continue
        kept.append(decision)
        if not decision.create:
            targets.add(decision.record_id)
    return kept, deferred


# ======================================================================================
# Runs: check, write, checkpoint, resume
# ======================================================================================
ProgressCallback = Callable[[str, int, int], None]   # (phase, rows done, rows in total)
ChunkHook = Callable[[ImportRun, int], None]          # (run, checkpoint row) after each commit


@dataclass
class ImportResult:
    run: ImportRun
    issues: list[Issue]
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_rows: int = 0
    rows: int = 0
    written: bool = False
    would_create: int = 0
    would_update: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.level == Level.ERROR]


class _IssueLog:
    """Collects issues for the caller (all of them) and for the run record (the first ones)."""

    def __init__(self, keep_all: bool = True):
        self.all: list[Issue] = []
        self.keep_all = keep_all
        self.stored: dict[str, list[dict]] = {Level.ERROR: [], Level.WARNING: [], Level.NOTE: []}
        self.counts = {Level.ERROR: 0, Level.WARNING: 0, Level.NOTE: 0}

    def add(self, issue: Issue) -> None:
        self.counts[issue.level] += 1
        if self.keep_all and (issue.level != Level.NOTE or self.counts[Level.NOTE] <= MAX_STORED_ISSUES):
            self.all.append(issue)
        if len(self.stored[issue.level]) < MAX_STORED_ISSUES:
            self.stored[issue.level].append(issue.as_dict())

    def for_run(self, previous: list[dict] | None = None) -> list[dict]:
        merged = list(previous or [])
        for level in (Level.ERROR, Level.WARNING, Level.NOTE):
            merged.extend(self.stored[level])
        return merged[: 3 * MAX_STORED_ISSUES]


def check_import_permission(actor: User, object_type: str) -> None:
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"unknown object type {object_type!r}")
    if scope_for(actor, object_type, "import") == Visibility.NONE:
        raise PermissionDenied(_("You may not import %(objects)s.") % {
            "objects": _("contacts") if object_type == "contact" else _("accounts")})


def open_table(path: str | Path, *, file_label: str | None = None, encoding: str | None = None,
               sheet: str | None = None) -> TableFile:
    return TableFile(path, file_label=file_label, encoding=encoding, sheet=sheet)


def find_resumable_run(actor: User, object_type: str, sha256: str) -> ImportRun | None:
    """The latest interrupted run of the same file content by the same user."""
    return (ImportRun.objects.filter(actor=actor, object_type=object_type, file_sha256=sha256,
                                     state__in=[ImportRunState.RUNNING, ImportRunState.INTERRUPTED])
            .order_by("-created_at", "-id").first())


def import_file(*, actor: User, path: str | Path, object_type: str, file_label: str | None = None,
                mapping: dict[str, str] | None = None, encoding: str | None = None, sheet: str | None = None,
                dry_run: bool = False, skip_invalid: bool = False, resume: bool = False,
                run: ImportRun | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                progress: ProgressCallback | None = None, after_chunk: ChunkHook | None = None) -> ImportResult:
    """Check and import one file. See the module docstring for the phases.

    ``run`` continues a given ImportRun (the job does this); ``resume`` looks for an
    interrupted run of the same file content and continues it. Raises ``ImportFileError``
    when the file as a whole is refused and ``PermissionDenied`` for users without the
    import right; row problems are in the result, never raised.
    """
    with collector_paused():
        return _import_file(actor=actor, path=path, object_type=object_type, file_label=file_label, mapping=mapping,
                            encoding=encoding, sheet=sheet, dry_run=dry_run, skip_invalid=skip_invalid,
                            resume=resume, run=run, chunk_size=chunk_size, progress=progress,
                            after_chunk=after_chunk)


def _import_file(*, actor: User, path: str | Path, object_type: str, file_label: str | None,
                 mapping: dict[str, str] | None, encoding: str | None, sheet: str | None, dry_run: bool,
                 skip_invalid: bool, resume: bool, run: ImportRun | None, chunk_size: int,
                 progress: ProgressCallback | None, after_chunk: ChunkHook | None) -> ImportResult:
    started = time.monotonic()
    check_import_permission(actor, object_type)
    path = Path(path)
    file_label = file_label or path.name
    sha256 = file_sha256(path)
    if run is None and resume:
        run = find_resumable_run(actor, object_type, sha256)
    if run is not None and run.file_sha256 and run.file_sha256 != sha256:
        raise ImportFileError([Issue(file_label, 0, "", _("The file changed since this import started; start a "
                                                          "new import."))])
    if run is not None:
        mapping = run.mapping if mapping is None else mapping
        encoding = encoding or run.options.get("encoding") or None
        sheet = sheet or run.options.get("sheet") or None
    log = _IssueLog()
    try:
        table = open_table(path, file_label=file_label, encoding=encoding, sheet=sheet)
        plan, column_warnings = build_plan(object_type, file_label, table.headers, dict(mapping or {}))
    except ImportFileError as error:
        if run is not None:
            ImportRun.objects.filter(pk=run.pk).update(state=ImportRunState.INVALID, finished_at=timezone.now(),
                                                       issues=[issue.as_dict() for issue in error.issues],
                                                       message=str(error)[:500])
        raise
    for issue in column_warnings:
        log.add(issue)
    resuming = run is not None and run.rows_done > 0 and run.state in (ImportRunState.RUNNING,
                                                                        ImportRunState.INTERRUPTED)
    if resuming:  # a resumed run keeps the mode it started with
        skip_invalid = bool(run.options.get("skip_invalid", skip_invalid))
    options = {"encoding": table.encoding or "", "sheet": sheet or "", "skip_invalid": skip_invalid}
    if run is None:
        run = ImportRun.objects.create(object_type=object_type, file_name=file_label, file_sha256=sha256,
                                       file_size=path.stat().st_size, mapping=plan.mapping, options=options,
                                       actor=actor)
    else:
        run.file_sha256, run.file_size, run.mapping = sha256, path.stat().st_size, plan.mapping
        run.options = {**run.options, **options}
        run.save(update_fields=["file_sha256", "file_size", "mapping", "options"])
    result = ImportResult(run=run, issues=log.all)

    total = run.total_rows or table.estimate_rows()
    spool = None
    try:
        if (dry_run or not skip_invalid) and not (resuming and run.options.get("checked")):
            spool = None if dry_run else _Spool()
            counts = _check_all(table, plan, actor, log, chunk_size, progress, count_outcomes=dry_run, spool=spool)
            total = run.total_rows = counts["rows"]
            result.rows, result.error_rows = counts["rows"], counts["errors"]
            result.would_create, result.would_update = counts["create"], counts["update"]
            refused = counts["errors"] > 0 and not skip_invalid
            if dry_run or refused:
                run.state = ImportRunState.INVALID if refused else ImportRunState.CHECKED
                run.error_count = counts["errors"]
                run.issues = log.for_run()
                run.finished_at = timezone.now()
                if dry_run:
                    run.options = {**run.options, "would_create": counts["create"], "would_update": counts["update"]}
                run.message = _summary_message(run, result)
                run.save()
                result.seconds = time.monotonic() - started
                return result
            run.options = {**run.options, "checked": True}
            log = _IssueLog()  # the check found nothing wrong; the write pass reports afresh
            for issue in column_warnings:
                log.add(issue)
        chunks = (in_background(lambda: spool.chunks(chunk_size)) if spool is not None
                  else parse_chunks(table, plan, chunk_size, after_row=run.rows_done if resuming else 0))
        _write_all(run, table, plan, actor, log, chunks, total, progress, after_chunk, resuming)
    finally:
        if spool is not None:
            spool.close()
    run.refresh_from_db()
    result.issues = log.all
    result.created, result.updated, result.unchanged = run.created_count, run.updated_count, run.unchanged_count
    result.error_rows = run.error_count
    result.rows = run.total_rows
    result.written = True
    result.seconds = time.monotonic() - started
    return result


def _summary_message(run: ImportRun, result: ImportResult) -> str:
    if run.state == ImportRunState.INVALID:
        return _("%(errors)d of %(rows)d rows have errors; nothing was imported.") % {
            "errors": result.error_rows, "rows": result.rows}
    if run.state == ImportRunState.CHECKED:
        return _("All %(rows)d rows are valid: %(create)d to create, %(update)d to update.") % {
            "rows": result.rows, "create": result.would_create, "update": result.would_update}
    return _("%(created)d created, %(updated)d updated, %(unchanged)d unchanged, %(errors)d rows refused.") % {
        "created": run.created_count, "updated": run.updated_count, "unchanged": run.unchanged_count,
        "errors": run.error_count}


def _check_all(table: TableFile, plan: ImportPlan, actor: User, log: _IssueLog, chunk_size: int,
               progress: ProgressCallback | None, count_outcomes: bool, spool: _Spool | None) -> dict[str, int]:
    """Validate every row without writing: cell values, references, permissions, and
    duplicates within the file. Returns row counts (rows and rows with errors; with
    ``count_outcomes`` — a dry run — also how many would be created and updated)."""
    writer = WRITERS[plan.object_type](plan, actor, _References(actor), RunCounts(), log.add, write=False)
    writer.match_everything = count_outcomes
    seen_external: dict[str, int] = {}
    seen_keys: set[int] = set()     # hashes of the dedup keys of rows checked so far (for the counts only)
    totals = {"rows": 0, "create": 0, "update": 0, "errors": 0}
    estimate = table.estimate_rows()
    chunks = parse_chunks(table, plan, chunk_size, spool=spool)  # spooled as parsed, before the check adds to rows
    try:
        for chunk in chunks:
            for row in chunk:
                for issue in row.issues:
                    log.add(issue)
            _flag_duplicate_external_ids(chunk, seen_external, plan, log.add)
            valid = [row for row in chunk if row.ok]
            matches_earlier_row = {}
            for row in valid if count_outcomes else ():
                keys = {hash(key) for key in writer.keys(row)}
                matches_earlier_row[id(row)] = bool(keys & seen_keys)
                seen_keys |= keys
            writer.decided = []
            writer.process(valid)
            for decision in writer.decided:
                if not decision.row.ok:
                    continue
                if decision.create and not matches_earlier_row.get(id(decision.row)):
                    totals["create"] += 1
                else:
                    totals["update"] += 1
            totals["rows"] += len(chunk)
            totals["errors"] += sum(1 for row in chunk if not row.ok)
            if progress:
                progress("check", totals["rows"], max(estimate, totals["rows"]))
    finally:
        chunks.close()  # stops the parser thread however the loop ends
    return totals


def _flag_duplicate_external_ids(chunk: list[ParsedRow], seen: dict[str, int], plan: ImportPlan,
                                 report: Callable[[Issue], None]) -> None:
    for row in chunk:
        external_id = row.values.get("external_id")
        if not external_id or not row.ok:
            continue
        first = seen.setdefault(external_id, row.number)
        if first != row.number:
            issue = Issue(plan.file_label, row.number, plan.header_for("external_id"),
                          _("External ID “%(value)s” is also on row %(first)d; each record may appear once.")
                          % {"value": external_id, "first": first}, external_id)
            row.add(issue)
            report(issue)


def _external_ids_before(table: TableFile, plan: ImportPlan, last_row: int) -> dict[str, int]:
    """External IDs of the rows already committed, so a resumed run still sees duplicates."""
    seen: dict[str, int] = {}
    position = next((position for position, _header, item in plan.columns if item.name == "external_id"), None)
    if position is None or last_row <= 0:
        return seen
    for number, cells in table.rows():
        if number > last_row:
            break
        if position < len(cells):
            text = cell_text(cells[position])
            if text:
                seen.setdefault(text, number)
    return seen


def _write_all(run: ImportRun, table: TableFile, plan: ImportPlan, actor: User, log: _IssueLog,
               chunks: Iterator[list[ParsedRow]],
               total: int, progress: ProgressCallback | None, after_chunk: ChunkHook | None, resuming: bool) -> None:
    """Write chunk by chunk; each chunk commits together with the checkpoint."""
    references = _References(actor)
    start_row = run.rows_done if resuming else 0
    if not resuming:
        run.rows_done = run.created_count = run.updated_count = run.unchanged_count = run.error_count = 0
        run.issues = log.for_run()
    run.state = ImportRunState.RUNNING
    run.total_rows = total
    run.message = _("Importing…")
    run.save()
    checked = bool(run.options.get("checked"))   # the check refused duplicate external IDs already
    seen_external = {} if checked else _external_ids_before(table, plan, start_row)
    rows_seen = _rows_before(run, start_row)
    restore_pragmas = _bulk_pragmas()
    restore_all_suspended_indexes(exclude=run.pk)  # another run that crashed with its indexes dropped
    _suspend_indexes_for(run, plan, total - rows_seen)
    statistics = _LookupStatistics(plan.object_type, rows_seen)
    try:
        for chunk in chunks:
            counts = RunCounts()
            chunk_log = _IssueLog(keep_all=False)

            def report(issue: Issue, chunk_log=chunk_log) -> None:
                chunk_log.add(issue)
                log.add(issue)

            for row in chunk:
                for issue in row.issues:
                    report(issue)
            if not checked:
                _flag_duplicate_external_ids(chunk, seen_external, plan, report)
            writer = WRITERS[plan.object_type](plan, actor, references, counts, report, write=True)
            writer.staged = not run.options.get("suspended_indexes")
            with transaction.atomic():
                counts.errors += sum(1 for row in chunk if not row.ok)
                writer.process([row for row in chunk if row.ok])
                last_row = chunk[-1].number
                rows_seen += len(chunk)
                locked = ImportRun.objects.select_for_update().get(pk=run.pk)
                ImportRun.objects.filter(pk=run.pk).update(
                    rows_done=last_row, created_count=locked.created_count + counts.created,
                    updated_count=locked.updated_count + counts.updated,
                    unchanged_count=locked.unchanged_count + counts.unchanged,
                    error_count=locked.error_count + counts.errors,
                    issues=chunk_log.for_run(locked.issues),
                    options={**locked.options, "rows_seen": rows_seen},
                    message=_("%(rows)d rows committed.") % {"rows": rows_seen})
            run.rows_done = last_row
            statistics.grown_to(rows_seen)
            if progress:
                progress("import", rows_seen, max(total, rows_seen))
            if after_chunk:
                after_chunk(run, last_row)
    except BaseException:
        restore_pragmas()
        chunks.close()  # stops the parser thread
        ImportRun.objects.filter(pk=run.pk).update(
            state=ImportRunState.INTERRUPTED,
            message=_("Interrupted after row %(row)d; run it again to resume.") % {"row": run.rows_done})
        raise
    restore_pragmas()
    restore_suspended_indexes(run)
    run.refresh_from_db()
    run.state = ImportRunState.SUCCEEDED
    run.total_rows = run.options.get("rows_seen", rows_seen)
    run.finished_at = timezone.now()
    run.message = _summary_message(run, ImportResult(run=run, issues=[]))
    run.save()
    audit_record(actor=actor, action=AuditAction.IMPORT, object_type=plan.object_type, object_id=str(run.pk),
                 changes={"file": run.file_name, "sha256": run.file_sha256, "rows": run.total_rows,
                          "created": run.created_count, "updated": run.updated_count,
                          "unchanged": run.unchanged_count, "refused": run.error_count})


LOOKUP_STATISTICS_MIN_ROWS = 5000
# What an import looks its rows up by (external IDs, phones, emails, names): the table it
# fills first, then the tables and columns whose statistics the lookups' plans need.
LOOKUP_STATISTICS = {
    "contact": ("core_contact", ('"core_contactphone" ("number")', '"core_contactemail" ("email")',
                                 '"core_contact" ("external_id")')),
    "account": ("core_account", ('"core_account" ("name", "external_id")',)),
}


class _LookupStatistics:
    """On PostgreSQL, refresh the planner's statistics of the looked-up columns each time
    the import has doubled the table. An import into an empty table otherwise plans every
    chunk's lookups with the statistics of the empty table: with sequential scans off (see
    ``_rows_where_in``) the planner then reads the whole (contact, email) index instead of
    probing the one on email, 42 ms per 1,000 emails at 300,000 contacts instead of 2 ms."""

    def __init__(self, object_type: str, rows_seen: int):
        table, self.tables = LOOKUP_STATISTICS.get(object_type, ("", ()))
        if connection.vendor != "postgresql":
            self.tables = ()
        self.rows_at_start = rows_seen
        self.size_at_start = self.size_when_analyzed = 0
        if self.tables:
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
                self.size_at_start = int(cursor.fetchone()[0])
            self.size_when_analyzed = max(self.size_at_start, LOOKUP_STATISTICS_MIN_ROWS)

    def grown_to(self, rows_seen: int) -> None:
        """Called after each committed chunk with the rows the run has seen so far."""
        size = self.size_at_start + rows_seen - self.rows_at_start
        if not self.tables or size < 2 * self.size_when_analyzed:
            return
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(self.tables))
        self.size_when_analyzed = size


def _bulk_pragmas() -> Callable[[], None]:
    """On SQLite, give this connection a larger page cache while the import writes (the
    indexes of a million-row table outgrow the default); returns the function that puts
    the connection's setting back."""
    if connection.vendor != "sqlite":
        return lambda: None
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache_size = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA temp_store")
        temp_store = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA cache_size = -262144")
        outside_transaction = not connection.in_atomic_block  # SQLite refuses temp_store inside one
        if outside_transaction:
            cursor.execute("PRAGMA temp_store = MEMORY")  # the staging tables and index sorts

    def restore() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {cache_size}")
            if outside_transaction and not connection.in_atomic_block:
                cursor.execute(f"PRAGMA temp_store = {temp_store}")

    return restore


# A large import into a table that is small next to it drops the indexes only reads need
# and builds them once at the end (see bulk_writes.suspend_indexes). What was dropped is
# stored in the run's options in the same transaction; the run's last step, a resumed run,
# or ``guanxi migrate`` (restore_all_suspended_indexes) brings it back.
BULK_INDEX_MIN_ROWS = 50_000
SUSPENDED_TABLES = {"contact": ("core_contact", "core_contactphone", "core_contactemail", "core_consentrecord",
                                "core_contact_tags")}
KEPT_INDEXES = ("core_contactphone.number", "core_contactemail.email")   # the dedup lookups


def _suspend_indexes_for(run: ImportRun, plan: ImportPlan, rows_to_write: int) -> None:
    tables = SUSPENDED_TABLES.get(plan.object_type)
    if not tables or run.options.get("suspended_indexes") or rows_to_write < BULK_INDEX_MIN_ROWS:
        return
    model = Contact if plan.object_type == "contact" else Account
    if model.objects.count() * 2 > rows_to_write:
        return  # rebuilding the indexes of a big table would cost more than keeping them up to date
    with transaction.atomic():
        suspended = bulk_writes.suspend_indexes(tables, KEPT_INDEXES)
        run.options = {**run.options, "suspended_indexes": suspended}
        ImportRun.objects.filter(pk=run.pk).update(options=run.options)


def restore_suspended_indexes(run: ImportRun) -> None:
    """Rebuild what ``run`` suspended, and forget it: the indexes in one transaction, then
    the foreign keys in a short one of their own (adding a key back locks the referenced
    table, users or accounts, against writes until it commits). Called outside any
    transaction, PostgreSQL builds the full-text index on a second connection meanwhile."""
    side_connection = not connection.in_atomic_block
    for kinds in (("index", "trigger", "fts"), ("foreign_key",)):
        with transaction.atomic():
            locked = ImportRun.objects.select_for_update().get(pk=run.pk)
            suspended = locked.options.get("suspended_indexes")
            if not suspended:
                return
            now = [item for item in suspended if item["kind"] in kinds]
            if not now:
                continue
            bulk_writes.restore_indexes(now, side_connection=side_connection)
            locked.options = {**locked.options,
                              "suspended_indexes": [item for item in suspended if item["kind"] not in kinds]}
            ImportRun.objects.filter(pk=run.pk).update(options=locked.options)
        run.options = locked.options


def restore_all_suspended_indexes(exclude: int | None = None) -> int:
    """Repair after a crash: restore the indexes of every run that suspended some (but
    ``exclude``, the run about to resume and finish its own). Returns how many runs."""
    runs = [run for run in ImportRun.objects.exclude(pk=exclude).filter(
        state__in=[ImportRunState.RUNNING, ImportRunState.INTERRUPTED]).only("id", "options")
        if run.options.get("suspended_indexes")]
    for run in runs:
        restore_suspended_indexes(run)
    return len(runs)


def _restore_after_migrate(sender, app_config=None, using="default", **kwargs) -> None:
    if app_config is None or app_config.label != "core":
        return
    from django.db import connections

    if "core_importrun" in connections[using].introspection.table_names():
        restore_all_suspended_indexes()


post_migrate.connect(_restore_after_migrate, dispatch_uid="guanxi.core.importing.restore_indexes")


def _rows_before(run: ImportRun, start_row: int) -> int:
    return int(run.options.get("rows_seen", 0)) if start_row else 0


# ======================================================================================
# Runs started from the web: upload, preview, mapping
# ======================================================================================
UPLOAD_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx"}
PREVIEW_ROWS = 3


def uploads_dir() -> Path:
    from django.conf import settings

    folder = Path(settings.DATA_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def access_import_run_by_id(actor: User, run_id: int) -> ImportRun:
    """An import run its starter (or a superuser) may see; others get ``NotFound``."""
    from guanxi.core.errors import NotFound

    runs = ImportRun.objects.all() if actor.is_superuser else ImportRun.objects.filter(actor_id=actor.pk)
    try:
        return runs.get(pk=run_id)
    except (ImportRun.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"import run {run_id}") from None


def import_run_list(actor: User, limit: int = 10) -> list[ImportRun]:
    return list(ImportRun.objects.filter(actor_id=actor.pk).order_by("-created_at", "-id")[:limit])


def import_run_create(*, actor: User, object_type: str, file_name: str, chunks: Iterator[bytes],
                      encoding: str = "", sheet: str = "") -> ImportRun:
    """Keep an uploaded file (outside the web root) and open a run for it with the guessed
    mapping. Raises ``ImportFileError`` (and keeps nothing) when the file cannot be read."""
    import uuid

    check_import_permission(actor, object_type)
    suffix = Path(file_name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ImportFileError([Issue(file_name, 0, "", _("Upload a CSV or XLSX file."))])
    stored = uploads_dir() / f"{uuid.uuid4().hex}{suffix}"
    with open(stored, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    try:
        table = open_table(stored, file_label=file_name, encoding=encoding or None, sheet=sheet or None)
        mapping = guess_mapping(table.headers, fields_for(object_type))
    except ImportFileError:
        stored.unlink(missing_ok=True)
        raise
    return ImportRun.objects.create(
        object_type=object_type, file_name=file_name[:255], stored_path=str(stored), file_sha256=file_sha256(stored),
        file_size=stored.stat().st_size, mapping=mapping, actor=actor,
        options={"encoding": table.encoding or "", "sheet": sheet})


@dataclass
class Preview:
    headers: list[str]
    samples: list[list[str]]        # per header, the first few values
    mapping: dict[str, str]
    fields: list[ImportField]


def import_run_preview(run: ImportRun) -> Preview:
    table = open_table(run.stored_path, file_label=run.file_name, encoding=run.options.get("encoding") or None,
                       sheet=run.options.get("sheet") or None)
    samples: list[list[str]] = [[] for _header in table.headers]
    for count, (_number, cells) in enumerate(table.rows()):
        if count >= PREVIEW_ROWS:
            break
        for position in range(len(table.headers)):
            samples[position].append(cell_text(cells[position]) if position < len(cells) else "")
    available = fields_for(run.object_type)
    return Preview(table.headers, samples, {header: run.mapping.get(header, IGNORE) for header in table.headers},
                   list(available.values()))


def import_run_set_mapping(*, actor: User, run: ImportRun, mapping: dict[str, str]) -> ImportRun:
    """Store the mapping chosen on the mapping page after checking it against the file.
    Raises ``ImportFileError`` (and stores nothing) for a mapping that cannot work."""
    check_import_permission(actor, run.object_type)
    if run.state in (ImportRunState.RUNNING, ImportRunState.SUCCEEDED):
        raise ImportFileError([Issue(run.file_name, 0, "", _("This import has already run."))])
    table = open_table(run.stored_path, file_label=run.file_name, encoding=run.options.get("encoding") or None,
                       sheet=run.options.get("sheet") or None)
    plan, _warnings = build_plan(run.object_type, run.file_name, table.headers, mapping)
    run.mapping = plan.mapping
    run.state = ImportRunState.PENDING
    run.save(update_fields=["mapping", "state"])
    return run
