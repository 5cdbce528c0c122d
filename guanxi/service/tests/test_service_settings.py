"""The service desk's configuration pages: business calendars with holidays and special
days, SLA policies with escalation rules, queues (skills, categories, supervisor) and agent
profiles — who may see and change them, what is stored, and bad input refused with
nothing stored."""

import datetime as dt

import pytest
from django.test import Client

from guanxi.core.models import Role
from guanxi.service import services
from guanxi.service.models import (
    CalendarDay, EscalationRule, ServiceAgent, ServiceCalendar, ServiceQueue, SlaPolicy,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor(make_user):
    return make_user("sup-zhao", Role.SUPERVISOR, display_name="赵主管")


@pytest.fixture
def browser(supervisor) -> Client:
    client = Client()
    client.force_login(supervisor)
    return client


def _rules(*rows: dict) -> dict:
    """Formset fields of the escalation rules on the policy page (two blank rows and these)."""
    data = {"rules-TOTAL_FORMS": str(max(len(rows), 2)), "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "20"}
    for index, row in enumerate(rows):
        data.update({f"rules-{index}-{name}": value for name, value in row.items()})
    return data


def test_the_settings_page_lists_the_configuration_and_is_in_the_menu(browser, standard_policy, supervisor):
    services.queue_create(actor=supervisor, data={
        "code": "billing", "name": "Billing desk", "categories": ["billing"], "required_skills": {"billing": 3}})
    page = browser.get("/service/settings/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Shanghai office" in html and "Standard" in html and "Billing desk" in html and "billing: 3" in html
    assert 'href="/service/settings/"' in browser.get("/service/").content.decode()
    assert f'href="/service/settings/sla-policies/{standard_policy.pk}/"' in html


def test_agents_see_the_configuration_without_edit_links_and_marketers_not_at_all(make_user, standard_policy,
                                                                                   agent):
    reader = Client()
    reader.force_login(agent)
    page = reader.get("/service/settings/")
    assert page.status_code == 200 and "Standard" in page.content.decode()
    assert "/service/settings/sla-policies/" not in page.content.decode()
    assert reader.get(f"/service/settings/sla-policies/{standard_policy.pk}/").status_code == 403
    assert reader.post("/service/settings/calendars/new/", {"name": "Sneaky", "time_zone": "UTC"}).status_code == 403
    assert not ServiceCalendar.objects.filter(name="Sneaky").exists()
    outsider = Client()
    outsider.force_login(make_user("marketer", Role.MARKETER))
    assert outsider.get("/service/settings/").status_code == 403


def test_a_calendar_with_hours_holidays_and_a_make_up_day_is_created(browser):
    response = browser.post("/service/settings/calendars/new/", {
        "name": "Beijing desk", "time_zone": "Asia/Shanghai", "mon": "09:00-12:00, 13:00-18:00",
        "tue": "09:00-18:00", "wed": "", "thu": "", "fri": "09:00-18:00", "sat": "", "sun": "",
        "days": "2026-10-01 National Day\n\n2026-10-10 09:00-18:00 Make-up working day\n"})
    assert response.status_code == 302 and response["Location"] == "/service/settings/"
    calendar = ServiceCalendar.objects.get(name="Beijing desk")
    assert calendar.weekly_hours == {"mon": "09:00-12:00, 13:00-18:00", "tue": "09:00-18:00", "fri": "09:00-18:00"}
    days = [(day.date, day.kind, day.hours, day.name) for day in calendar.days.all()]
    assert days == [(dt.date(2026, 10, 1), "holiday", "", "National Day"),
                    (dt.date(2026, 10, 10), "special", "09:00-18:00", "Make-up working day")]
    page = browser.get(f"/service/settings/calendars/{calendar.pk}/").content.decode()
    assert "2026-10-10 09:00-18:00 Make-up working day" in page


@pytest.mark.parametrize("change, message", [
    ({"days": "1 Oct National Day"}, "Line 1: start with the date as YYYY-MM-DD."),
    ({"days": "2026-10-01 Holiday\n2026-10-01 Again"}, "This date is listed twice."),
    ({"mon": "9 to 5"}, ""),
    ({"time_zone": "Mars/Olympus"}, "Unknown time zone"),
    ({"name": ""}, ""),
])
def test_bad_calendar_input_is_refused_and_nothing_is_stored(browser, change, message):
    data = {"name": "Broken", "time_zone": "Asia/Shanghai", "mon": "09:00-18:00", "days": "", **change}
    response = browser.post("/service/settings/calendars/new/", data)
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode() and message in response.content.decode()
    assert not ServiceCalendar.objects.exists() and not CalendarDay.objects.exists()


def test_editing_a_calendar_replaces_its_days(browser, office_hours):
    response = browser.post(f"/service/settings/calendars/{office_hours.pk}/", {
        "name": "Shanghai office", "time_zone": "Asia/Shanghai", "mon": "08:00-17:00",
        "days": "2026-05-01 Labour Day"})
    assert response.status_code == 302
    office_hours.refresh_from_db()
    assert office_hours.weekly_hours == {"mon": "08:00-17:00"}
    assert list(office_hours.days.values_list("name", flat=True)) == ["Labour Day"]


def test_an_sla_policy_with_escalation_rules_is_created_and_its_rules_edited(browser, office_hours, supervisor,
                                                                            agent):
    queue = services.queue_create(actor=supervisor, data={"code": "experts", "name": "Experts"})
    response = browser.post("/service/settings/sla-policies/new/", {
        "name": "Gold urgent", "priority": "urgent", "customer_tier": "gold", "calendar": office_hours.pk,
        "first_response_minutes": "15", "resolution_minutes": "240", "warning_percent": "75", "position": "10",
        "is_active": "on", **_rules(
            {"trigger": "first_response_warning", "notify_assignee": "on", "notify_users": [supervisor.pk]},
            {"trigger": "resolution_breach", "reassign_queue": queue.pk, "raise_priority": "on",
             "mark_escalated": "on"})})
    assert response.status_code == 302
    policy = SlaPolicy.objects.get(name="Gold urgent")
    assert (policy.priority, policy.customer_tier, policy.calendar_id, policy.first_response_minutes,
            policy.resolution_minutes, policy.warning_percent) == ("urgent", "gold", office_hours.pk, 15, 240, 75)
    warning, breach = policy.escalation_rules.order_by("trigger")
    assert (warning.trigger, warning.notify_assignee, warning.mark_escalated) == ("first_response_warning", True,
                                                                                  False)
    assert list(warning.notify_users.all()) == [supervisor]
    assert (breach.trigger, breach.reassign_queue_id, breach.raise_priority) == ("resolution_breach", queue.pk, True)
    # the edit page shows the rules; a rule set to "(no rule)" is removed
    page = browser.get(f"/service/settings/sla-policies/{policy.pk}/").content.decode()
    assert 'value="first_response_warning" selected' in page
    browser.post(f"/service/settings/sla-policies/{policy.pk}/", {
        "name": "Gold urgent", "priority": "urgent", "customer_tier": "gold", "calendar": office_hours.pk,
        "first_response_minutes": "20", "resolution_minutes": "240", "warning_percent": "75", "position": "10",
        "is_active": "on", **_rules({"trigger": ""}, {"trigger": "resolution_breach", "reassign_to": agent.pk})})
    policy.refresh_from_db()
    assert policy.first_response_minutes == 20
    assert list(policy.escalation_rules.values_list("trigger", "reassign_to_id")) == [("resolution_breach", agent.pk)]


def test_bad_sla_policy_input_is_refused_and_nothing_is_stored(browser, office_hours, standard_policy):
    base = {"name": "Fast", "calendar": office_hours.pk, "first_response_minutes": "0",
            "resolution_minutes": "60", "warning_percent": "80", "position": "100", **_rules()}
    response = browser.post("/service/settings/sla-policies/new/", base)
    assert response.status_code == 400 and "Give at least one minute." in response.content.decode()
    duplicate = browser.post("/service/settings/sla-policies/new/", {**base, "name": "Standard",
                                                                     "first_response_minutes": "30"})
    assert duplicate.status_code == 400
    assert SlaPolicy.objects.count() == 1 and not EscalationRule.objects.exists()


def test_a_queue_with_skills_categories_and_a_supervisor_is_created(browser, supervisor):
    response = browser.post("/service/settings/queues/new/", {
        "code": "billing", "name": "Billing desk", "strategy": "rrmemory",
        "required_skills": "billing: 3, 普通话: 5",
        "categories": ["billing", "account"], "experts_from_priority": "high", "supervisor": supervisor.pk,
        "is_active": "on"})
    assert response.status_code == 302
    queue = ServiceQueue.objects.get(code="billing")
    assert (queue.name, queue.strategy, queue.required_skills, queue.categories, queue.experts_from_priority,
            queue.supervisor_id, queue.is_active) == ("Billing desk", "rrmemory", {"billing": 3, "普通话": 5},
                                                      ["billing", "account"], "high", supervisor.pk, True)
    assert "billing: 3" in browser.get(f"/service/settings/queues/{queue.pk}/").content.decode()


@pytest.mark.parametrize("change, message", [
    ({"required_skills": "billing"}, "Write each skill as name: level"),
    ({"required_skills": "billing: 11"}, "Levels must be whole numbers from 1 to 10"),
    ({"code": "has spaces"}, ""),
    ({"categories": ["nonsense"]}, ""),
])
def test_bad_queue_input_is_refused_and_nothing_is_stored(browser, change, message):
    data = {"code": "billing", "name": "Billing desk", "strategy": "least-loaded", **change}
    response = browser.post("/service/settings/queues/new/", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not ServiceQueue.objects.exists()


def test_an_agent_profile_gets_skills_queues_and_working_hours(browser, supervisor, agent, office_hours):
    queue = services.queue_create(actor=supervisor, data={"code": "network", "name": "Network"})
    response = browser.post("/service/settings/agents/new/", {
        "user": agent.pk, "skills": "network: 7", "max_open_cases": "12", "accepting_cases": "on",
        "is_technician": "on", "calendar": office_hours.pk, "queues": [queue.pk]})
    assert response.status_code == 302
    profile = ServiceAgent.objects.get(user=agent)
    assert (profile.skills, profile.max_open_cases, profile.accepting_cases, profile.is_technician,
            profile.calendar_id) == ({"network": 7}, 12, True, True, office_hours.pk)
    assert list(profile.memberships.values_list("queue_id", flat=True)) == [queue.pk]
    bad = browser.post(f"/service/settings/agents/{agent.pk}/", {"skills": "network: 0", "max_open_cases": "12"})
    assert bad.status_code == 400
    profile.refresh_from_db()
    assert profile.skills == {"network": 7}
    changed = browser.post(f"/service/settings/agents/{agent.pk}/", {"skills": "network: 9", "max_open_cases": "8"})
    assert changed.status_code == 302  # the person of an existing profile is fixed, not posted again
    profile.refresh_from_db()
    assert (profile.skills, profile.max_open_cases) == ({"network": 9}, 8)


def test_deleting_refuses_what_is_in_use_and_removes_what_is_not(browser, standard_policy, office_hours,
                                                                 supervisor):
    refused = browser.post(f"/service/settings/calendars/{office_hours.pk}/delete/", follow=True)
    assert "SLA policies use this calendar" in refused.content.decode()
    assert ServiceCalendar.objects.filter(pk=office_hours.pk).exists()
    queue = services.queue_create(actor=supervisor, data={"code": "spare", "name": "Spare"})
    assert browser.post(f"/service/settings/queues/{queue.pk}/delete/").status_code == 302
    assert not ServiceQueue.objects.filter(pk=queue.pk).exists()
    assert browser.get(f"/service/settings/queues/{queue.pk}/delete/").status_code == 405
