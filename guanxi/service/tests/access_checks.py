"""Access-matrix checkers for the service domain (see ``guanxi/core/tests/access_checks.py``).

A case's record scope follows its assignee (own, team) and its customer (own when the
actor owns the customer; territory from the customer's territory). Each world label
gets one case on that label's contact, assigned to that label's owner. Case messages
follow their case. Configuration objects and the inbound-email log are all or nothing.
"""

from __future__ import annotations

import pytest

from guanxi.core.errors import PermissionDenied
from guanxi.core.tests import access_checks as core_checks
from guanxi.core.tests.access_checks import LABELS, NONE, REACH, ObjectChecker, register
from guanxi.service import selectors, services
from guanxi.service.models import Case, CaseMessage, InboundEmail, ServiceCalendar, ServiceQueue, SlaPolicy

API = "/api/v1/service"


class CaseWorld:
    """One case per world label, built once per checker."""

    def __init__(self, checker: ObjectChecker):
        self.checker = checker
        self._cases: dict[str, Case] | None = None

    def cases(self) -> dict[str, Case]:
        if self._cases is None:
            world = self.checker.world
            self._cases = {}
            for label in LABELS:
                case = services.case_open(actor=world.builder, data={
                    "subject": f"Matrix {label}", "contact_id": world.contacts[label].pk})
                owner = world.owners[label]
                Case.objects.filter(pk=case.pk).update(assignee=owner, team_id=owner.team_id)
                case.refresh_from_db()
                self._cases[label] = case
        return self._cases

    def labels_of(self, ids) -> set[str]:
        by_id = {case.pk: label for label, case in self.cases().items()}
        ids = list(ids)
        assert all(pk in by_id for pk in ids), "cases outside the world listed"
        return {by_id[pk] for pk in ids}


@register("case")
class CaseChecker(ObjectChecker):
    path = f"{API}/cases"

    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        self.case_world = CaseWorld(self)

    def check_view(self, scope: str) -> None:
        cases = self.case_world.cases()
        listing = self.get(self.path, limit=200)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            for label, case in cases.items():
                assert self.get(f"{self.path}/{case.pk}").status_code == 403, self.describe("view", label)
            return
        assert listing.status_code == 200, self.describe("view", "list")
        assert self.case_world.labels_of(item["id"] for item in listing.json()["items"]) == REACH[scope], \
            self.describe("view", "list")
        for label, case in cases.items():
            expected = 200 if label in REACH[scope] else 404
            assert self.get(f"{self.path}/{case.pk}").status_code == expected, self.describe("view", label)

    def check_create(self, scope: str) -> None:
        """Opening a case is all or nothing; the customer must be one the actor may see
        (an unseen one is refused as unknown, 422, telling nothing about it)."""
        self.require_all_or_none(scope, "a new case has no assignee yet; the customer's visibility decides")
        contact_scope = self.matrix.get((self.world.role, "contact", "view"), NONE)
        for label, contact in self.world.contacts.items():
            response = self.post(self.path, {"subject": f"New {label}", "contact_id": contact.pk})
            stored = Case.objects.filter(subject=f"New {label}").exists()
            if scope == NONE:
                assert response.status_code == 403 and not stored, self.describe("create", label)
            elif label in REACH[contact_scope]:
                assert response.status_code == 201 and stored, (self.describe("create", label), response.content)
            else:
                assert response.status_code == 422 and not stored, (self.describe("create", label), response.content)
                assert set(response.json()["errors"]) == {"contact_id"}, self.describe("create", label)

    def check_change(self, scope: str) -> None:
        for label, case in self.case_world.cases().items():
            expected = self.expected_status(label, "change", 200)
            response = self.patch(f"{self.path}/{case.pk}", {"subject": f"changed {label}"})
            assert response.status_code == expected, (self.describe("change", label), response.content)
            case.refresh_from_db()
            assert (case.subject == f"changed {label}") == (expected == 200), self.describe("change", label)

    def check_delete(self, scope: str) -> None:
        for label, case in self.case_world.cases().items():
            expected = self.expected_status(label, "delete", 204)
            response = self.delete(f"{self.path}/{case.pk}")
            assert response.status_code == expected, (self.describe("delete", label), response.content)
            assert Case.objects.filter(pk=case.pk).exists() == (expected != 204), self.describe("delete", label)

    def check_export(self, scope: str) -> None:
        """Exports read through this selector (no REST route exports)."""
        self.case_world.cases()
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                selectors.visible_cases(self.world.actor, "export")
            return
        ids = selectors.visible_cases(self.world.actor, "export").values_list("pk", flat=True)
        assert self.case_world.labels_of(ids) == REACH[scope], self.describe("export")


