"""Opening cases and moving them through new → open → pending customer → resolved →
closed → reopened, with the SLA clock pausing and stopping as the status says."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from guanxi.core.errors import Conflict, PermissionDenied
from guanxi.core.models import AuditLog, Role
from guanxi.interactions.models import Episode, Interaction
from guanxi.service import services
from guanxi.service.models import Case, CaseEvent, CaseMessage, CaseStatus

from .conftest import SHANGHAI

pytestmark = pytest.mark.django_db


def test_opening_a_case_numbers_it_and_starts_its_sla(open_case, customer, clock, standard_policy):
    # when an agent opens a case on Monday 10:00
    case = open_case()
    # then it is numbered in this year's series, new, for the contact's account
    case.refresh_from_db()
    assert case.number == "CS-2026-000001"
    assert (case.status, case.contact_id, case.account_id) == (CaseStatus.NEW, customer.pk, customer.account_id)
    assert case.requester_email == "wang.fang@example.cn" and not case.needs_triage
    # and the policy's targets run in office hours: 1 h to reply, 8 h to resolve (lunch excluded)
    assert case.sla_policy_id == standard_policy.pk
    assert case.first_response_due_at == dt.datetime(2026, 3, 2, 11, 0, tzinfo=SHANGHAI)
    assert case.first_response_warning_at == dt.datetime(2026, 3, 2, 10, 45, tzinfo=SHANGHAI)
    assert case.resolution_due_at == dt.datetime(2026, 3, 3, 10, 0, tzinfo=SHANGHAI)
    # and the description is the first message, on the customer's timeline within the case's episode
    message = CaseMessage.objects.get(case=case)
    assert message.kind == "customer" and message.body.startswith("Since this morning")
    interaction = Interaction.objects.get(source_type="case_message", source_id=str(message.pk))
    assert interaction.contact_id == customer.pk and interaction.channel == "phone"
    assert interaction.episode == Episode.objects.get(source_type="case", source_id=str(case.pk))
    assert AuditLog.objects.filter(object_type="case", object_id=str(case.pk), action="create").exists()


def test_case_numbers_count_up_and_are_searchable(open_case, agent):
    first, second = open_case(), open_case(subject="Invoice too high", category="billing")
    assert (first.number, second.number) == ("CS-2026-000001", "CS-2026-000002")
    from guanxi.service.selectors import CaseFilters, case_list

    assert list(case_list(agent, CaseFilters(query="CS-2026-000002"))) == [second]
    assert list(case_list(agent, CaseFilters(query="000001"))) == [first]
    assert list(case_list(agent, CaseFilters(query="宽带"))) == [first]
    assert list(case_list(agent, CaseFilters(query="invoice"))) == [second]


def test_a_case_needs_a_customer_and_valid_choices(agent, standard_policy):
    with pytest.raises(ValidationError) as error:
        services.case_open(actor=agent, data={"subject": "", "priority": "whenever"})
    assert set(error.value.message_dict) == {"subject", "priority", "contact_id"}
    assert not Case.objects.exists()


def test_a_role_without_the_right_cannot_open_cases(make_user, customer):
    marketer = make_user("marketer", Role.MARKETER)
    with pytest.raises(PermissionDenied):
        services.case_open(actor=marketer, data={"subject": "x", "contact_id": customer.pk})
    assert not Case.objects.exists()


def test_first_reply_opens_the_case_and_meets_the_first_response_target(open_case, agent, clock):
    case = open_case()
    clock.advance(minutes=30)
    services.case_reply(actor=agent, case_id=case.pk, body="We are checking the line.")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert case.first_responded_at == clock.now and not case.first_response_breached
    assert CaseEvent.objects.filter(case=case, kind="first_response").count() == 1


def test_pending_customer_pauses_the_resolution_clock(open_case, agent, clock):
    # given a case opened Monday 10:00 (8 working hours to resolve)
    case = open_case()
    # when after 2 working hours it waits for the customer until Wednesday 10:00
    clock.set(2026, 3, 2, 12, 0)
    services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.PENDING_CUSTOMER)
    case.refresh_from_db()
    assert case.resolution_due_at is None and case.resolution_used_seconds == 2 * 3600
    clock.set(2026, 3, 4, 10, 0)
    services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.OPEN)
    # then the remaining 6 hours count from Wednesday 10:00 (lunch excluded): due 17:00
    case.refresh_from_db()
    assert case.resolution_due_at == dt.datetime(2026, 3, 4, 17, 0, tzinfo=SHANGHAI)


def test_resolving_stops_the_clock_and_records_first_contact_resolution(open_case, agent, clock):
    case = open_case()
    clock.advance(minutes=20)
    services.case_reply(actor=agent, case_id=case.pk, body="Fixed: please restart the router.",
                        new_status=CaseStatus.RESOLVED)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED and case.resolved_at == clock.now
    assert case.first_contact_resolution is True and not case.resolution_breached
    assert case.resolution_due_at is None and case.resolution_used_seconds == 20 * 60


def test_resolving_late_is_recorded_as_a_breach(open_case, agent, clock):
    case = open_case()
    clock.set(2026, 3, 3, 11, 0)  # 9 working hours later
    services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.RESOLVED, note="Replaced modem")
    case.refresh_from_db()
    assert case.resolution_breached and case.first_response_breached
    assert case.resolution_note == "Replaced modem"


def test_transitions_outside_the_flow_are_refused_and_change_nothing(open_case, agent):
    case = open_case()
    with pytest.raises(ValidationError) as error:
        services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.CLOSED)
    assert "status" in error.value.message_dict
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW and not CaseEvent.objects.filter(case=case, kind="status").exists()


def test_closed_case_is_reopened_and_keeps_its_history(open_case, agent, clock):
    case = open_case()
    services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.RESOLVED)
    services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.CLOSED)
    with pytest.raises(Conflict):
        services.case_reply(actor=agent, case_id=case.pk, body="One more thing")
    clock.advance(hours=1)
    services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.REOPENED)
    case.refresh_from_db()
    assert case.status == CaseStatus.REOPENED and case.reopened_count == 1
    assert case.closed_at is None and case.resolved_at is None and case.first_contact_resolution is False
    assert case.resolution_due_at is not None  # the clock runs again
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", "to_value"))
    assert ("status", "resolved") in kinds and ("status", "closed") in kinds and ("reopened", "reopened") in kinds


def test_a_customer_message_on_a_pending_case_resumes_it(open_case, agent, clock):
    case = open_case()
    services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.PENDING_CUSTOMER)
    services.case_add_customer_message(case_id=case.pk, body="Router restarted, still down.")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.resolution_clock_since == clock.now


def test_a_stale_edit_is_refused(open_case, agent):
    case = open_case()
    services.case_update(actor=agent, case_id=case.pk, data={"subject": "Broadband down"})
    with pytest.raises(Conflict):
        services.case_change_status(actor=agent, case_id=case.pk, status=CaseStatus.OPEN, expected_version=1)
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW and case.version == 2


def test_raising_priority_moves_the_deadlines(open_case, agent, admin_user, office_hours, clock):
    urgent = services.sla_policy_create(actor=admin_user, data={
        "name": "Urgent", "priority": "urgent", "calendar_id": office_hours.pk, "first_response_minutes": 15,
        "resolution_minutes": 120})
    case = open_case()
    clock.advance(minutes=30)
    services.case_update(actor=agent, case_id=case.pk, data={"priority": "urgent"})
    case.refresh_from_db()
    assert case.sla_policy_id == urgent.pk
    assert case.first_response_due_at == dt.datetime(2026, 3, 2, 10, 15, tzinfo=SHANGHAI)
    assert case.resolution_due_at == dt.datetime(2026, 3, 2, 12, 0, tzinfo=SHANGHAI)
    assert CaseEvent.objects.filter(case=case, kind="priority", to_value="urgent").exists()
