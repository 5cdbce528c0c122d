"""The Simplified Chinese translation: the committed catalogue is complete and sound, the
compiled .mo says the same as the .po, and the pages, forms, validation messages, API errors
and live-timeline words reach a Chinese user in Chinese.

The catalogue is read with a small parser of the standard library's means (polib is not a
project dependency), and the .mo through ``gettext.GNUTranslations``, as Django reads it.
Refresh and compile the catalogue with ``bash scripts/i18n.sh``.
"""

from __future__ import annotations

import ast
import gettext
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from guanxi.core import services
from guanxi.core.models import Contact, ContactPhone, Role

PASSWORD = "correct-horse-42"  # the password conftest.make_user gives every user
CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_FILE = CATALOGUE / "django.po"
MO_FILE = CATALOGUE / "django.mo"

PERCENT_PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<conversion>[diouxXeEfFgGcrsa%])")
BRACE_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w*)(?:[!:][^{}]*)?\}(?!\})")
HTML_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b")


# ======================================================================================
# A .po reader: enough of the format for makemessages' output
# ======================================================================================
@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def translations(self) -> list[str]:
        return list(self.msgstr_plural.values()) if self.msgid_plural is not None else [self.msgstr]

    @property
    def where(self) -> str:
        return f"{PO_FILE.name}:{self.line} {self.msgid!r}"


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), f"not a quoted PO string: {text}"
    return ast.literal_eval(text)


