"""Access-matrix checkers for the contact center (see ``guanxi/core/tests/access_checks.py``).

Configuration (queues, dispositions, scripts, IVR menus, the wallboard) is all or
nothing. Agent profiles and states are "own" for the agent themself; calls are "own"
for the agent who had them, and team / territory follow that agent's team and territory.
"""

from __future__ import annotations

import pytest

from guanxi.contactcenter import selectors, services
from guanxi.contactcenter.models import (
    AgentProfile, Call, CallState, Disposition, IvrMenu, Queue, Script,
)
from guanxi.contactcenter.routing import install_routing_service
from guanxi.core.errors import PermissionDenied
from guanxi.core.tests import access_checks as core_checks
from guanxi.core.tests.access_checks import LABELS, NONE, REACH, ObjectChecker, register

MENU = """start: hello
nodes:
  hello: {type: prompt, say: "Hello", next: bye}
  bye: {type: hangup}
"""


class ContactCenterChecker(ObjectChecker):
    base = "/api/v1/contact-center"

    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        # The routing engine mirrors the database, which each matrix case builds afresh.
        install_routing_service(None)


class ConfigurationChecker(ContactCenterChecker, core_checks.ConfigurationChecker):
    """Objects without owners, walked through their REST routes (list and detail)."""


@register("queue")
class QueueChecker(ConfigurationChecker):
    path = ConfigurationChecker.base + "/queues"
    model = Queue

    def existing(self) -> Queue:
        services.skill_create(actor=None, data={"code": "billing", "name": "Billing"})
        return services.queue_create(actor=None, data={"code": "billing", "name": "Billing",
                                                       "required_skills": {"billing": 1}})

    def create_body(self) -> dict:
        return {"code": "matrix", "name": "Matrix queue"}


@register("disposition")
class DispositionChecker(ConfigurationChecker):
    path = ConfigurationChecker.base + "/dispositions"
    model = Disposition
    change_body = {"label": "Changed"}

    def existing(self) -> Disposition:
        return services.disposition_create(actor=None, data={"code": "resolved", "label": "Resolved"})

    def create_body(self) -> dict:
        return {"code": "matrix", "label": "Matrix"}


@register("script")
class ScriptChecker(ConfigurationChecker):
    path = ConfigurationChecker.base + "/scripts"
    model = Script

    def existing(self) -> Script:
        return services.script_create(actor=None, data={"name": "Greeting", "body": "Hello {name}."})

    def create_body(self) -> dict:
        return {"name": "Matrix", "body": "Text"}


@register("ivr_menu")
class IvrMenuChecker(ConfigurationChecker):
    path = ConfigurationChecker.base + "/ivr-menus"
    model = IvrMenu

    def existing(self) -> IvrMenu:
        return services.ivr_menu_create(actor=None, data={"name": "Main", "source": MENU, "numbers": ["95555"]})

    def create_body(self) -> dict:
        return {"name": "Matrix", "source": MENU}


@register("wallboard")
class WallboardChecker(ContactCenterChecker):
    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "the wallboard shows the whole contact center")
        response = self.get(self.base + "/wallboard")
        report = self.get(self.base + "/reports", since="2026-01-01T00:00:00", until="2026-01-02T00:00:00")
        if scope == NONE:
            assert (response.status_code, report.status_code) == (403, 403), self.describe("view")
            return
        assert (response.status_code, report.status_code) == (200, 200), self.describe("view")
        assert {"queues", "total", "agent_states"} <= set(response.json()), self.describe("view")


# ======================================================================================
# Agents: profiles and states, "own" for the agent themself
# ======================================================================================
class AgentRecordsChecker(ContactCenterChecker):
    _profiles: dict[str, AgentProfile] | None = None

    def profiles(self) -> dict[str, AgentProfile]:
        if self._profiles is None:
            self._profiles = {label: services.agent_profile_create(actor=None, data={
                "user_id": self.world.owners[label].pk, "extension": f"10{index}"})
                for index, label in enumerate(LABELS)}
        return self._profiles

    def labels_of(self, ids) -> set[str]:
        by_id = {profile.pk: label for label, profile in self.profiles().items()}
        ids = list(ids)
        assert all(pk in by_id for pk in ids), "agents outside the world listed"
        return {by_id[pk] for pk in ids}