@register("case_message")
class CaseMessageChecker(ObjectChecker):
    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        self.case_world = CaseWorld(self)

    def check_view(self, scope: str) -> None:
        for label, case in self.case_world.cases().items():
            response = self.get(f"{API}/cases/{case.pk}/messages")
            expected = 403 if scope == NONE else 200 if label in REACH[scope] else 404
            assert response.status_code == expected, self.describe("view", label)
            if expected == 200:
                assert [item["kind"] for item in response.json()["items"]] == [], self.describe("view", label)

    def check_create(self, scope: str) -> None:
        for label, case in self.case_world.cases().items():
            expected = self.expected_status(label, "create", 201)
            response = self.post(f"{API}/cases/{case.pk}/messages", {"kind": "note", "body": f"note {label}"})
            assert response.status_code == expected, (self.describe("create", label), response.content)
            stored = CaseMessage.objects.filter(case=case, body=f"note {label}").exists()
            assert stored == (expected == 201), self.describe("create", label)


class ConfigurationChecker(core_checks.ConfigurationChecker):
    """All-or-nothing objects with list / create / change / delete routes (no detail route)."""

    detail_route = False


@register("sla_policy")
class SlaPolicyChecker(ConfigurationChecker):
    path = f"{API}/sla-policies"
    model = SlaPolicy

    def calendar(self) -> ServiceCalendar:
        return ServiceCalendar.objects.get_or_create(name="Matrix hours", defaults={
            "time_zone": "Asia/Shanghai", "weekly_hours": {"mon": "09:00-18:00"}})[0]

    def existing(self) -> SlaPolicy:
        return services.sla_policy_create(actor=self.world.builder, data={
            "name": "Matrix", "calendar_id": self.calendar().pk, "first_response_minutes": 30,
            "resolution_minutes": 240})

    def create_body(self) -> dict:
        return {"name": "Matrix new", "calendar_id": self.calendar().pk, "first_response_minutes": 10,
                "resolution_minutes": 60}


@register("service_queue")
class ServiceQueueChecker(ConfigurationChecker):
    path = f"{API}/queues"
    model = ServiceQueue

    def existing(self) -> ServiceQueue:
        return services.queue_create(actor=self.world.builder, data={"code": "matrix", "name": "Matrix"})

    def create_body(self) -> dict:
        return {"code": "matrix-new", "name": "Matrix new", "required_skills": {"billing": 2}}


RAW_EMAIL = (b"From: Matrix <matrix@example.com>\r\nTo: support@example.com\r\nSubject: Matrix\r\n"
             b"Message-ID: <matrix-1@example.com>\r\n\r\nHello\r\n")


@register("inbound_email")
class InboundEmailChecker(ObjectChecker):
    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "the inbound log has no owner")
        from guanxi.service.email_in import ingest_raw_email

        received = ingest_raw_email(RAW_EMAIL)
        response = self.get(f"{API}/inbound-emails")
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, self.describe("view")
        assert [item["id"] for item in response.json()["items"]] == [received.inbound.pk], self.describe("view")

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "mail gateways act for the whole desk")
        response = self.client.post(f"{API}/email-in", RAW_EMAIL, content_type="message/rfc822")
        stored = InboundEmail.objects.filter(message_id="<matrix-1@example.com>").exists()
        if scope == NONE:
            assert response.status_code == 403 and not stored, self.describe("create")
        else:
            assert response.status_code == 201 and stored, (self.describe("create"), response.content)


