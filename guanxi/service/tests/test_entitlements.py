"""Service contracts and entitlements: coverage checked when a case opens (covered, no
contract, not covered, used up, expired), incidents charged once, hours logged against
the balance, and the contract's SLA policy taking precedence."""

import datetime as dt

import pytest

from guanxi.core import services as core_services
from guanxi.service import services
from guanxi.service.models import Case, Entitlement, EntitlementUsage

pytestmark = pytest.mark.django_db
API = "/api/v1/service"


@pytest.fixture
def account(admin_user):
    return core_services.account_create(actor=admin_user, data={"name": "恒通物流", "value_tier": "silver"})


@pytest.fixture
def contract(admin_user, account, clock):
    return services.contract_create(actor=admin_user, data={
        "name": "Premium support 2026", "account_id": account.pk, "starts_on": dt.date(2026, 1, 1),
        "ends_on": dt.date(2026, 12, 31), "entitlements": [
            {"name": "Network incidents", "unit": "incidents", "quantity": 2, "categories": ["network"]},
            {"name": "On-site hours", "unit": "hours", "quantity": 4, "categories": ["technical"]}]})


def _open(actor, account, **data):
    return services.case_open(actor=actor, data={"subject": "Problem", "account_id": account.pk, **data})


def test_a_covered_case_charges_one_incident(agent, account, contract):
    case = _open(agent, account, category="network")
    assert (case.entitlement_status, case.service_contract_id) == ("covered", contract.pk)
    entitlement = Entitlement.objects.get(name="Network incidents")
    assert entitlement.used == 1 and entitlement.remaining == 1
    assert EntitlementUsage.objects.filter(case=case, entitlement=entitlement, quantity=1).count() == 1


def test_when_the_incidents_are_used_up_new_cases_are_flagged(agent, account, contract):
    _open(agent, account, category="network"), _open(agent, account, category="network")
    third = _open(agent, account, category="network")
    assert third.entitlement_status == "exhausted"
    assert Entitlement.objects.get(name="Network incidents").used == 2  # nothing charged beyond the balance


def test_categories_the_contract_does_not_cover(agent, account, contract):
    assert _open(agent, account, category="billing").entitlement_status == "not_covered"


def test_no_contract_and_expired_contract(agent, admin_user, account, clock):
    assert _open(agent, account).entitlement_status == "no_contract"
    services.contract_create(actor=admin_user, data={"name": "2025", "account_id": account.pk,
                                                     "starts_on": dt.date(2025, 1, 1), "ends_on": dt.date(2025, 12, 31),
                                                     "entitlements": [{"name": "All", "quantity": 10}]})
    assert _open(agent, account).entitlement_status == "expired"


def test_hours_are_logged_against_the_balance_and_overdraft_is_refused(agent, account, contract, api_client):
    case = _open(agent, account, category="technical")
    assert case.entitlement.name == "On-site hours"
    logged = api_client.post(f"{API}/cases/{case.pk}/time", {"hours": "2.5", "note": "Installed antenna"},
                             content_type="application/json")
    assert logged.status_code == 201 and logged.json()["remaining"] == "1.50"
    too_much = api_client.post(f"{API}/cases/{case.pk}/time", {"hours": "2"}, content_type="application/json")
    assert too_much.status_code == 422 and "hours" in too_much.json()["errors"]
    assert Entitlement.objects.get(name="On-site hours").used == 2.5


def test_logging_time_on_an_incident_entitlement_is_refused(agent, account, contract, api_client):
    case = _open(agent, account, category="network")
    response = api_client.post(f"{API}/cases/{case.pk}/time", {"hours": "1"}, content_type="application/json")
    assert response.status_code == 422
    assert not EntitlementUsage.objects.filter(case=case, quantity=1).exclude(note=case.number).exists()


def test_the_contracts_sla_policy_wins(agent, admin_user, account, contract, office_hours, standard_policy, clock):
    premium = services.sla_policy_create(actor=admin_user, data={
        "name": "Premium", "calendar_id": office_hours.pk, "first_response_minutes": 15, "resolution_minutes": 120})
    services.contract_update(actor=admin_user, contract_id=contract.pk, data={"sla_policy_id": premium.pk})
    case = _open(agent, account, category="network")
    assert case.sla_policy_id == premium.pk


def test_check_coverage_before_opening(api_client, account, contract):
    response = api_client.get(f"{API}/entitlement-check", {"account_id": account.pk, "category": "network"})
    assert response.status_code == 200
    assert response.json()["status"] == "covered" and response.json()["remaining"] == "2.00"


def test_contract_validation_refuses_bad_input(api_client, account):
    response = api_client.post(f"{API}/contracts", {"name": "Bad", "account_id": account.pk,
                                                    "starts_on": "2026-06-01", "ends_on": "2026-01-01",
                                                    "entitlements": [{"name": "X", "quantity": 5,
                                                                      "categories": ["nonsense"]}]},
                               content_type="application/json")
    assert response.status_code == 422
    assert {"ends_on", "entitlements.0.categories"} <= set(response.json()["errors"])
    assert not Case.objects.exists()
    from guanxi.service.models import ServiceContract

    assert not ServiceContract.objects.exists()


def test_contract_api_lists_balance_and_active_state(api_client, account, contract, agent):
    _open(agent, account, category="network")
    response = api_client.get(f"{API}/contracts", {"account_id": account.pk})
    item = response.json()["items"][0]
    assert item["number"].startswith("SC-") and item["active"] is True
    network = next(row for row in item["entitlements"] if row["name"] == "Network incidents")
    assert (network["used"], network["remaining"]) == ("1.00", "1.00")
