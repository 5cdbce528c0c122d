"""The service demo data: a desk with calendars, policies, queues and agents, articles in
both languages, contracts, and cases in every status with surveys, complaints and visits."""

import random

import pytest

from guanxi.core import services as core_services
from guanxi.core.models import Role
from guanxi.service.demo import load_service_demo_data
from guanxi.service.models import (
    Case, CaseStatus, Complaint, KnowledgeArticleVersion, ServiceContract, ServiceQueue, SlaPolicy, Survey,
)

pytestmark = pytest.mark.django_db


def test_demo_data_covers_every_status_and_language(admin_user, make_user):
    users = {Role.ADMIN: [admin_user],
             Role.SERVICE_AGENT: [make_user(f"demo-agent-{index}", Role.SERVICE_AGENT) for index in range(3)],
             Role.SUPERVISOR: [make_user("demo-supervisor", Role.SUPERVISOR)]}
    for index in range(30):
        account = core_services.account_create(actor=admin_user, data={
            "name": f"演示公司 {index}", "value_tier": ["gold", "silver", "bronze"][index % 3]})
        core_services.contact_create(actor=admin_user, data={
            "full_name": f"客户{index}", "email": f"demo{index}@example.cn", "account_id": account.pk})
    steps = []
    load_service_demo_data(users=users, rng=random.Random(2026), progress=lambda *args: steps.append(args))

    assert set(Case.objects.values_list("status", flat=True)) == set(CaseStatus.values)
    assert Case.objects.filter(needs_triage=True).count() == 1
    assert set(KnowledgeArticleVersion.objects.filter(is_current=True).values_list("language", flat=True)) == {
        "en", "zh-hans"}
    assert SlaPolicy.objects.count() == 6 and ServiceQueue.objects.count() == 3
    assert ServiceContract.objects.exists() and Complaint.objects.exists()
    assert Survey.objects.filter(answered_at__isnull=False).exists()
    assert Case.objects.filter(resolution_breached=True).exists()  # a month of history breaches something
    assert steps and steps[-1][0] == "service cases"
