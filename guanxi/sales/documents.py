"""Quote PDFs in English or Simplified Chinese, drawn with ReportLab.

Chinese text is set in ReportLab's built-in CID font STSong-Light (Adobe's Asian font
pack names it; PDF readers supply the glyphs), so no font file is shipped or downloaded.
Any text with Chinese characters uses it, whatever the document's language — customer
names are often Chinese in an English quote.
"""

from __future__ import annotations

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from guanxi.core.normalize import has_cjk
from guanxi.sales.models import Quote, QuoteLineKind

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
_registered = False


def _register_fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _registered = True


def _amount(value: Decimal, currency: str) -> str:
    return f"{currency} {Decimal(value):,.2f}"


def _quantity(value: Decimal) -> str:
    value = Decimal(value).normalize()
    return f"{value:f}" if value == value.to_integral() else f"{value:.2f}"


class _Styles:
    """Paragraph styles; Chinese (or any CJK text) gets the CID font."""

    def __init__(self, chinese: bool):
        self.chinese = chinese
        self._cache: dict[tuple, ParagraphStyle] = {}

    def style(self, text: str, *, size: float = 9, bold: bool = False, right: bool = False,
              color=colors.black) -> ParagraphStyle:
        cjk = self.chinese or has_cjk(text)
        font = CJK_FONT if cjk else (LATIN_BOLD if bold else LATIN_FONT)
        key = (font, size, bold, right, str(color))
        if key not in self._cache:
            self._cache[key] = ParagraphStyle(
                f"s{len(self._cache)}", fontName=font, fontSize=size, leading=size * 1.35, textColor=color,
                alignment=TA_RIGHT if right else 0)
        return self._cache[key]

    def paragraph(self, text: str, **options) -> Paragraph:
        text = str(text or "")
        content = escape(text).replace("\n", "<br/>")
        if options.get("bold") and (self.chinese or has_cjk(text)):
            content = f"<b>{content}</b>"
        return Paragraph(content, self.style(text, **options))


def quote_pdf(quote: Quote, *, language: str | None = None) -> bytes:
    """The quote as a PDF in ``language`` (the quote's own by default)."""
    from guanxi.sales.selectors import quote_lines

    _register_fonts()
    language = language or quote.language or "en"
    chinese = language.startswith("zh")
    styles = _Styles(chinese)
    buffer = io.BytesIO()
    with override(language):
        document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                                     topMargin=16 * mm, bottomMargin=16 * mm,
                                     title=f"{_('Quote')} {quote.display_number}",
                                     author=str(quote.owner or ""), subject=quote.title)
        seller = getattr(settings, "GUANXI_COMPANY_NAME", "") or "关系 Guanxi CRM"
        story = [
            styles.paragraph(seller, size=10, color=colors.HexColor("#b3261e"), bold=True),
            Spacer(1, 3 * mm),
            styles.paragraph(f"{_('Quote')} {quote.display_number}", size=18, bold=True),
            styles.paragraph(quote.title, size=11),
            Spacer(1, 5 * mm),
        ]
        customer = quote.account.name if quote.account_id else ""
        person = quote.contact.full_name if quote.contact_id else ""
        facts = [
            (_("Customer"), customer or person),
            (_("Attention of"), person if customer else ""),
            (_("Date"), timezone.localtime(quote.created_at).strftime("%Y-%m-%d")),
            (_("Valid until"), quote.valid_until.isoformat()),
            (_("Prepared by"), str(quote.owner or "")),
            (_("Currency"), quote.currency),
        ]
        story.append(Table([[styles.paragraph(label, color=colors.HexColor("#555555")), styles.paragraph(value)]
                            for label, value in facts if value], colWidths=[35 * mm, 120 * mm],
                           style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                             ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])))
        story.append(Spacer(1, 6 * mm))
        header = [_("Item"), _("Quantity"), _("Unit price"), _("Discount"), _("Amount")]
        rows = [[styles.paragraph(text, bold=True, right=index > 0) for index, text in enumerate(header)]]
        for line in quote_lines(quote):
            indent = "    " if line.parent_id else ""
            description = indent + line.description
            if line.kind == QuoteLineKind.COMPONENT:
                amount, price, discount = _("included"), "", ""
            else:
                amount = _amount(line.line_total, quote.currency)
                price = _amount(line.unit_price, quote.currency)
                discount = f"{Decimal(line.discount_percent):.2f} %" if line.discount_percent else ""
            rows.append([styles.paragraph(description), styles.paragraph(_quantity(line.quantity), right=True),
                         styles.paragraph(price, right=True), styles.paragraph(discount, right=True),
                         styles.paragraph(amount, right=True)])
        table = Table(rows, colWidths=[72 * mm, 20 * mm, 28 * mm, 18 * mm, 36 * mm], repeatRows=1)
        table.setStyle(TableStyle([
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#cccccc")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        story += [table, Spacer(1, 4 * mm)]
        totals = [(_("Subtotal at list price"), _amount(quote.subtotal, quote.currency)),
                  (_("Discounts"), "−" + _amount(quote.discount_total, quote.currency)),
                  (_("Tax (%(rate)s %%)") % {"rate": f"{Decimal(quote.tax_percent):.2f}"},
                   _amount(quote.tax_total, quote.currency)),
                  (_("Total"), _amount(quote.total, quote.currency))]
        story.append(Table([[styles.paragraph(label, right=True, bold=index == 3),
                             styles.paragraph(value, right=True, bold=index == 3)]
                            for index, (label, value) in enumerate(totals)],
                           colWidths=[138 * mm, 36 * mm],
                           style=TableStyle([("LINEABOVE", (0, 3), (-1, 3), 0.8, colors.black)])))
        if quote.terms:
            story += [Spacer(1, 6 * mm), styles.paragraph(_("Terms"), bold=True), styles.paragraph(quote.terms)]
        story += [Spacer(1, 8 * mm), styles.paragraph(
            _("To accept this quote, use the link in our email or sign below and return this document before "
              "%(date)s.") % {"date": quote.valid_until.isoformat()}, size=8, color=colors.HexColor("#555555"))]
        if quote.accepted_at:
            story.append(styles.paragraph(_("Accepted by %(name)s on %(date)s.") % {
                "name": quote.accepted_by_name,
                "date": timezone.localtime(quote.accepted_at).strftime("%Y-%m-%d %H:%M")}, bold=True))
        document.build(story)
    return buffer.getvalue()
