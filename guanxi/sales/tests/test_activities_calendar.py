"""Activities: planning, completing (onto the customer's timeline, once), scheduled
callbacks, reminders, the calendar pages and the secret iCal feed."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from guanxi.interactions.models import Interaction
from guanxi.sales import services
from guanxi.sales.ical import calendar as ical_calendar
from guanxi.sales.ical import escape_text, fold
from guanxi.sales.models import Activity, ActivityStatus, CalendarFeed

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


def later(hours: float = 2) -> str:
    return (timezone.now() + datetime.timedelta(hours=hours)).isoformat()


def test_completing_an_activity_puts_it_on_the_customer_timeline_once(rep_client, rep, deal, customer):
    created = post(rep_client, "/api/v1/sales/activities", {
        "kind": "meeting", "subject": "Site survey", "start_at": later(-3), "end_at": later(-2),
        "opportunity_id": deal.pk, "location": "客户办公室"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["channel"], body["contact"]["id"], body["account"]["id"]) == (
        "visit", customer["contact"].pk, customer["account"].pk)  # taken from the deal

    done = post(rep_client, f"/api/v1/sales/activities/{body['id']}/complete", {"outcome": "Wants a quote"})
    again = post(rep_client, f"/api/v1/sales/activities/{body['id']}/complete")

    assert done.status_code == 200 and again.status_code == 409
    interaction = Interaction.objects.get(source_type="sales.activity", source_id=str(body["id"]))
    assert (interaction.contact_id, interaction.channel, interaction.outcome, interaction.agent_id) == (
        customer["contact"].pk, "visit", "Wants a quote", rep.pk)
    assert interaction.duration_seconds == 3600
    assert Activity.objects.get(pk=body["id"]).interaction_id == interaction.pk


def test_a_done_activity_keeps_its_facts(rep_client, customer):
    activity_id = post(rep_client, "/api/v1/sales/activities", {"kind": "call", "subject": "Call",
                                                               "start_at": later(), "contact_id": customer[
                                                                   "contact"].pk}).json()["id"]
    post(rep_client, f"/api/v1/sales/activities/{activity_id}/complete")
    response = rep_client.patch(f"/api/v1/sales/activities/{activity_id}", {"subject": "Rewritten"},
                                content_type="application/json")
    assert response.status_code == 422
    outcome = rep_client.patch(f"/api/v1/sales/activities/{activity_id}", {"outcome": "left a message"},
                               content_type="application/json")
    assert outcome.status_code == 200
    assert Activity.objects.get(pk=activity_id).subject == "Call"


def test_end_before_start_and_unknown_links_are_refused(rep_client, make_user):
    bad_time = post(rep_client, "/api/v1/sales/activities", {"kind": "meeting", "subject": "x",
                                                             "start_at": later(3), "end_at": later(1)})
    hidden = post(rep_client, "/api/v1/sales/activities", {"kind": "task", "subject": "x", "start_at": later(),
                                                           "opportunity_id": 999999})
    assert bad_time.status_code == 422 and "end_at" in bad_time.json()["errors"]
    assert hidden.status_code == 422 and "opportunity_id" in hidden.json()["errors"]
    assert not Activity.objects.exists()


def test_a_scheduled_callback_takes_the_contacts_number_and_a_reminder(rep_client, customer):
    response = post(rep_client, "/api/v1/sales/activities", {"kind": "call", "subject": "Call back about 5G",
                                                             "is_callback": True, "start_at": later(1),
                                                             "contact_id": customer["contact"].pk})
    assert response.status_code == 201
    activity = Activity.objects.get(pk=response.json()["id"])
    assert activity.callback_phone == "+8613800138000"
    assert activity.reminder_at == activity.start_at - datetime.timedelta(minutes=5)
    listed = rep_client.get("/api/v1/sales/activities", {"callbacks": "true"}).json()["items"]
    assert [item["id"] for item in listed] == [activity.pk]
    no_number = post(rep_client, "/api/v1/sales/activities", {"kind": "call", "subject": "?", "is_callback": True,
                                                              "start_at": later(1)})
    assert no_number.status_code == 422 and "callback_phone" in no_number.json()["errors"]


def test_due_reminders_go_out_once_by_email(rep, rep_client):
    due = post(rep_client, "/api/v1/sales/activities", {"kind": "call", "subject": "Ring Mr Li",
                                                        "start_at": later(0.1),
                                                        "reminder_at": later(-0.1)}).json()["id"]
    post(rep_client, "/api/v1/sales/activities", {"kind": "call", "subject": "Not yet", "start_at": later(5),
                                                  "reminder_at": later(4)})
    assert services.activities_send_reminders() == 1
    assert services.activities_send_reminders() == 0
    assert len(mail.outbox) == 1 and "Ring Mr Li" in mail.outbox[0].subject and mail.outbox[0].to == [rep.email]
    assert Activity.objects.get(pk=due).reminder_sent_at is not None


def test_the_calendar_pages_show_the_activities(client, rep, rep_client):
    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    post(rep_client, "/api/v1/sales/activities", {"kind": "meeting", "subject": "Quarterly review",
                                                  "start_at": start.isoformat()})
    client.force_login(rep)
    for view in ("day", "week", "month"):
        response = client.get("/sales/calendar/", {"view": view, "date": start.date().isoformat()})
        assert response.status_code == 200 and "Quarterly review" in response.content.decode(), view
    other_month = (start.date().replace(day=1) - datetime.timedelta(days=40)).isoformat()
    assert "Quarterly review" not in client.get("/sales/calendar/", {"view": "day", "date": other_month}).content.decode()


def test_the_ical_feed_is_secret_revocable_and_only_the_owners(client, rep_client, rep, make_user):
    post(rep_client, "/api/v1/sales/activities", {"kind": "meeting", "subject": "Demo; with, commas",
                                                  "start_at": later(24), "reminder_at": later(23.75)})
    other = make_user("someone.else", "sales_rep")
    services.activity_create(actor=other, data={"kind": "call", "subject": "Not yours", "start_at": later(3)})

    issued = post(rep_client, "/api/v1/sales/calendar-feed")
    assert issued.status_code == 201
    path = issued.json()["url"].split("testserver")[1]
    feed = client.get(path)
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    body = feed.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert "SUMMARY:Demo\\; with\\, commas" in body and "TRIGGER:-PT15M" in body
    assert "Not yours" not in body
    assert CalendarFeed.objects.get(user=rep).last_fetched_at is not None

    reissued = post(rep_client, "/api/v1/sales/calendar-feed").json()["url"].split("testserver")[1]
    assert client.get(path).status_code == 404  # the old address stopped working
    assert client.get(reissued).status_code == 200
    assert rep_client.delete("/api/v1/sales/calendar-feed").status_code == 204
    assert client.get(reissued).status_code == 404


def test_ical_lines_are_escaped_and_folded_by_the_rfc():
    assert escape_text("a\\b;c,d\ne") == "a\\\\b\\;c\\,d\\ne"
    folded = fold("DESCRIPTION:" + "客户" * 40)
    assert all(len(line.encode()) <= 75 for line in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "DESCRIPTION:" + "客户" * 40
    assert ical_calendar([], name="empty", site="http://x").count("\r\n") == 8


def test_cancelled_activities_say_so(rep_client):
    activity_id = post(rep_client, "/api/v1/sales/activities", {"kind": "task", "subject": "x",
                                                               "start_at": later()}).json()["id"]
    assert post(rep_client, f"/api/v1/sales/activities/{activity_id}/cancel", {"reason": "not needed"}
                ).status_code == 200
    assert Activity.objects.get(pk=activity_id).status == ActivityStatus.CANCELLED
    assert post(rep_client, f"/api/v1/sales/activities/{activity_id}/complete").status_code == 409
