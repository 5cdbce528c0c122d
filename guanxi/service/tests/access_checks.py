"""Access-matrix checkers for the service domain (see ``guanxi/core/tests/access_checks.py``).

A case's record scope follows its assignee (own, team) and its customer (own when the
actor owns the customer; territory from the customer's territory). Each world label
gets one case on that label's contact, assigned to that label's owner. Case messages
follow their case. Configuration objects and the inbound-email log are all or nothing.
"""

from __future__ import annotations

import pytest

from guanxi.core.errors import PermissionDenied
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


class ConfigurationChecker(ObjectChecker):
    """All-or-nothing objects with list / create / change / delete routes."""

    path = ""
    model: type = SlaPolicy

    def existing(self):
        raise NotImplementedError

    def create_body(self) -> dict:
        raise NotImplementedError

    change_body: dict = {}

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "configuration has no owner")
        record = self.existing()
        response = self.get(self.path)
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, self.describe("view")
        body = response.json()
        items = body["items"] if isinstance(body, dict) else body
        assert record.pk in {item["id"] for item in items}, self.describe("view")

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "configuration has no owner")
        before = self.model.objects.count()
        response = self.post(self.path, self.create_body())
        if scope == NONE:
            assert response.status_code == 403 and self.model.objects.count() == before, self.describe("create")
        else:
            assert response.status_code == 201, (self.describe("create"), response.content)
            assert self.model.objects.count() == before + 1, self.describe("create")

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "configuration has no owner")
        record = self.existing()
        response = self.patch(f"{self.path}/{record.pk}", self.change_body)
        record.refresh_from_db()
        field, value = next(iter(self.change_body.items()))
        if scope == NONE:
            assert response.status_code == 403 and getattr(record, field) != value, self.describe("change")
        else:
            assert response.status_code == 200 and getattr(record, field) == value, (self.describe("change"),
                                                                                     response.content)

    def check_delete(self, scope: str) -> None:
        self.require_all_or_none(scope, "configuration has no owner")
        record = self.existing()
        response = self.delete(f"{self.path}/{record.pk}")
        remains = self.model.objects.filter(pk=record.pk).exists()
        if scope == NONE:
            assert response.status_code == 403 and remains, self.describe("delete")
        else:
            assert response.status_code == 204 and not remains, (self.describe("delete"), response.content)


@register("sla_policy")
class SlaPolicyChecker(ConfigurationChecker):
    path = f"{API}/sla-policies"
    model = SlaPolicy
    change_body = {"name": "Changed"}

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
    change_body = {"name": "Changed"}

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
