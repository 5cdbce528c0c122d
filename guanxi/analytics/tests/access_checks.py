"""Access-matrix checkers for the analytics objects (see ``guanxi/core/tests/access_checks.py``).

- ``warehouse``: its state (view) and refreshing it (change) — all or nothing.
- ``churn_model``: the model card and training — all or nothing.
- ``analysis``: the built-in analyses — all or nothing; what they count follows the contacts.
- ``report``: saved reports, by owner (team and territory scopes follow the owner).
- ``dashboard``: one per role — all or nothing; its figures follow the contacts.
- ``customer_score``: a customer's scores follow the customer: whoever may open the contact
  may read its scores, so the record scopes are those of the contact; recomputing scores
  (change) is all or nothing.
"""

from __future__ import annotations

from guanxi.analytics.models import ScoringRun
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.core.tests.access_checks import LABELS, NONE, REACH, ObjectChecker, register
from guanxi.jobs.models import Job, JobState


@register("warehouse")
class WarehouseChecker(ObjectChecker):
    path = "/api/v1/analytics/warehouse"

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "the warehouse is one shared store")
        response = self.get(self.path)
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, (self.describe("view"), response.content)
        assert response.json()["engine"] in ("duckdb", "postgresql"), self.describe("view")

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "the warehouse is one shared store")
        response = self.post(f"{self.path}/refresh", {})
        jobs = Job.objects.filter(kind="analytics.refresh_warehouse", created_by=self.world.actor)
        if scope == NONE:
            assert response.status_code == 403 and not jobs.exists(), self.describe("change")
            return
        assert response.status_code == 202, (self.describe("change"), response.content)
        assert jobs.get().state == JobState.SUCCEEDED, (self.describe("change"), jobs.get().error)


@register("customer_score")
class CustomerScoreChecker(ObjectChecker):
    def check_view(self, scope: str) -> None:
        for label, contact in self.world.contacts.items():
            response = self.get(f"/api/v1/analytics/customers/{contact.pk}/scores")
            if scope == NONE:
                assert response.status_code == 403, self.describe("view", label)
            else:
                expected = 200 if label in REACH[scope] else 404
                assert response.status_code == expected, (self.describe("view", label), response.content)

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "scores are computed for the whole customer base at once")
        self.world.contacts  # customers to score
        warehouse_refresh(actor=None)
        response = self.post("/api/v1/analytics/scores/rfm", {})
        runs = ScoringRun.objects.filter(started_by=self.world.actor)
        if scope == NONE:
            assert response.status_code == 403 and not runs.exists(), self.describe("change")
            return
        assert response.status_code == 200, (self.describe("change"), response.content)
        assert runs.get().status == "succeeded", self.describe("change")


@register("churn_model")
class ChurnModelChecker(ObjectChecker):
    """The model card is one for the whole base (all or nothing); its retention list shows
    only the customers the reader may see (tested in test_churn_model)."""

    path = "/api/v1/analytics/churn-model"

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "there is one model for the whole customer base")
        response = self.get(self.path)
        listing = self.get("/api/v1/analytics/retention-list")
        if scope == NONE:
            assert (response.status_code, listing.status_code) == (403, 403), self.describe("view")
            return
        assert (response.status_code, listing.status_code) == (200, 200), (self.describe("view"), response.content)
        assert response.json()["model"] is None, self.describe("view")

    def check_change(self, scope: str) -> None:
        self.require_all_or_none(scope, "there is one model for the whole customer base")
        response = self.post(f"{self.path}/train", {})
        jobs = Job.objects.filter(kind="analytics.train_churn_model", created_by=self.world.actor)
        if scope == NONE:
            assert response.status_code == 403 and not jobs.exists(), self.describe("change")
            return
        assert response.status_code == 202, (self.describe("change"), response.content)
        job = jobs.get()
        # an empty world is too little history: the job succeeds and says so
        assert job.state == JobState.SUCCEEDED and job.result["status"] == "too_little_history", \
            (self.describe("change"), job.error, job.result)


