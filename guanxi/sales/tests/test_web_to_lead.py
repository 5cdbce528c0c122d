"""The public web-to-lead form: embeddable, spam-protected (honeypot, signed time stamp),
rate-limited; good enquiries become assigned leads with their campaign."""

from __future__ import annotations

import time

import pytest
from django.core import signing

from guanxi.sales.models import Lead, LeadSource
from guanxi.sales.views.public import FORM_SALT

pytestmark = pytest.mark.django_db


def aged_token(seconds: int) -> str:
    """A token as if the form had been shown ``seconds`` ago."""
    signer = signing.TimestampSigner(salt=FORM_SALT)
    original = time.time
    try:
        time.time = lambda: original() - seconds
        return signer.sign(str(int(original() - seconds)))
    finally:
        time.time = original


def enquiry(**extra) -> dict:
    return {"family_name": "陈", "given_name": "静", "company": "锦程医疗科技", "email": "chen.jing@jincheng.example",
            "phone": "138 0013 8123", "city": "深圳", "message": "需要企业专线报价", "website": "",
            "token": aged_token(30), "campaign": "Canton Fair 2026", **extra}


def test_the_form_is_public_and_embeddable(client):
    response = client.get("/sales/web-to-lead/?embed=1&campaign=Spring")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert 'name="website"' in html and 'name="token"' in html and 'value="Spring"' in html
    assert 'class="site-header"' not in html


def test_an_enquiry_becomes_an_assigned_lead_with_its_campaign(client, rep, south, make_user):
    south_rep = make_user("south.rep", "sales_rep", territory=south)
    response = client.post("/sales/web-to-lead/", enquiry(), REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.full_name, lead.phone, lead.source) == ("陈静", "+8613800138123", LeadSource.WEB_FORM)
    assert (lead.campaign_name, lead.city, lead.description) == ("Canton Fair 2026", "深圳", "需要企业专线报价")
    assert (lead.territory_id, lead.owner_id) == (south.pk, south_rep.pk)  # Shenzhen is in South China
    assert lead.submitted_ip == "203.0.113.7"


def test_a_filled_honeypot_is_thanked_and_forgotten(client):
    response = client.post("/sales/web-to-lead/", enquiry(website="http://spam.example"))
    assert response.status_code == 200
    assert not Lead.objects.exists()


@pytest.mark.parametrize("token", ["", "forged:token", "too-fast"])
def test_a_missing_forged_or_instant_token_is_refused(client, token):
    value = aged_token(0) if token == "too-fast" else token
    response = client.post("/sales/web-to-lead/", enquiry(token=value))
    assert response.status_code == 400
    assert not Lead.objects.exists()
    assert 'name="token"' in response.content.decode()  # a fresh form to send again


def test_a_stale_form_is_refused(client):
    response = client.post("/sales/web-to-lead/", enquiry(token=aged_token(2 * 86400)))
    assert response.status_code == 400 and "too long" in response.content.decode()
    assert not Lead.objects.exists()


def test_an_enquiry_without_a_way_to_answer_is_refused(client):
    response = client.post("/sales/web-to-lead/", enquiry(email="", phone=""))
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_a_bad_phone_is_explained(client):
    response = client.post("/sales/web-to-lead/", enquiry(phone="12"))
    assert response.status_code == 400 and "phone" in response.content.decode().lower()
    assert not Lead.objects.exists()


def test_the_form_is_rate_limited_per_address(client, settings):
    settings.GUANXI_WEB_FORM_RATE_LIMIT = "2/m"
    for index in range(2):
        assert client.post("/sales/web-to-lead/", enquiry(email=f"a{index}@x.example"),
                           REMOTE_ADDR="198.51.100.9").status_code == 200
    limited = client.post("/sales/web-to-lead/", enquiry(email="a3@x.example"), REMOTE_ADDR="198.51.100.9")
    assert limited.status_code == 429 and limited["Retry-After"]
    assert Lead.objects.count() == 2
    other = client.post("/sales/web-to-lead/", enquiry(email="b@x.example"), REMOTE_ADDR="198.51.100.10")
    assert other.status_code == 200 and Lead.objects.count() == 3
