"""Access-matrix checker for interactions (see ``guanxi/core/tests/access_checks.py``).

An interaction's record scope follows its customer: "own" means handled by the actor or
about a customer the actor owns; team and territory follow the contact's team and territory.
"""

from __future__ import annotations

import pytest

from guanxi.core.errors import PermissionDenied
from guanxi.core.tests.access_checks import LABELS, NONE, REACH, ObjectChecker, register
from guanxi.interactions import selectors, services
from guanxi.interactions.models import Interaction


@register("interaction")
class InteractionChecker(ObjectChecker):
    path = "/api/v1/interactions"

    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        self._records = None

    def records(self) -> dict[str, Interaction]:
        """One call per world contact, handled by the contact's owner."""
        if self._records is None:
            self._records = {label: services.interaction_record(actor=None, check_access=False, data={
                "contact_id": self.world.contacts[label].pk, "channel": "phone", "notes": "original",
                "agent_id": self.world.owners[label].pk}) for label in LABELS}
        return self._records

    def labels_of(self, ids) -> set[str]:
        ids = list(ids)
        by_id = {record.pk: label for label, record in self.records().items()}
        assert all(pk in by_id for pk in ids), "interactions outside the world listed"
        return {by_id[pk] for pk in ids}

    def check_view(self, scope: str) -> None:
        records = self.records()
        listing = self.get(self.path, limit=200)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            for label, record in records.items():
                assert self.get(f"{self.path}/{record.pk}").status_code == 403, self.describe("view", label)
            return
        assert listing.status_code == 200, self.describe("view", "list")
        listed = self.labels_of(item["id"] for item in listing.json()["items"])
        assert listed == REACH[scope], self.describe("view", "list")
        for label, record in records.items():
            expected = 200 if label in REACH[scope] else 404
            assert self.get(f"{self.path}/{record.pk}").status_code == expected, self.describe("view", label)

    def check_create(self, scope: str) -> None:
        """Recording on a customer outside the scope is refused as an unknown contact (422),
        which tells the caller nothing about a customer they may not see."""
        for label, contact in self.world.contacts.items():
            response = self.post(self.path, {"contact_id": contact.pk, "channel": "email"})
            stored = Interaction.objects.filter(contact=contact, channel="email").exists()
            if scope == NONE:
                assert response.status_code == 403 and not stored, self.describe("create", label)
            elif label in REACH[scope]:
                assert response.status_code == 201 and stored, (self.describe("create", label), response.content)
            else:
                assert response.status_code == 422 and not stored, (self.describe("create", label), response.content)
                assert set(response.json()["errors"]) == {"contact_id"}, self.describe("create", label)

    def check_change(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "change", 200)
            response = self.patch(f"{self.path}/{record.pk}", {"notes": f"changed {label}"})
            assert response.status_code == expected, (self.describe("change", label), response.content)
            record.refresh_from_db()
            assert (record.notes == f"changed {label}") == (expected == 200), self.describe("change", label)

    def check_delete(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "delete", 204)
            response = self.delete(f"{self.path}/{record.pk}")
            assert response.status_code == expected, (self.describe("delete", label), response.content)
            assert Interaction.objects.filter(pk=record.pk).exists() == (expected != 204), \
                self.describe("delete", label)

    def check_export(self, scope: str) -> None:
        """No REST route exports; export jobs read through this selector."""
        self.records()
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                selectors.visible_interactions(self.world.actor, "export")
            return
        ids = selectors.visible_interactions(self.world.actor, "export").values_list("pk", flat=True)
        assert self.labels_of(ids) == REACH[scope], self.describe("export")