# ======================================================================================
# Knowledge articles: anyone may read; authors change their own (own scope), editors all
# ======================================================================================
class LabelledRecords:
    """Records per world label, and the labels of listed IDs."""

    def __init__(self, build):
        self.build = build
        self._records = None

    def records(self) -> dict:
        if self._records is None:
            self._records = {label: self.build(label) for label in LABELS}
        return self._records

    def labels_of(self, ids) -> set[str]:
        by_id = {record.pk: label for label, record in self.records().items()}
        ids = list(ids)
        assert all(pk in by_id for pk in ids), "records outside the world listed"
        return {by_id[pk] for pk in ids}


class RecordChecker(ObjectChecker):
    """View / change / delete of labelled records through list, detail and PATCH routes."""

    path = ""
    model: type = Case
    change_body: dict = {}
    list_query: dict = {}

    def build(self, label: str):
        raise NotImplementedError

    def changed(self, record) -> bool:
        raise NotImplementedError

    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        self.labelled = LabelledRecords(self.build)

    def check_view(self, scope: str) -> None:
        records = self.labelled.records()
        listing = self.get(self.path, limit=200, **self.list_query)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            return
        assert listing.status_code == 200, (self.describe("view", "list"), listing.content)
        body = listing.json()
        items = body["items"] if isinstance(body, dict) else body
        assert self.labelled.labels_of(item["id"] for item in items) == REACH[scope], self.describe("view", "list")
        for label, record in records.items():
            expected = 200 if label in REACH[scope] else 404
            assert self.get(f"{self.path}/{record.pk}").status_code == expected, self.describe("view", label)

    def check_change(self, scope: str) -> None:
        for label, record in self.labelled.records().items():
            expected = self.expected_status(label, "change", 200)
            response = self.patch(f"{self.path}/{record.pk}", self.change_body)
            assert response.status_code == expected, (self.describe("change", label), response.content)
            record.refresh_from_db()
            assert self.changed(record) == (expected == 200), self.describe("change", label)

    def check_delete(self, scope: str) -> None:
        for label, record in self.labelled.records().items():
            expected = self.expected_status(label, "delete", 204)
            response = self.delete(f"{self.path}/{record.pk}")
            assert response.status_code == expected, (self.describe("delete", label), response.content)
            assert self.model.objects.filter(pk=record.pk).exists() == (expected != 204), \
                self.describe("delete", label)


@register("knowledge_article")
class KnowledgeArticleChecker(RecordChecker):
    path = f"{API}/articles"
    change_body = {"status": "archived"}

    @property
    def model(self):
        from guanxi.service.models import KnowledgeArticle

        return KnowledgeArticle

    def build(self, label: str):
        article = services.article_create(actor=self.world.builder, data={"translations": [
            {"language": "en", "title": f"Matrix {label}", "solution": "Restart"}]})
        type(article).objects.filter(pk=article.pk).update(created_by=self.world.owners[label])
        article.refresh_from_db()
        return article

    def changed(self, record) -> bool:
        return record.status == "archived"

    def check_view(self, scope: str) -> None:
        """The search lists one hit per article version; the detail route reads each."""
        records = self.labelled.records()
        listing = self.get(self.path, limit=200)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            return
        assert listing.status_code == 200, self.describe("view", "list")
        listed = self.labelled.labels_of(item["article_id"] for item in listing.json()["items"])
        assert listed == REACH[scope], self.describe("view", "list")
        for label, record in records.items():
            expected = 200 if label in REACH[scope] else 404
            assert self.get(f"{self.path}/{record.pk}").status_code == expected, self.describe("view", label)

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "a new article belongs to its author")
        response = self.post(self.path, {"translations": [{"language": "zh-hans", "title": "新文章",
                                                           "solution": "重启"}]})
        stored = self.model.objects.filter(versions__title="新文章").exists()
        if scope == NONE:
            assert response.status_code == 403 and not stored, self.describe("create")
        else:
            assert response.status_code == 201 and stored, (self.describe("create"), response.content)


