"""Twilio drives the IVR through the voice webhook: signed requests only, TwiML answers,
keys and silence, the caller queued, and the status callback ending the call."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from guanxi.contactcenter import services
from guanxi.contactcenter.models import Call, CallEndReason, CallState, CtiEventLog

pytestmark = pytest.mark.django_db
TOKEN = "test-twilio-auth-token"
VOICE = "/contact-center/twilio/voice/"
STATUS = "/contact-center/twilio/status/"

MENU = """language: en
start: main
nodes:
  main:
    type: menu
    say: "For billing press 1."
    options: {"1": agent}
    retries: 0
    on_failure: bye
  agent: {type: queue, queue: billing, say: "Please hold."}
  bye: {type: hangup, say: "Goodbye."}
"""


@pytest.fixture
def twilio(settings, center):
    settings.GUANXI_TWILIO_AUTH_TOKEN = TOKEN
    settings.GUANXI_TWILIO_PUBLIC_URL = ""
    center.queue("billing")
    services.ivr_menu_create(actor=None, data={"name": "Twilio line", "numbers": ["+861095555"], "source": MENU})


def signed_post(client, path: str, params: dict, *, token: str = TOKEN, query: str = ""):
    url = f"http://testserver{path}{query}"
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path + query, params, HTTP_X_TWILIO_SIGNATURE=signature)


def first_request(client, sid: str = "CA001"):
    return signed_post(client, VOICE, {"CallSid": sid, "From": "+8613800138000", "To": "+861095555",
                                       "CallStatus": "ringing"})


def test_the_first_request_starts_the_menu_and_answers_twiml(twilio, client):
    response = first_request(client)

    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    body = response.content.decode()
    assert '<Gather action="http://testserver/contact-center/twilio/voice/?node=main"' in body
    assert "For billing press 1." in body
    call = Call.objects.get(adapter="twilio", external_id="CA001")
    assert (call.state, call.ani_e164, call.dnis) == (CallState.IVR, "+8613800138000", "+861095555")


def test_keys_queue_the_caller(twilio, client):
    first_request(client)

    response = signed_post(client, VOICE, {"CallSid": "CA001", "Digits": "1"}, query="?node=main")

    body = response.content.decode()
    assert "<Say language=\"en-US\">Please hold.</Say>" in body and "<Enqueue>billing</Enqueue>" in body
    assert "You are number 1 in line." in body
    call = Call.objects.get(external_id="CA001")
    assert call.state == CallState.QUEUED and call.queue.code == "billing"


def test_silence_takes_the_failure_branch(twilio, client):
    first_request(client)

    response = signed_post(client, VOICE, {"CallSid": "CA001"}, query="?node=main&timeout=1")

    assert "Goodbye." in response.content.decode() and "<Hangup />" in response.content.decode()
    assert Call.objects.get(external_id="CA001").end_reason == CallEndReason.SELF_SERVICE


def test_the_status_callback_ends_a_waiting_call_once(twilio, client):
    first_request(client)
    signed_post(client, VOICE, {"CallSid": "CA001", "Digits": "1"}, query="?node=main")

    done = signed_post(client, STATUS, {"CallSid": "CA001", "CallStatus": "completed"})
    again = signed_post(client, STATUS, {"CallSid": "CA001", "CallStatus": "completed"})

    assert (done.status_code, again.status_code) == (204, 204)
    call = Call.objects.get(external_id="CA001")
    assert (call.state, call.end_reason) == (CallState.ENDED, CallEndReason.ABANDONED)
    assert list(CtiEventLog.objects.filter(adapter="twilio", kind="ended").values_list("outcome", flat=True)
                .order_by("id")) == ["applied", "duplicate"]


def test_requests_without_a_valid_signature_are_refused_and_change_nothing(twilio, client):
    unsigned = client.post(VOICE, {"CallSid": "CA002", "From": "+8613800138000", "To": "+861095555"})
    forged = signed_post(client, VOICE, {"CallSid": "CA002", "From": "+8613800138000", "To": "+861095555"},
                         token="not-the-token")
    tampered_url = client.post(VOICE, {"CallSid": "CA002"}, HTTP_X_TWILIO_SIGNATURE=RequestValidator(
        TOKEN).compute_signature("http://elsewhere.example/contact-center/twilio/voice/", {"CallSid": "CA002"}))

    assert (unsigned.status_code, forged.status_code, tampered_url.status_code) == (403, 403, 403)
    assert not Call.objects.exists() and not CtiEventLog.objects.exists()


def test_without_a_token_the_webhook_is_unavailable(settings, client, db):
    settings.GUANXI_TWILIO_AUTH_TOKEN = ""

    response = client.post(VOICE, {"CallSid": "CA003"})

    assert response.status_code == 503 and not Call.objects.exists()


def test_a_public_url_behind_a_proxy_is_what_the_signature_covers(twilio, settings, client):
    settings.GUANXI_TWILIO_PUBLIC_URL = "https://crm.example.com"
    params = {"CallSid": "CA004", "From": "+8613800138000", "To": "+861095555"}
    signature = RequestValidator(TOKEN).compute_signature("https://crm.example.com" + VOICE, params)

    response = client.post(VOICE, params, HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 200
    assert 'action="https://crm.example.com/contact-center/twilio/voice/?node=main"' in response.content.decode()


def test_a_number_without_a_menu_or_queue_is_told_so(twilio, client):
    response = signed_post(client, VOICE, {"CallSid": "CA005", "From": "+8613800138000", "To": "+861012345"})

    assert "<Hangup />" in response.content.decode()
    assert Call.objects.get(external_id="CA005").end_reason == CallEndReason.NO_ROUTE