def read_po(path: Path) -> tuple[Entry, list[Entry]]:
    """Return (header entry, message entries); obsolete (#~) entries are left out."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int | None] | None = None
    pending_flags: set[str] = set()

    def finish():
        nonlocal current
        if current is not None:
            entries.append(current)
        current = None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            if not line:
                finish()
                target = None
            continue
        if line.startswith("#,"):
            pending_flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#"):
            continue
        keyword, _space, rest = line.partition(" ")
        if keyword.startswith('"'):
            assert target is not None and current is not None, f"{path.name}:{number}: stray string"
            name, index = target
            value = _unquote(line)
            if name == "msgstr" and index is not None:
                current.msgstr_plural[index] += value
            else:
                setattr(current, name, getattr(current, name) + value)
            continue
        if keyword in ("msgctxt", "msgid") and target is not None and target[0] == "msgstr":
            finish()  # a new entry without a blank line before it
        if current is None:
            current = Entry(flags=pending_flags, line=number)
            pending_flags = set()
        plural = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if plural:
            index = int(plural.group(1))
            current.msgstr_plural[index] = _unquote(rest)
            target = ("msgstr", index)
        elif keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
            setattr(current, keyword, _unquote(rest))
            target = (keyword, None)
        else:
            raise AssertionError(f"{path.name}:{number}: unknown keyword {keyword}")
    finish()
    header = next(entry for entry in entries if entry.msgid == "" and entry.msgctxt is None)
    return header, [entry for entry in entries if entry is not header]


def percent_placeholders(text: str) -> list[tuple[str, str]]:
    """Named placeholders as a sorted list (their order may change in a translation);
    positional ones in order (it may not)."""
    found = [(match.group("name") or "", match.group("conversion")) for match in PERCENT_PLACEHOLDER.finditer(text)]
    named = sorted(item for item in found if item[0])
    positional = [item for item in found if not item[0]]
    return named + positional


@pytest.fixture(scope="module")
def catalogue() -> tuple[Entry, list[Entry]]:
    return read_po(PO_FILE)


# ======================================================================================
# The catalogue itself
# ======================================================================================
def test_header_declares_chinese_utf8_and_a_single_plural_form(catalogue):
    header, entries = catalogue
    assert entries, "the catalogue has no messages"
    assert "fuzzy" not in header.flags
    assert "Content-Type: text/plain; charset=UTF-8" in header.msgstr
    assert "Plural-Forms: nplurals=1; plural=0;" in header.msgstr
    assert "Language: zh_Hans" in header.msgstr


def test_every_message_is_translated_and_none_is_fuzzy(catalogue):
    _header, entries = catalogue
    fuzzy = [entry.where for entry in entries if "fuzzy" in entry.flags]
    untranslated = [entry.where for entry in entries if not all(text.strip() for text in entry.translations)]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not untranslated, f"untranslated entries (run scripts/i18n.sh, then translate): {untranslated}"


def test_plural_messages_have_exactly_the_one_chinese_form(catalogue):
    _header, entries = catalogue
    for entry in entries:
        if entry.msgid_plural is not None:
            assert set(entry.msgstr_plural) == {0}, entry.where


def test_translations_keep_every_placeholder_and_html_tag(catalogue):
    _header, entries = catalogue
    problems = []
    for entry in entries:
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural is not None else [])
        for translation in entry.translations:
            if "python-format" in entry.flags or "%(" in entry.msgid:
                # a plural's singular may leave out the number the plural shows; Chinese has
                # one form, which must carry every placeholder of the plural msgid.
                expected = percent_placeholders(sources[-1])
                if percent_placeholders(translation) != expected:
                    problems.append(f"{entry.where}: {translation!r} has placeholders "
                                    f"{percent_placeholders(translation)}, expected {expected}")
            if "python-brace-format" in entry.flags:
                if sorted(BRACE_PLACEHOLDER.findall(translation)) != sorted(BRACE_PLACEHOLDER.findall(entry.msgid)):
                    problems.append(f"{entry.where}: {translation!r} changes the {{}} placeholders")
            if sorted(HTML_TAG.findall(translation)) != sorted(HTML_TAG.findall(entry.msgid)):
                problems.append(f"{entry.where}: {translation!r} changes the HTML tags")
    assert not problems, "\n".join(problems)


def test_percent_placeholder_reader_tells_changed_placeholders_apart():
    # a translation that renames, drops or retypes a placeholder must not pass for a good one
    assert percent_placeholders("%(name)s has %(count)d") == percent_placeholders("%(count)d 个，属于 %(name)s")
    assert percent_placeholders("%(name)s") != percent_placeholders("%(名字)s")
    assert percent_placeholders("%(count)d rows") != percent_placeholders("%(count)s 行")
    assert percent_placeholders("100 %%") != percent_placeholders("100 %")
    assert percent_placeholders("%s of %d") != percent_placeholders("%d / %s")


def test_reader_parses_context_plurals_flags_and_continued_lines(tmp_path):
    po = tmp_path / "sample.po"
    po.write_text('msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n'
                  '#: a.py:1\n#, python-format\nmsgctxt "state"\nmsgid "Active"\nmsgstr "启用"\n\n'
                  '#, fuzzy\nmsgid ""\n"Two "\n"lines"\nmsgstr ""\n"两"\n"行"\n\n'
                  'msgid "%(n)s day"\nmsgid_plural "%(n)s days"\nmsgstr[0] "%(n)s 天"\n\n'
                  '#~ msgid "Old"\n#~ msgstr "旧"\n', encoding="utf-8")
    header, entries = read_po(po)
    assert header.msgstr == "Language: zh_Hans\n"
    assert [(entry.msgctxt, entry.msgid) for entry in entries] == [("state", "Active"), (None, "Two lines"),
                                                                   (None, "%(n)s day")]
    assert entries[0].msgstr == "启用" and entries[0].flags == {"python-format"}
    assert entries[1].msgstr == "两行" and entries[1].flags == {"fuzzy"}
    assert entries[2].msgid_plural == "%(n)s days" and entries[2].msgstr_plural == {0: "%(n)s 天"}


# ======================================================================================
# The compiled catalogue Django loads
# ======================================================================================
def test_compiled_catalogue_says_what_the_po_says(catalogue):
    header, entries = catalogue
    assert MO_FILE.exists(), "django.mo is missing: run scripts/i18n.sh --compile and commit it"
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert compiled.info()["plural-forms"] == "nplurals=1; plural=0;"
    stale = []
    for entry in entries:
        if entry.msgid_plural is not None:
            for count in (1, 2):
                if entry.msgctxt is not None:
                    got = compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, count)
                else:
                    got = compiled.ngettext(entry.msgid, entry.msgid_plural, count)
                if got != entry.msgstr_plural[0]:
                    stale.append(entry.where)
        else:
            got = (compiled.pgettext(entry.msgctxt, entry.msgid) if entry.msgctxt is not None
                   else compiled.gettext(entry.msgid))
            if got != entry.msgstr:
                stale.append(entry.where)
    assert not stale, f"django.mo is older than django.po (run scripts/i18n.sh --compile): {stale}"


# ======================================================================================
# What a Chinese user sees
# ======================================================================================
def sign_in_in_chinese(client, make_user, username="wang.fang", role=Role.SALES_REP):
    """Sign in through the login page as a user who chose Chinese: the login sets the
    language cookie every following page is rendered in."""
    user = make_user(username, role, language="zh-hans")
    response = client.post(reverse("core:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return user


@pytest.mark.django_db
def test_login_page_is_chinese_when_the_language_cookie_says_so(client):
    # given a browser whose language cookie is Simplified Chinese
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    # when it opens the login page
    response = client.get(reverse("core:login"))
    # then the page is declared and written in Chinese
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in html
    assert "登录 Guanxi" in html and "跳到主要内容" in html
    assert "Sign in to Guanxi" not in html


@pytest.mark.django_db
def test_login_page_stays_english_without_a_chinese_cookie(client):
    response = client.get(reverse("core:login"))
    html = response.content.decode()
    assert '<html lang="en">' in html and "Sign in to Guanxi" in html and "登录 Guanxi" not in html


@pytest.mark.django_db
def test_contact_list_shows_headings_buttons_and_choice_labels_in_chinese(client, make_user):
    # given a Chinese-speaking sales rep who owns an active contact
    user = sign_in_in_chinese(client, make_user)
    services.contact_create(actor=user, data={"full_name": "王芳", "lifecycle_stage": "active", "owner_id": user.pk})
    # when they open the contact list
    response = client.get(reverse("core:contact_list"))
    # then navigation, headings, buttons and the stage's choice label are Chinese
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in html
    for words in ("联系人", "新建联系人", "生命周期阶段", "负责人", "活跃客户", "王芳"):
        assert words in html, words
    for english in ("New contact", "Lifecycle stage", "Skip to main content"):
        assert english not in html, english
    # and the home page is the home page (首页), not a kind of phone number (住宅)
    assert "<title>首页 · 关系 Guanxi</title>" in client.get(reverse("core:home")).content.decode()


@pytest.mark.django_db
def test_contact_form_labels_and_its_validation_messages_are_chinese(client, make_user):
    # given a Chinese-speaking sales rep on the new-contact form
    sign_in_in_chinese(client, make_user)
    form = client.get(reverse("core:contact_create")).content.decode()
    assert "生命周期阶段" in form and "关系阶段" in form and "授权与偏好" in form
    # when they submit a name with a phone number that is no phone number
    response = client.post(reverse("core:contact_create"), {
        "full_name": "李雷", "lifecycle_stage": "prospect", "relationship_stage": "transactional",
        "preferred_language": "zh-hans", "phone": "12", "email": "", "tags": "", "account": "", "owner": ""})
    # then the form comes back with the normalizer's message in Chinese, and nothing is stored
    html = response.content.decode()
    assert response.status_code in (200, 400)
    assert "未保存任何内容" in html
    assert "“12”不是" in html and "电话号码" in html
    assert not Contact.objects.exists() and not ContactPhone.objects.exists()


@pytest.mark.django_db
def test_api_errors_answer_in_the_language_the_client_asks_for(api_client):
    # given an API client that prefers Simplified Chinese
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    # when it reads a contact that does not exist
    missing = api_client.get("/api/v1/contacts/987654", **chinese)
    # then the detail is Chinese
    assert missing.status_code == 404 and missing.json()["detail"] == "未找到。"
    # when it sends a bad phone and email
    response = api_client.post("/api/v1/contacts", json.dumps({"full_name": "李雷", "phone": "12", "email": "nope"}),
                               content_type="application/json", **chinese)
    # then detail and field errors are Chinese and nothing is stored
    body = response.json()
    assert response.status_code == 422 and body["detail"] == "输入无效。"
    assert body["errors"]["phone"] == ["“12”不是有效的电话号码。"]
    assert body["errors"]["email"] == ["“nope”不是有效的电子邮件地址。"]
    assert not Contact.objects.exists()
    # and a client that does not ask for Chinese still gets English
    english = api_client.get("/api/v1/contacts/987654")
    assert english.json()["detail"] == "Not found."


@pytest.mark.django_db
def test_custom_field_validation_messages_are_chinese(api_client):
    # given a whole-number custom field on contacts
    created = api_client.post("/api/v1/custom-fields", json.dumps({
        "target": "contact", "key": "floor", "label": "Floor", "label_zh": "楼层", "field_type": "integer"}),
        content_type="application/json")
    assert created.status_code == 201, created.content
    # when a Chinese client sends a contact whose value is no number
    response = api_client.post("/api/v1/contacts", json.dumps({"full_name": "韩梅梅", "custom_data": {"floor": "三楼"}}),
                               content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    # then the field error is Chinese and nothing is stored
    assert response.status_code == 422
    assert response.json()["errors"]["custom_data.floor"] == ["请输入整数。"]
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_live_timeline_script_gets_its_words_in_chinese(client, make_user):
    # given a Chinese-speaking sales rep and one of their contacts
    user = sign_in_in_chinese(client, make_user)
    contact = services.contact_create(actor=user, data={"full_name": "张伟", "owner_id": user.pk})
    # when they open the contact's 360° page
    response = client.get(reverse("core:contact_360", args=[contact.pk]))
    # then the labels the live-timeline script reads are Chinese, placeholders intact
    html = response.content.decode()
    assert response.status_code == 200
    found = re.search(r'<script id="timeline-labels" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the 360° page carries no timeline labels"
    labels = json.loads(found.group(1))
    assert labels["agent"] == "处理人" and labels["reason"] == "原因" and labels["duration"] == "时长"
    assert labels["new_interaction"] == "新互动：%(channel)s，%(direction)s。"
    assert "刷新页面" in labels["unavailable"] and "第一页" in labels["newer_available"]
