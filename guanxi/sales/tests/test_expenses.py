"""Sales expenses: claim, submit, approve or reject (never one's own), reimburse."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from guanxi.sales.models import Expense, ExpenseStatus

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


def claim(client, **extra) -> dict:
    response = post(client, "/api/v1/sales/expenses", {
        "spent_on": timezone.localdate().isoformat(), "category": "travel", "amount": "480.00",
        "description": "High-speed rail Shanghai–Hangzhou", **extra})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_claim_is_submitted_and_approved_by_the_manager(rep_client, client_for, manager, rep):
    expense = claim(rep_client)
    assert expense["status"] == "draft" and expense["owner"]["id"] == rep.pk
    assert post(rep_client, f"/api/v1/sales/expenses/{expense['id']}/submit").json()["status"] == "submitted"
    approved = post(client_for(manager), f"/api/v1/sales/expenses/{expense['id']}/approve", {"note": "ok"})
    assert approved.status_code == 200
    stored = Expense.objects.get(pk=expense["id"])
    assert (stored.status, stored.decided_by_id) == (ExpenseStatus.APPROVED, manager.pk)
    assert rep_client.patch(f"/api/v1/sales/expenses/{expense['id']}", {"amount": "999"},
                            content_type="application/json").status_code == 409


def test_nobody_approves_their_own_claim(client_for, manager):
    client = client_for(manager)
    expense = claim(client, submit=True)
    response = post(client, f"/api/v1/sales/expenses/{expense['id']}/approve")
    assert response.status_code == 403
    assert Expense.objects.get(pk=expense["id"]).status == ExpenseStatus.SUBMITTED


def test_a_rejection_needs_a_reason_and_the_rep_can_fix_and_resubmit(rep_client, client_for, manager):
    expense = claim(rep_client, submit=True)
    client = client_for(manager)
    assert post(client, f"/api/v1/sales/expenses/{expense['id']}/reject").status_code == 422
    assert post(client, f"/api/v1/sales/expenses/{expense['id']}/reject", {"note": "no receipt"}).status_code == 200
    fixed = rep_client.patch(f"/api/v1/sales/expenses/{expense['id']}", {"description": "Rail, receipt attached"},
                             content_type="application/json")
    assert fixed.status_code == 200
    assert post(rep_client, f"/api/v1/sales/expenses/{expense['id']}/submit").json()["status"] == "submitted"


def test_future_and_zero_expenses_are_refused(rep_client):
    future = post(rep_client, "/api/v1/sales/expenses", {
        "spent_on": (timezone.localdate() + datetime.timedelta(days=3)).isoformat(), "category": "meals",
        "amount": "10", "description": "x"})
    zero = post(rep_client, "/api/v1/sales/expenses", {"spent_on": timezone.localdate().isoformat(),
                                                       "category": "meals", "amount": "0", "description": "x"})
    assert future.status_code == 422 and "spent_on" in future.json()["errors"]
    assert zero.status_code == 422
    assert not Expense.objects.exists()


def test_a_rep_does_not_see_a_colleagues_claims(rep_client, client_for, make_user):
    colleague = make_user("rep.colleague", "sales_rep")
    other = claim(client_for(colleague))
    assert rep_client.get(f"/api/v1/sales/expenses/{other['id']}").status_code == 404
    assert rep_client.get("/api/v1/sales/expenses").json()["items"] == []
