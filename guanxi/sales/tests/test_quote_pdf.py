"""Quote PDFs in English and Chinese (ReportLab, Chinese in the built-in STSong-Light CID
font), through the API, the web page and the customer's link."""

from __future__ import annotations

import zlib

import pytest

from guanxi.sales import services
from guanxi.sales.documents import quote_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def quote(admin_user, deal, catalogue):
    return services.quote_create(actor=admin_user, data={"opportunity_id": deal.pk, "lines": [
        {"product_id": catalogue["router"].pk, "quantity": 2, "discount_percent": 5},
        {"product_id": catalogue["bundle"].pk}]})


def page_text(pdf: bytes) -> bytes:
    """The decompressed content streams, where the text operators are."""
    text = b""
    for chunk in pdf.split(b"stream")[1:]:
        body = chunk.split(b"endstream")[0].strip(b"\r\n")
        try:
            text += zlib.decompress(body)
        except zlib.error:
            text += body
    return text


def test_the_english_pdf_is_a_pdf_with_the_quote_on_it(quote):
    pdf = quote_pdf(quote, language="en")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert quote.number.encode() in pdf  # the title in the document info
    assert b"STSong-Light" in pdf  # the customer's Chinese name needs the CID font even in English
    assert b"Helvetica" in pdf


def test_the_chinese_pdf_sets_everything_in_the_cid_font(quote):
    pdf = quote_pdf(quote, language="zh-hans")
    assert pdf.startswith(b"%PDF-")
    assert b"STSong-Light" in pdf and b"UniGB-UCS2-H" in pdf
    assert page_text(quote_pdf(quote, language="zh-hans")) != page_text(quote_pdf(quote, language="en"))


def test_the_api_serves_the_pdf_in_the_language_asked(api_client, quote):
    english = api_client.get(f"/api/v1/sales/quotes/{quote.pk}/pdf", {"language": "en"})
    chinese = api_client.get(f"/api/v1/sales/quotes/{quote.pk}/pdf", {"language": "zh-hans"})
    assert english.status_code == chinese.status_code == 200
    assert english["Content-Type"] == "application/pdf"
    assert f'filename="{quote.display_number}.pdf"' in english["Content-Disposition"]
    assert english.content != chinese.content
    assert api_client.get(f"/api/v1/sales/quotes/{quote.pk}/pdf", {"language": "fr"}).status_code == 422


def test_the_web_page_downloads_it_and_others_cannot(client, admin_user, make_user, quote):
    client.force_login(admin_user)
    response = client.get(f"/sales/quotes/{quote.pk}/pdf/?language=zh-hans")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert "-zh-hans.pdf" in response["Content-Disposition"]
    client.force_login(make_user("stranger", "sales_rep"))
    assert client.get(f"/sales/quotes/{quote.pk}/pdf/").status_code == 404


def test_the_customer_link_serves_the_pdf(client, admin_user, quote):
    link = services.quote_accept_token(quote)
    response = client.get(f"/sales/q/{link}/pdf/")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert client.get("/sales/q/forged/pdf/").status_code == 404
