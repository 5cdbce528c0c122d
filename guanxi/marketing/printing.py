"""Print: mail-merge letters, address labels (Avery L7160 sheets: 3 × 7 on A4) and DL
envelopes, as PDF with ReportLab.

Chinese addresses are laid out the Chinese way — postcode on the first line, then the
address from the largest unit to the smallest (province, city, district, street), then
the company and the name followed by 收 — and set in ReportLab's built-in CID font
STSong-Light (no font file needed). Other addresses follow the international order
(name, street, city and postcode, country).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterable

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))

COUNTRY_NAMES = {"CN": "中国", "US": "USA", "DE": "Germany", "GB": "United Kingdom", "FR": "France", "JP": "Japan",
                 "HK": "Hong Kong", "SG": "Singapore"}


@dataclass(frozen=True)
class Label:
    """One sheet layout: label size, grid and page margins (Avery L7160 by default)."""

    name: str = "Avery L7160"
    columns: int = 3
    rows: int = 7
    width: float = 63.5 * mm
    height: float = 38.1 * mm
    left: float = 7.2 * mm        # page edge to the first label
    top: float = 15.15 * mm
    pitch_x: float = 66.0 * mm    # label to label, gap included
    pitch_y: float = 38.1 * mm
    padding: float = 4 * mm


L7160 = Label()


@dataclass(frozen=True)
class Mailing:
    """Who and where, as printed."""

    name: str
    company: str = ""
    country: str = "CN"
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    postcode: str = ""


def address_lines(mailing: Mailing) -> list[str]:
    """The address block, line by line, in the order the country's post expects."""
    if mailing.country in ("CN", ""):
        region = "".join(part for part in (mailing.province, mailing.city if mailing.city != mailing.province
                                           else "", mailing.district) if part)
        lines = [mailing.postcode, region, mailing.street, mailing.company, f"{mailing.name} 收" if mailing.name
                 else ""]
        return [line for line in lines if line]
    city_line = " ".join(part for part in (mailing.postcode, mailing.city) if part) if mailing.country in (
        "DE", "FR") else ", ".join(part for part in (mailing.city, mailing.province, mailing.postcode) if part)
    lines = [mailing.name, mailing.company, mailing.street, city_line,
             COUNTRY_NAMES.get(mailing.country, mailing.country).upper()]
    return [line for line in lines if line]


def _font_for(text: str) -> str:
    return CJK_FONT if any(ord(character) > 0x2E7F for character in text) else LATIN_FONT


def _draw(canvas: Canvas, x: float, y: float, text: str, size: float) -> None:
    canvas.setFont(_font_for(text), size)
    canvas.drawString(x, y, text)


def _fit(text: str, size: float, width: float) -> float:
    """The font size (at most ``size``) at which ``text`` fits ``width``."""
    while size > 5 and pdfmetrics.stringWidth(text, _font_for(text), size) > width:
        size -= 0.5
    return size


def labels_pdf(mailings: Iterable[Mailing], layout: Label = L7160, title: str = "") -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(title or layout.name)
    page_width, page_height = A4
    per_page = layout.columns * layout.rows
    count = 0
    for mailing in mailings:
        if count and count % per_page == 0:
            canvas.showPage()
        slot = count % per_page
        column, row = slot % layout.columns, slot // layout.columns
        x = layout.left + column * layout.pitch_x + layout.padding
        top = page_height - layout.top - row * layout.pitch_y - layout.padding
        lines = address_lines(mailing)[:6]
        size = 9.5 if len(lines) <= 4 else 8
        for index, line in enumerate(lines):
            _draw(canvas, x, top - (index + 1) * size * 1.3, line,
                  _fit(line, size, layout.width - 2 * layout.padding))
        count += 1
    if count == 0:
        _draw(canvas, 20 * mm, page_height - 20 * mm, "—", 10)
    canvas.save()
    return buffer.getvalue()


DL_ENVELOPE = (220 * mm, 110 * mm)


def envelopes_pdf(mailings: Iterable[Mailing], sender: Mailing, title: str = "") -> bytes:
    """DL envelopes, one per page. Chinese envelopes carry the recipient's postcode in the
    six boxes at the top left, the address in the middle and the sender with postcode at
    the bottom right; international ones the sender at the top left and the recipient in
    the right half."""
    buffer = io.BytesIO()
    width, height = DL_ENVELOPE
    canvas = Canvas(buffer, pagesize=DL_ENVELOPE, pageCompression=1)
    canvas.setTitle(title or "Envelopes")
    printed = 0
    for mailing in mailings:
        if printed:
            canvas.showPage()
        printed += 1
        if mailing.country in ("CN", ""):
            _chinese_envelope(canvas, mailing, sender, width, height)
        else:
            _international_envelope(canvas, mailing, sender, width, height)
    if not printed:
        _draw(canvas, 20 * mm, height / 2, "—", 10)
    canvas.save()
    return buffer.getvalue()


