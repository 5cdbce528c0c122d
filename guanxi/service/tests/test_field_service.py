"""Field service: visits booked on a technician's calendar within working hours, clear of
time off and other visits; availability; dispatch to completion on the timeline."""

import datetime as dt

import pytest

from guanxi.core.models import Role
from guanxi.interactions.models import Interaction
from guanxi.service import services
from guanxi.service.models import FieldVisit, ServiceNotification

from .conftest import SHANGHAI

pytestmark = pytest.mark.django_db
API = "/api/v1/service"


@pytest.fixture
def technician(admin_user, make_user, office_hours):
    user = make_user("tech-zhou", Role.SERVICE_AGENT)
    services.agent_save(actor=admin_user, user_id=user.pk, data={"is_technician": True,
                                                                 "calendar_id": office_hours.pk})
    return user


def at(*args) -> str:
    return dt.datetime(*args, tzinfo=SHANGHAI).isoformat()


def book(api_client, case, technician, start, end, **extra):
    return api_client.post(f"{API}/visits", {"case_id": case.pk, "technician_id": technician.pk, "starts_at": start,
                                             "ends_at": end, "address": "上海市浦东新区世纪大道100号", **extra},
                           content_type="application/json")


def test_a_visit_is_booked_in_working_hours_and_the_technician_told(api_client, open_case, technician):
    case = open_case()
    response = book(api_client, case, technician, at(2026, 3, 3, 9), at(2026, 3, 3, 11))
    assert response.status_code == 201
    visit = FieldVisit.objects.get()
    assert visit.number.startswith("FV-2026-") and visit.technician_id == technician.pk
    assert ServiceNotification.objects.filter(recipient=technician, kind="visit").count() == 1


@pytest.mark.parametrize(("start", "end", "reason"), [
    ((2026, 3, 3, 19), (2026, 3, 3, 20), "does not work"),        # evening
    ((2026, 3, 7, 10), (2026, 3, 7, 11), "does not work"),        # Saturday
    ((2026, 3, 3, 11), (2026, 3, 3, 14), "does not work"),        # across lunch
    ((2026, 4, 6, 10), (2026, 4, 6, 11), "does not work"),        # Qingming holiday
    ((2026, 3, 3, 11), (2026, 3, 3, 10), "end after"),
])
def test_bookings_outside_working_hours_are_refused(api_client, open_case, technician, start, end, reason):
    response = book(api_client, open_case(), technician, at(*start), at(*end))
    assert response.status_code == 422
    assert reason in " ".join(sum(response.json()["errors"].values(), []))
    assert not FieldVisit.objects.exists()


def test_double_booking_and_time_off_are_refused(api_client, open_case, technician):
    case = open_case()
    assert book(api_client, case, technician, at(2026, 3, 3, 9), at(2026, 3, 3, 11)).status_code == 201
    clash = book(api_client, case, technician, at(2026, 3, 3, 10), at(2026, 3, 3, 11, 30))
    assert clash.status_code == 422 and "already has visit" in clash.json()["errors"]["starts_at"][0]
    off = api_client.post(f"{API}/technicians/{technician.pk}/time-off", {
        "starts_at": at(2026, 3, 4, 9), "ends_at": at(2026, 3, 4, 18), "reason": "Training"},
        content_type="application/json")
    assert off.status_code == 201
    refused = book(api_client, case, technician, at(2026, 3, 4, 14), at(2026, 3, 4, 15))
    assert refused.status_code == 422 and "is off" in refused.json()["errors"]["starts_at"][0]
    assert FieldVisit.objects.count() == 1


def test_availability_is_working_hours_less_visits_and_time_off(api_client, open_case, technician):
    book(api_client, open_case(), technician, at(2026, 3, 3, 9), at(2026, 3, 3, 11))
    response = api_client.get(f"{API}/technicians/{technician.pk}/availability",
                              {"start": "2026-03-03", "end": "2026-03-03"})
    slots = [(dt.datetime.fromisoformat(item["starts_at"]).astimezone(SHANGHAI).strftime("%H:%M"),
              dt.datetime.fromisoformat(item["ends_at"]).astimezone(SHANGHAI).strftime("%H:%M"))
             for item in response.json()]
    assert slots == [("11:00", "12:00"), ("13:00", "18:00")]


def test_a_visit_is_dispatched_and_completed_onto_the_timeline(api_client, open_case, technician, customer,
                                                               client_for):
    case = open_case()
    visit = book(api_client, case, technician, at(2026, 3, 3, 9), at(2026, 3, 3, 11)).json()
    tech = client_for(technician)
    path = f"{API}/visits/{visit['id']}"
    assert tech.patch(path, {"status": "dispatched"}, content_type="application/json").status_code == 200
    assert tech.patch(path, {"status": "in_progress"}, content_type="application/json").status_code == 200
    no_outcome = tech.patch(path, {"status": "completed"}, content_type="application/json")
    assert no_outcome.status_code == 422 and "outcome" in no_outcome.json()["errors"]
    done = tech.patch(path, {"status": "completed", "outcome": "Replaced the optical modem"},
                      content_type="application/json")
    assert done.status_code == 200
    stored = FieldVisit.objects.get()
    assert stored.status == "completed" and stored.completed_at is not None
    interaction = Interaction.objects.get(source_type="field_visit", source_id=str(stored.pk))
    assert (interaction.contact_id, interaction.channel, interaction.duration_seconds) == (customer.pk, "visit", 7200)


def test_rescheduling_checks_the_new_slot_and_the_calendar_lists_visits(api_client, open_case, technician):
    case = open_case()
    first = book(api_client, case, technician, at(2026, 3, 3, 9), at(2026, 3, 3, 10)).json()
    book(api_client, case, technician, at(2026, 3, 3, 14), at(2026, 3, 3, 15))
    onto_other = api_client.patch(f"{API}/visits/{first['id']}", {"starts_at": at(2026, 3, 3, 14, 30),
                                                                  "ends_at": at(2026, 3, 3, 15, 30)},
                                  content_type="application/json")
    assert onto_other.status_code == 422
    moved = api_client.patch(f"{API}/visits/{first['id']}", {"starts_at": at(2026, 3, 5, 9),
                                                             "ends_at": at(2026, 3, 5, 10)},
                             content_type="application/json")
    assert moved.status_code == 200
    week = api_client.get(f"{API}/visits", {"start": "2026-03-02", "end": "2026-03-09"}).json()
    assert [item["number"] for item in week] == [book_number for book_number in
                                                 FieldVisit.objects.order_by("starts_at").values_list("number",
                                                                                                      flat=True)]


def test_technicians_change_only_their_own_visits(api_client, open_case, technician, make_user, admin_user,
                                                  client_for):
    colleague = make_user("tech-sun", Role.SERVICE_AGENT)
    services.agent_save(actor=admin_user, user_id=colleague.pk, data={"is_technician": True})
    visit = book(api_client, open_case(), technician, at(2026, 3, 3, 9), at(2026, 3, 3, 10)).json()
    response = client_for(colleague).patch(f"{API}/visits/{visit['id']}", {"notes": "mine now"},
                                           content_type="application/json")
    assert response.status_code == 403
    assert FieldVisit.objects.get().notes == ""