@register("analysis")
class AnalysisChecker(ObjectChecker):
    """Analyses are for a role or not (all or nothing); what they count follows the reader's
    contact scope for view (and export scope for export): the world's four customers each
    bought once, and the analysis counts exactly the customers the reader may see."""

    def _customers_counted(self, response) -> int:
        return sum(row["customers"] for row in response.json()["rows"])

    def _world_with_purchases(self) -> None:
        from guanxi.analytics.tests import purchase_history as history

        plan = history.product("MATRIX-PLAN", "Plan")
        for contact in self.world.contacts.values():
            history.order(contact, [(plan, 1, "10.00")], at="2025-01-15 10:00")
        warehouse_refresh(actor=None)

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "record scopes come from the contacts")
        self._world_with_purchases()
        response = self.get("/api/v1/analytics/analyses/value-by-segment", by="tier", months=120)
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, (self.describe("view"), response.content)
        contact_scope = self.matrix.get((self.world.role, "contact", "view"), NONE)
        assert self._customers_counted(response) == len(REACH[contact_scope]), self.describe("view")

    def check_export(self, scope: str) -> None:
        self.require_all_or_none(scope, "record scopes come from the contacts")
        self._world_with_purchases()
        response = self.get("/api/v1/analytics/analyses/value-by-segment/export", format="csv", by="tier",
                            months=120)
        if scope == NONE:
            assert response.status_code == 403, self.describe("export")
            return
        assert response.status_code == 200, (self.describe("export"), response.content)
        rows = response.content.decode("utf-8-sig").splitlines()[1:]
        counted = sum(int(line.split(",")[1]) for line in rows)
        contact_scope = self.matrix.get((self.world.role, "contact", "export"), NONE)
        assert counted == len(REACH[contact_scope]), self.describe("export")


@register("report")
class ReportChecker(ObjectChecker):
    """A saved report belongs to its owner; team and territory scopes follow the owner's."""

    path = "/api/v1/analytics/reports"
    definition = {"group_by": ["income_band"], "measures": [{"aggregate": "count", "field": "rows"}]}

    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        self._records = None

    def records(self) -> dict:
        from guanxi.analytics.models import Report

        if self._records is None:
            self._records = {label: Report.objects.create(name=f"Matrix {label}", source="customers",
                                                          definition=self.definition, owner=self.world.owners[label])
                             for label in LABELS}
            warehouse_refresh(actor=None)
        return self._records

    def labels_of(self, ids) -> set[str]:
        ids = list(ids)
        by_id = {record.pk: label for label, record in self.records().items()}
        assert all(pk in by_id for pk in ids), "reports outside the world listed"
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
        assert self.labels_of(item["id"] for item in listing.json()["items"]) == REACH[scope], \
            self.describe("view", "list")
        for label, record in records.items():
            expected = 200 if label in REACH[scope] else 404
            response = self.get(f"{self.path}/{record.pk}")
            assert response.status_code == expected, (self.describe("view", label), response.content)

    def check_create(self, scope: str) -> None:
        from guanxi.analytics.models import Report

        response = self.post(self.path, {"name": "Created", "source": "customers", "definition": self.definition})
        created = Report.objects.filter(name="Created")
        if scope == NONE:
            assert response.status_code == 403 and not created.exists(), self.describe("create")
            return
        assert response.status_code == 201, (self.describe("create"), response.content)
        assert created.get().owner_id == self.world.actor.pk, self.describe("create")

    def check_change(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "change", 200)
            response = self.patch(f"{self.path}/{record.pk}", {"name": f"Changed {label}"})
            assert response.status_code == expected, (self.describe("change", label), response.content)
            record.refresh_from_db()
            assert (record.name == f"Changed {label}") == (expected == 200), self.describe("change", label)

    def check_delete(self, scope: str) -> None:
        from guanxi.analytics.models import Report

        for label, record in self.records().items():
            expected = self.expected_status(label, "delete", 204)
            response = self.delete(f"{self.path}/{record.pk}")
            assert response.status_code == expected, (self.describe("delete", label), response.content)
            assert Report.objects.filter(pk=record.pk).exists() == (expected != 204), self.describe("delete", label)

    def check_export(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "export", 200)
            response = self.get(f"{self.path}/{record.pk}/export", format="csv")
            assert response.status_code == expected, (self.describe("export", label), response.content)


@register("dashboard")
class DashboardChecker(ObjectChecker):
    """One dashboard per role (all or nothing); its figures count the reader's customers."""

    def check_view(self, scope: str) -> None:
        self.require_all_or_none(scope, "each role has one dashboard")
        self.world.contacts
        warehouse_refresh(actor=None)
        response = self.get("/api/v1/analytics/dashboard")
        if scope == NONE:
            assert response.status_code == 403, self.describe("view")
            return
        assert response.status_code == 200, (self.describe("view"), response.content)
        customers = dict(response.json()["kpis"])["Customers"]
        contact_scope = self.matrix.get((self.world.role, "contact", "view"), NONE)
        assert int(customers.replace(",", "")) == len(REACH[contact_scope]), self.describe("view")