def _chinese_envelope(canvas: Canvas, mailing: Mailing, sender: Mailing, width: float, height: float) -> None:
    box = 8 * mm
    for index in range(6):  # the postcode boxes
        x = 12 * mm + index * (box + 1.5 * mm)
        canvas.rect(x, height - 12 * mm - box, box, box)
        if index < len(mailing.postcode):
            _draw(canvas, x + 2.3 * mm, height - 12 * mm - box + 2.2 * mm, mailing.postcode[index], 13)
    lines = address_lines(Mailing(**{**mailing.__dict__, "postcode": ""}))
    *address, name_line = lines
    y = height - 36 * mm
    for line in address:
        _draw(canvas, 30 * mm, y, line, _fit(line, 13, width - 50 * mm))
        y -= 8 * mm
    _draw(canvas, 60 * mm, y - 6 * mm, name_line, _fit(name_line, 20, width - 80 * mm))
    sender_lines = [line for line in address_lines(Mailing(**{**sender.__dict__, "postcode": ""}))
                    if not line.endswith(" 收")]
    y = 22 * mm
    for line in sender_lines[-3:]:
        _draw(canvas, width - 95 * mm, y, line, _fit(line, 9, 80 * mm))
        y -= 4.5 * mm
    _draw(canvas, width - 95 * mm, y, f"邮政编码：{sender.postcode}" if sender.postcode else "", 9)


def _international_envelope(canvas: Canvas, mailing: Mailing, sender: Mailing, width: float, height: float) -> None:
    y = height - 12 * mm
    for line in address_lines(sender):
        _draw(canvas, 12 * mm, y, line, _fit(line, 8.5, 80 * mm))
        y -= 4.2 * mm
    y = height / 2 + 4 * mm
    for line in address_lines(mailing):
        _draw(canvas, width / 2 - 5 * mm, y, line, _fit(line, 12, width / 2))
        y -= 6 * mm


def letters_pdf(letters: Iterable[tuple[Mailing, str, str]], sender: Mailing, date_text: str, title: str = "") -> bytes:
    """One letter per page: sender, recipient block, date, heading and body (merged text)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(title or "Letters")
    width, height = A4
    printed = 0
    for mailing, heading, body in letters:
        if printed:
            canvas.showPage()
        printed += 1
        y = height - 20 * mm
        for line in address_lines(sender):
            if line.endswith(" 收"):
                line = line[:-2]
            _draw(canvas, width - 80 * mm, y, line, _fit(line, 9, 60 * mm))
            y -= 4.5 * mm
        y = height - 50 * mm
        for line in address_lines(mailing):
            _draw(canvas, 25 * mm, y, line, _fit(line, 11, 90 * mm))
            y -= 5.5 * mm
        _draw(canvas, width - 80 * mm, height - 95 * mm, date_text, 10)
        _draw(canvas, 25 * mm, height - 110 * mm, heading, _fit(heading, 14, width - 50 * mm))
        y = height - 122 * mm
        for paragraph in body.splitlines() or [""]:
            for line in _wrap(paragraph, width - 50 * mm, 11):
                if y < 25 * mm:
                    canvas.showPage()
                    y = height - 25 * mm
                _draw(canvas, 25 * mm, y, line, 11)
                y -= 6 * mm
    if not printed:
        _draw(canvas, 20 * mm, height - 20 * mm, "—", 10)
    canvas.save()
    return buffer.getvalue()


def _wrap(text: str, width: float, size: float) -> list[str]:
    """Break a paragraph to ``width``: at spaces for Latin text, anywhere for Chinese."""
    if not text:
        return [""]
    lines, current = [], ""
    tokens = text.split(" ") if _font_for(text) == LATIN_FONT else list(text)
    joiner = " " if _font_for(text) == LATIN_FONT else ""
    for token in tokens:
        candidate = f"{current}{joiner}{token}" if current else token
        if pdfmetrics.stringWidth(candidate, _font_for(candidate), size) <= width:
            current = candidate
        else:
            lines.append(current)
            current = token
    lines.append(current)
    return lines