@register("agent_profile")
class AgentProfileChecker(AgentRecordsChecker):
    path = ContactCenterChecker.base + "/agents"

    def check_view(self, scope: str) -> None:
        profiles = self.profiles()
        listing = self.get(self.path)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            for label, profile in profiles.items():
                assert self.get(f"{self.path}/{profile.pk}").status_code == 403, self.describe("view", label)
            return
        assert listing.status_code == 200, self.describe("view", "list")
        assert self.labels_of(item["id"] for item in listing.json()["items"]) == REACH[scope], \
            self.describe("view", "list")
        for label, profile in profiles.items():
            expected = 200 if label in REACH[scope] else 404
            assert self.get(f"{self.path}/{profile.pk}").status_code == expected, self.describe("view", label)

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "only supervisors set up agents")
        from guanxi.core.services import user_create

        user = user_create(actor=None, username="matrix-agent", password="matrix-walk-42", role="cc_agent")
        response = self.post(self.path, {"user_id": user.pk, "skills": {}, "extension": "2001"})
        stored = AgentProfile.objects.filter(user=user).exists()
        if scope == NONE:
            assert response.status_code == 403 and not stored, self.describe("create")
        else:
            assert response.status_code == 201 and stored, (self.describe("create"), response.content)

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "only supervisors change agents")
        for label, profile in self.profiles().items():
            expected = self.expected_status(label, "change", 200)
            response = self.patch(f"{self.path}/{profile.pk}", {"extension": f"9{label[:3]}"})
            profile.refresh_from_db()
            assert response.status_code == expected, (self.describe("change", label), response.content)
            assert (profile.extension == f"9{label[:3]}") == (expected == 200), self.describe("change", label)

    def check_delete(self, scope: str) -> None:
        self.require_all_or_none(scope, "only supervisors remove agents")
        for label, profile in self.profiles().items():
            expected = self.expected_status(label, "delete", 204)
            response = self.delete(f"{self.path}/{profile.pk}")
            assert response.status_code == expected, (self.describe("delete", label), response.content)
            assert AgentProfile.objects.filter(pk=profile.pk).exists() == (expected != 204), \
                self.describe("delete", label)


@register("agent_state")
class AgentStateChecker(AgentRecordsChecker):
    def check_view(self, scope: str) -> None:
        for label, profile in self.profiles().items():
            response = self.get(f"{self.base}/agents/{profile.pk}/state")
            expected = 403 if scope == NONE else 200 if label in REACH[scope] else 404
            assert response.status_code == expected, self.describe("view", label)

    def check_change(self, scope: str) -> None:
        for label, profile in self.profiles().items():
            expected = self.expected_status(label, "change", 200)
            response = self.post(f"{self.base}/agents/{profile.pk}/state", {"state": "away", "reason": "break"})
            profile.refresh_from_db()
            assert response.status_code == expected, (self.describe("change", label), response.content)
            assert (profile.state == "away") == (expected == 200), self.describe("change", label)


# ======================================================================================
# Calls: "own" for the agent who had the call
# ======================================================================================
@register("call")
class CallChecker(ContactCenterChecker):
    path = ContactCenterChecker.base + "/calls"
    _calls: dict[str, Call] | None = None

    def records(self) -> dict[str, Call]:
        """One answered, ended call per label, handled by that label's owner."""
        if self._calls is None:
            from django.utils import timezone

            now = timezone.now()
            self._calls = {label: Call.objects.create(
                adapter="simulator", external_id=f"matrix-{label}", ani="+8613800138000", dnis="95555",
                agent=self.world.owners[label], state=CallState.ENDED, end_reason="completed", arrived_at=now,
                queued_at=now, answered_at=now, ended_at=now) for label in LABELS}
        return self._calls

    def labels_of(self, ids) -> set[str]:
        by_id = {call.pk: label for label, call in self.records().items()}
        ids = list(ids)
        assert all(pk in by_id for pk in ids), "calls outside the world listed"
        return {by_id[pk] for pk in ids}

    def check_view(self, scope: str) -> None:
        calls = self.records()
        listing = self.get(self.path, limit=200)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            for label, call in calls.items():
                assert self.get(f"{self.path}/{call.pk}").status_code == 403, self.describe("view", label)
            return
        assert listing.status_code == 200, self.describe("view", "list")
        assert self.labels_of(item["id"] for item in listing.json()["items"]) == REACH[scope], \
            self.describe("view", "list")
        for label, call in calls.items():
            expected = 200 if label in REACH[scope] else 404
            assert self.get(f"{self.path}/{call.pk}").status_code == expected, self.describe("view", label)

    def check_create(self, scope: str) -> None:
        """Placing a call (the simulator) is creating one; so is reporting a telephony event."""
        self.require_all_or_none(scope, "calls come from the telephony side")
        response = self.post(self.base + "/simulator/calls", {"ani": "+8613800138000", "dnis": "95555"})
        event = self.post(self.base + "/cti/events", {"adapter": "asterisk", "kind": "offered",
                                                      "call_ref": "matrix-ami-1", "ani": "+8613900139000"})
        simulated = Call.objects.filter(adapter="simulator").exists()
        reported = Call.objects.filter(adapter="asterisk", external_id="matrix-ami-1").exists()
        if scope == NONE:
            assert (response.status_code, event.status_code) == (403, 403), self.describe("create")
            assert not simulated and not reported, self.describe("create")
        else:
            assert (response.status_code, event.status_code) == (201, 200), (self.describe("create"),
                                                                             response.content, event.content)
            assert simulated and reported, self.describe("create")

    def check_change(self, scope: str) -> None:
        """Changing a call: its notes and disposition, by its agent (or anyone with "all")."""
        for label, call in self.records().items():
            expected = self.expected_status(label, "change", 200)
            response = self.post(f"{self.path}/{call.pk}/disposition", {"notes": f"changed {label}"})
            call.refresh_from_db()
            assert response.status_code == expected, (self.describe("change", label), response.content)
            assert (call.notes == f"changed {label}") == (expected == 200), self.describe("change", label)

    def check_export(self, scope: str) -> None:
        """Exports (the reports' CSV, export jobs) read through this selector."""
        self.records()
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                selectors.visible_calls(self.world.actor, "export")
            return
        ids = selectors.visible_calls(self.world.actor, "export").values_list("pk", flat=True)
        assert self.labels_of(ids) == REACH[scope], self.describe("export")
