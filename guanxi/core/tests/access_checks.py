"""Checkers for the access-matrix walk (``test_access_matrix.py``) and the core objects' checkers.

The walk runs every role × object × action. For each object it needs a *checker*: a class
that knows how to try each action on that kind of object through the real API (or the real
service or selector when no route exists) and to see that what the matrix grants works and
what it does not grant is refused.

Extension point — a domain that adds rows for a new object to ``access_matrix.csv`` adds a
module ``guanxi/<domain>/tests/access_checks.py`` (found automatically for every installed
``guanxi.*`` app) with::

    from guanxi.core.tests.access_checks import LABELS, ObjectChecker, register

    @register("opportunity")
    class OpportunityChecker(ObjectChecker):
        def check_view(self, scope): ...
        def check_create(self, scope): ...

A ``check_<action>(scope)`` method receives the scope the matrix grants the world's actor
("none", "own", "team", "territory" or "all") and asserts both the answer and the stored
state. An action without a ``check_<action>`` is one the product does not offer on that
object; the walk then only insists that no role is granted it.

Record-level scopes are tested on a small world (``World``): four records of each kind, one
per label in ``LABELS``, placed so that each scope reaches a different set of them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Callable

import pytest
from django.test import Client
from django.utils import timezone

from guanxi.core import selectors, services
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import (
    Account, ApiToken, AuditLog, Contact, CustomField, Role, Team, Territory, User, Visibility,
)

# ======================================================================================
# Registry
# ======================================================================================
CHECKERS: dict[str, type["ObjectChecker"]] = {}


def register(object_name: str) -> Callable[[type["ObjectChecker"]], type["ObjectChecker"]]:
    """Class decorator: walk ``object_name`` of the matrix with this checker."""

    def add(checker: type[ObjectChecker]) -> type[ObjectChecker]:
        if object_name in CHECKERS and CHECKERS[object_name] is not checker:
            raise ValueError(f"two access checkers for {object_name!r}: {CHECKERS[object_name]} and {checker}")
        checker.object_name = object_name
        CHECKERS[object_name] = checker
        return checker

    return add


# ======================================================================================
# The world every check runs in
# ======================================================================================
NONE, OWN, TEAM, TERRITORY, ALL = (Visibility.NONE.value, Visibility.OWN.value, Visibility.TEAM.value,
                                   Visibility.TERRITORY.value, Visibility.ALL.value)

# One record per label; the actor is on team A and covers territory North.
#   own        owned by the actor                       (team A, South)
#   team       owned by a teammate                      (team A, South)
#   territory  owned by a colleague in North's child    (team B, North City)
#   other      owned by an outsider                     (team B, South)
LABELS = ("own", "team", "territory", "other")
REACH: dict[str, set[str]] = {
    NONE: set(),
    OWN: {"own"},
    TEAM: {"own", "team"},
    TERRITORY: {"own", "territory"},  # North City is a child of North: child territories count
    ALL: set(LABELS),
}
PASSWORD = "matrix-walk-42"


def token_client(user: User) -> Client:
    _token, clear = services.api_token_create(actor=user, user=user, name="access matrix")
    return Client(HTTP_AUTHORIZATION=f"Bearer {clear}")


@dataclass
class World:
    role: str
    actor: User
    builder: User                   # a superuser who sets the stage through the services
    owners: dict[str, User]         # label → the user who owns that label's records
    territories: dict[str, Territory]  # label → territory of that label's records
    client: Client = field(repr=False)
    _contacts: dict[str, Contact] | None = field(default=None, repr=False)
    _accounts: dict[str, Account] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, role: str) -> "World":
        north = Territory.objects.create(code="north", name="North")
        north_city = Territory.objects.create(code="north-city", name="North City", parent=north)
        south = Territory.objects.create(code="south", name="South")
        team_a, team_b = Team.objects.create(name="Team A"), Team.objects.create(name="Team B")

        def person(username: str, person_role: str, team: Team, territory: Territory, **extra) -> User:
            return services.user_create(actor=None, username=username, password=PASSWORD, role=person_role,
                                        team=team, territory=territory, **extra)

        actor = person("actor", role, team_a, north)
        if role == Role.SALES_MANAGER:
            team_a.manager = actor
            team_a.save(update_fields=["manager"])
        owners = {
            "own": actor,
            "team": person("teammate", Role.SALES_REP, team_a, south),
            "territory": person("neighbour", Role.SALES_REP, team_b, north_city),
            "other": person("outsider", Role.SALES_REP, team_b, south),
        }
        builder = person("builder", Role.ADMIN, team_b, south, is_superuser=True)
        territories = {"own": south, "team": south, "territory": north_city, "other": south}
        return cls(role=role, actor=actor, builder=builder, owners=owners, territories=territories,
                   client=token_client(actor))

    def placement(self, label: str) -> dict:
        return {"owner_id": self.owners[label].pk, "territory_id": self.territories[label].pk}

    @property
    def contacts(self) -> dict[str, Contact]:
        if self._contacts is None:
            self._contacts = {label: services.contact_create(actor=self.builder, data={
                "full_name": f"Matrix {label}", **self.placement(label)}) for label in LABELS}
        return self._contacts

    @property
    def accounts(self) -> dict[str, Account]:
        if self._accounts is None:
            self._accounts = {label: services.account_create(actor=self.builder, data={
                "name": f"Matrix {label} Ltd", **self.placement(label)}) for label in LABELS}
        return self._accounts


# ======================================================================================
# Base checker
# ======================================================================================
class ObjectChecker:
    """Tries one object's actions for the world's actor; see the module docstring."""

    object_name = ""

    def __init__(self, world: World, matrix: dict[tuple[str, str, str], str]):
        self.world = world
        self.matrix = matrix
        self.client = world.client

    def scope(self, action: str) -> str:
        return self.matrix.get((self.world.role, self.object_name, action), NONE)

    def expected_status(self, label: str, action: str, success: int) -> int:
        """What a request for ``action`` on the record labelled ``label`` must answer: success
        in scope; 403 when the role lacks the action or sees the record but may not act on
        it; 404 when the record is outside what the actor may see."""
        scope = self.scope(action)
        if scope == NONE:
            return 403
        if label in REACH[scope]:
            return success
        return 403 if label in REACH[self.scope("view")] else 404

    def describe(self, action: str, label: str = "") -> str:
        where = " through the list" if label == "list" else f" on the {label!r} record" if label else ""
        return f"{self.world.role} {action} {self.object_name}{where} (matrix scope {self.scope(action)!r})"

    def require_all_or_none(self, scope: str, reason: str) -> None:
        if scope not in (NONE, ALL):
            pytest.fail(f"{self.object_name} grants only 'all' or nothing ({reason}); the matrix gives "
                        f"{self.world.role} {scope!r}")

    # --- requests ---
    def get(self, path: str, **query):
        return self.client.get(path, query)

    def post(self, path: str, body: dict):
        return self.client.post(path, body, content_type="application/json")

    def patch(self, path: str, body: dict):
        return self.client.patch(path, body, content_type="application/json")

    def delete(self, path: str):
        return self.client.delete(path)


def later() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(hours=1)


class ConfigurationChecker(ObjectChecker):
    """Objects without an owner (a desk's or a center's configuration: queues, policies,
    scripts…), all or nothing, walked through their REST routes: list (and read one, where
    ``detail_route``), create, change with ``change_body``, delete."""

    path = ""
    model: type | None = None  # each subclass names its model
    change_body: dict = {"name": "Changed"}
    detail_route = True

    def existing(self):
        raise NotImplementedError

    def create_body(self) -> dict:
        raise NotImplementedError

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "configuration has no owner")
        record = self.existing()
        answers = [self.get(self.path)] + ([self.get(f"{self.path}/{record.pk}")] if self.detail_route else [])
        if scope == NONE:
            assert [answer.status_code for answer in answers] == [403] * len(answers), self.describe("view")
            return
        assert [answer.status_code for answer in answers] == [200] * len(answers), (self.describe("view"),
                                                                                     answers[0].content)
        body = answers[0].json()
        items = body["items"] if isinstance(body, dict) else body
        assert record.pk in {item["id"] for item in items}, self.describe("view")

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "configuration has no owner")
        before = self.model.objects.count()
        response = self.post(self.path, self.create_body())
        if scope == NONE:
            assert response.status_code == 403 and self.model.objects.count() == before, self.describe("create")
            return
        assert response.status_code == 201, (self.describe("create"), response.content)
        assert self.model.objects.count() == before + 1, self.describe("create")
        assert self.model.objects.filter(pk=response.json()["id"]).exists(), self.describe("create")

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "configuration has no owner")
        record = self.existing()
        response = self.patch(f"{self.path}/{record.pk}", self.change_body)
        record.refresh_from_db()
        changed = all(getattr(record, name) == value for name, value in self.change_body.items())
        if scope == NONE:
            assert response.status_code == 403 and not changed, self.describe("change")
        else:
            assert response.status_code == 200 and changed, (self.describe("change"), response.content)

    def check_delete(self, scope: str) -> None:
        self.require_all_or_none(scope, "configuration has no owner")
        record = self.existing()
        response = self.delete(f"{self.path}/{record.pk}")
        remains = self.model.objects.filter(pk=record.pk).exists()
        if scope == NONE:
            assert response.status_code == 403 and remains, self.describe("delete")
        else:
            assert response.status_code == 204 and not remains, (self.describe("delete"), response.content)


# ======================================================================================
# Accounts and contacts: record-level scopes through the API
# ======================================================================================
class CustomerRecordChecker(ObjectChecker):
    path = ""
    model: type = Contact
    changed_field = ""
    visible: Callable = staticmethod(selectors.visible_contacts)

    def records(self) -> dict:
        raise NotImplementedError

    def create_body(self) -> dict:
        raise NotImplementedError

    def labels_of(self, ids) -> set[str]:
        ids = list(ids)
        by_id = {record.pk: label for label, record in self.records().items()}
        unexpected = [pk for pk in ids if pk not in by_id]
        assert not unexpected, f"records outside the world listed: {unexpected}"
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
        before = self.model.objects.count()
        response = self.post(self.path, self.create_body())
        if scope == NONE:
            assert response.status_code == 403, self.describe("create")
            assert self.model.objects.count() == before, self.describe("create")
            return
        assert response.status_code == 201, (self.describe("create"), response.content)
        created = self.model.objects.get(pk=response.json()["id"])
        assert created.owner_id == self.world.actor.pk, self.describe("create")

    def check_change(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "change", 200)
            response = self.patch(f"{self.path}/{record.pk}", {self.changed_field: f"changed {label}"})
            assert response.status_code == expected, (self.describe("change", label), response.content)
            record.refresh_from_db()
            stored = getattr(record, self.changed_field)
            assert (stored == f"changed {label}") == (expected == 200), self.describe("change", label)

    def check_delete(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "delete", 204)
            response = self.delete(f"{self.path}/{record.pk}")
            assert response.status_code == expected, (self.describe("delete", label), response.content)
            still_there = self.model.objects.filter(pk=record.pk).exists()
            assert still_there == (expected != 204), self.describe("delete", label)

    def check_scope_by_selector(self, action: str, scope: str) -> None:
        """Export and import have no REST route; their jobs read through this selector."""
        records = self.records()
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                self.visible(self.world.actor, action)
            return
        ids = set(self.visible(self.world.actor, action).values_list("pk", flat=True))
        assert self.labels_of(ids) == REACH[scope], self.describe(action)
        assert records  # the world was built

    def check_export(self, scope: str) -> None:
        self.check_scope_by_selector("export", scope)

    def check_import(self, scope: str) -> None:
        self.check_scope_by_selector("import", scope)


@register("contact")
class ContactChecker(CustomerRecordChecker):
    path = "/api/v1/contacts"
    model = Contact
    changed_field = "job_title"
    visible = staticmethod(selectors.visible_contacts)

    def records(self) -> dict:
        return self.world.contacts

    def create_body(self) -> dict:
        return {"full_name": "Matrix new", "phone": "+86 138 0000 0000"}


@register("account")
class AccountChecker(CustomerRecordChecker):
    path = "/api/v1/accounts"
    model = Account
    changed_field = "industry"
    visible = staticmethod(selectors.visible_accounts)

    def records(self) -> dict:
        return self.world.accounts

    def create_body(self) -> dict:
        return {"name": "Matrix new Ltd"}


# ======================================================================================
# Audit log: read-only, all or nothing
# ======================================================================================
@register("audit_log")
class AuditLogChecker(ObjectChecker):
    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "the log is not filtered by owner")
        contact = self.world.contacts["other"]
        response = self.get("/api/v1/audit-log", object_type="contact", object_id=contact.pk)
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, self.describe("view")
        assert [entry["action"] for entry in response.json()["items"]] == ["create"], self.describe("view")

    def _refuse_writes(self, scope: str, action: str) -> None:
        if scope != NONE:
            pytest.fail(f"the audit log is append-only: no role may be granted {action} "
                        f"(the matrix gives {self.world.role} {scope!r})")
        self.world.contacts  # some history to protect
        before = list(AuditLog.objects.values_list("pk", "action"))
        answers = [self.post("/api/v1/audit-log", {"action": "delete"}).status_code,
                   self.patch(f"/api/v1/audit-log/{before[0][0]}", {"action": "delete"}).status_code,
                   self.delete("/api/v1/audit-log").status_code,
                   self.delete(f"/api/v1/audit-log/{before[0][0]}").status_code]
        assert all(status in (404, 405) for status in answers), (self.describe(action), answers)
        after = list(AuditLog.objects.filter(pk__in=[pk for pk, _ in before]).values_list("pk", "action"))
        assert after == before, self.describe(action)

    def check_create(self, scope: str) -> None:
        self._refuse_writes(scope, "create")

    def check_change(self, scope: str) -> None:
        self._refuse_writes(scope, "change")

    def check_delete(self, scope: str) -> None:
        self._refuse_writes(scope, "delete")


# ======================================================================================
# Custom field definitions: all or nothing
# ======================================================================================
@register("custom_field")
class CustomFieldChecker(ObjectChecker):
    path = "/api/v1/custom-fields"

    def existing(self) -> CustomField:
        return services.custom_field_create(actor=self.world.builder, data={
            "target": "contact", "key": "matrix", "label": "Matrix"})

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "definitions have no owner")
        field_definition = self.existing()
        response = self.get(self.path)
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, self.describe("view")
        assert [item["id"] for item in response.json()["items"]] == [field_definition.pk], self.describe("view")

    def check_create(self, scope: str) -> None:
        self.require_all_or_none(scope, "definitions have no owner")
        response = self.post(self.path, {"target": "account", "key": "created", "label": "Created"})
        created = CustomField.objects.filter(key="created").exists()
        if scope == NONE:
            assert response.status_code == 403 and not created, self.describe("create")
        else:
            assert response.status_code == 201 and created, (self.describe("create"), response.content)

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "definitions have no owner")
        field_definition = self.existing()
        response = self.patch(f"{self.path}/{field_definition.pk}", {"label": "Changed"})
        field_definition.refresh_from_db()
        if scope == NONE:
            assert response.status_code == 403 and field_definition.label == "Matrix", self.describe("change")
        else:
            assert response.status_code == 200 and field_definition.label == "Changed", self.describe("change")

    def check_delete(self, scope: str) -> None:
        self.require_all_or_none(scope, "definitions have no owner")
        field_definition = self.existing()
        response = self.delete(f"{self.path}/{field_definition.pk}")
        remains = CustomField.objects.filter(pk=field_definition.pk).exists()
        if scope == NONE:
            assert response.status_code == 403 and remains, self.describe("delete")
        else:
            assert response.status_code == 204 and not remains, self.describe("delete")


# ======================================================================================
# Users: all or nothing
# ======================================================================================
@register("user")
class UserChecker(ObjectChecker):
    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "the user directory is not filtered by owner")
        outsider = self.world.owners["other"]
        listing = self.get("/api/v1/users", limit=200)
        detail = self.get(f"/api/v1/users/{outsider.pk}")
        if scope == NONE:
            assert (listing.status_code, detail.status_code) == (403, 403), self.describe("view")
            return
        assert (listing.status_code, detail.status_code) == (200, 200), self.describe("view")
        listed = {item["id"] for item in listing.json()["items"]}
        assert {user.pk for user in self.world.owners.values()} <= listed, self.describe("view")

    def check_create(self, scope: str) -> None:
        """No REST route creates users; the service is what every form and command calls."""
        self.require_all_or_none(scope, "users have no owner")
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                services.user_create(actor=self.world.actor, username="matrix-new", password=PASSWORD)
            assert not User.objects.filter(username="matrix-new").exists(), self.describe("create")
            return
        created = services.user_create(actor=self.world.actor, username="matrix-new", password=PASSWORD)
        assert User.objects.filter(pk=created.pk, is_active=True).exists(), self.describe("create")

    def check_change(self, scope: str) -> None:
        """Changing a user's profile, and acting as them by issuing them a token."""
        self.require_all_or_none(scope, "users have no owner")
        outsider = self.world.owners["other"]
        changed = self.patch(f"/api/v1/users/{outsider.pk}", {"display_name": "Changed"})
        token = self.post("/api/v1/tokens", {"name": "as outsider", "user_id": outsider.pk})
        outsider.refresh_from_db()
        tokens = ApiToken.objects.filter(user=outsider).count()
        if scope == NONE:
            assert (changed.status_code, token.status_code) == (403, 403), self.describe("change")
            assert outsider.display_name == "" and tokens == 0, self.describe("change")
        else:
            assert (changed.status_code, token.status_code) == (200, 201), self.describe("change")
            assert outsider.display_name == "Changed" and tokens == 1, self.describe("change")

    def check_delete(self, scope: str) -> None:
        self.require_all_or_none(scope, "users have no owner")
        outsider = self.world.owners["other"]
        response = self.delete(f"/api/v1/users/{outsider.pk}")
        outsider.refresh_from_db()
        if scope == NONE:
            assert response.status_code == 403 and outsider.is_active, self.describe("delete")
        else:
            assert response.status_code == 204 and not outsider.is_active, self.describe("delete")