@register("complaint")
class ComplaintChecker(RecordChecker):
    path = f"{API}/complaints"
    change_body = {"root_cause": "Changed"}

    @property
    def model(self):
        from guanxi.service.models import Complaint

        return Complaint

    def build(self, label: str):
        complaint = services.complaint_create(actor=self.world.builder, data={
            "contact_id": self.world.contacts[label].pk, "subject": f"Matrix {label}", "description": "Unhappy"})
        owner = self.world.owners[label]
        type(complaint).objects.filter(pk=complaint.pk).update(owner=owner, team_id=owner.team_id,
                                                               territory=self.world.territories[label])
        complaint.refresh_from_db()
        return complaint

    def changed(self, record) -> bool:
        return record.root_cause == "Changed"

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "the customer's visibility decides")
        contact_scope = self.matrix.get((self.world.role, "contact", "view"), NONE)
        for label, contact in self.world.contacts.items():
            response = self.post(self.path, {"contact_id": contact.pk, "subject": f"New {label}",
                                             "description": "Rude"})
            stored = self.model.objects.filter(subject=f"New {label}").exists()
            if scope == NONE:
                assert response.status_code == 403 and not stored, self.describe("create", label)
            elif label in REACH[contact_scope]:
                assert response.status_code == 201 and stored, (self.describe("create", label), response.content)
            else:
                assert response.status_code == 422 and not stored, (self.describe("create", label), response.content)

    def check_export(self, scope: str) -> None:
        self.labelled.records()
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                selectors.visible_complaints(self.world.actor, "export")
            return
        ids = selectors.visible_complaints(self.world.actor, "export").values_list("pk", flat=True)
        assert self.labelled.labels_of(ids) == REACH[scope], self.describe("export")


@register("service_contract")
class ServiceContractChecker(RecordChecker):
    path = f"{API}/contracts"
    change_body = {"name": "Changed"}

    @property
    def model(self):
        from guanxi.service.models import ServiceContract

        return ServiceContract

    def build(self, label: str):
        return services.contract_create(actor=self.world.builder, data={
            "name": f"Matrix {label}", "account_id": self.world.accounts[label].pk, "starts_on": "2026-01-01",
            "ends_on": "2026-12-31", "entitlements": [{"name": "Incidents", "unit": "incidents", "quantity": 5}]})

    def changed(self, record) -> bool:
        return record.name == "Changed"

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "the account's visibility decides")
        account_scope = self.matrix.get((self.world.role, "account", "view"), NONE)
        for label, account in self.world.accounts.items():
            response = self.post(self.path, {"name": f"New {label}", "account_id": account.pk,
                                             "starts_on": "2026-01-01", "ends_on": "2026-12-31"})
            stored = self.model.objects.filter(name=f"New {label}").exists()
            if scope == NONE:
                assert response.status_code == 403 and not stored, self.describe("create", label)
            elif label in REACH[account_scope]:
                assert response.status_code == 201 and stored, (self.describe("create", label), response.content)
            else:
                assert response.status_code == 422 and not stored, (self.describe("create", label), response.content)


@register("field_visit")
class FieldVisitChecker(RecordChecker):
    path = f"{API}/visits"
    change_body = {"notes": "Changed"}
    list_query = {"start": "2026-06-01", "end": "2026-06-30"}

    @property
    def model(self):
        from guanxi.service.models import FieldVisit

        return FieldVisit

    def case(self) -> Case:
        if not hasattr(self, "_case"):
            self._case = services.case_open(actor=self.world.builder, data={
                "subject": "Matrix visit", "contact_id": self.world.contacts["own"].pk})
        return self._case

    def build(self, label: str):
        import datetime as dt

        from guanxi.service.models import ServiceAgent

        owner = self.world.owners[label]
        ServiceAgent.objects.get_or_create(user=owner, defaults={"is_technician": True})
        start = dt.datetime(2026, 6, 1 + LABELS.index(label), 9, tzinfo=dt.timezone.utc)
        return services.visit_schedule(actor=self.world.builder, case_id=self.case().pk, technician_id=owner.pk,
                                       starts_at=start, ends_at=start + dt.timedelta(hours=2), address="Matrix Rd 1")

    def changed(self, record) -> bool:
        return record.notes == "Changed"

    def check_view(self, scope: str) -> None:
        """The calendar route lists visits; there is no per-visit GET (the calendar is the view)."""
        records = self.labelled.records()
        listing = self.get(self.path, **self.list_query)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            return
        assert listing.status_code == 200, self.describe("view", "list")
        assert self.labelled.labels_of(item["id"] for item in listing.json()) == REACH[scope], \
            self.describe("view", "list")
        assert records

    def check_create(self, scope: str) -> None:
        import datetime as dt

        from guanxi.service.models import ServiceAgent

        self.require_all_or_none(scope, "booking is for the whole desk")
        technician = self.world.owners["other"]
        ServiceAgent.objects.get_or_create(user=technician, defaults={"is_technician": True})
        start = dt.datetime(2026, 6, 20, 9, tzinfo=dt.timezone.utc)
        response = self.post(self.path, {"case_id": self.case().pk, "technician_id": technician.pk,
                                         "starts_at": start.isoformat(),
                                         "ends_at": (start + dt.timedelta(hours=1)).isoformat(),
                                         "address": "Matrix Rd 2"})
        stored = self.model.objects.filter(address="Matrix Rd 2").exists()
        if scope == NONE:
            assert response.status_code == 403 and not stored, self.describe("create")
        else:
            # the case must be one the actor may see; every role booking visits sees all cases
            assert response.status_code == 201 and stored, (self.describe("create"), response.content)


@register("survey")
class SurveyChecker(ObjectChecker):
    path = f"{API}/surveys"

    def resolved_case(self, subject: str) -> Case:
        case = services.case_open(actor=self.world.builder, data={
            "subject": subject, "contact_id": self.world.contacts["own"].pk,
            "requester_email": "matrix@example.com"})
        services.case_change_status(actor=self.world.builder, case_id=case.pk, status="resolved")
        return case

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "results are read for the whole desk")
        case = self.resolved_case("Matrix survey")
        response = self.get(self.path)
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, self.describe("view")
        assert [item["case"] for item in response.json()["items"]] == [case.pk], self.describe("view")

    def check_create(self, scope: str) -> None:
        from guanxi.service.models import Survey

        self.require_all_or_none(scope, "sending is for the whole desk")
        case = self.resolved_case("Matrix resend")
        Survey.objects.filter(case=case).delete()
        response = self.post(self.path, {"case_id": case.pk})
        stored = Survey.objects.filter(case=case).exists()
        if scope == NONE:
            assert response.status_code == 403 and not stored, self.describe("create")
        else:
            assert response.status_code == 201 and stored, (self.describe("create"), response.content)

    def check_export(self, scope: str) -> None:
        self.require_all_or_none(scope, "results are read for the whole desk")
        self.resolved_case("Matrix export")
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                selectors.visible_surveys(self.world.actor, "export")
            return
        assert selectors.visible_surveys(self.world.actor, "export").count() == 1, self.describe("export")


@register("service_report")
class ServiceReportChecker(ObjectChecker):
    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "reports cover the cases the reader may see")
        response = self.get(f"{API}/reports/dashboard")
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
        else:
            assert response.status_code == 200 and "backlog" in response.json(), (self.describe("view"),
                                                                                  response.content)
