"""Access-matrix checker for background jobs (see ``guanxi/core/tests/access_checks.py``).

A job belongs to whoever started it; team and territory scopes follow that user's team
and territory.
"""

from __future__ import annotations

import pytest

from guanxi.core.errors import PermissionDenied
from guanxi.core.tests.access_checks import LABELS, NONE, REACH, ObjectChecker, later, register
from guanxi.jobs import services
from guanxi.jobs.models import Job, JobState
from guanxi.jobs.registry import job_handler

MATRIX_JOB = "tests.access_matrix"


@job_handler(MATRIX_JOB)
def matrix_job(job, progress):
    return {"done": True}


@register("job")
class JobChecker(ObjectChecker):
    path = "/api/v1/jobs"

    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        self._records = None

    def records(self) -> dict[str, Job]:
        """One queued job per label, started by that label's owner (scheduled for later, so
        it stays queued and can be cancelled)."""
        if self._records is None:
            self._records = {label: services.job_enqueue(actor=None, kind=MATRIX_JOB, run_at=later())
                             for label in LABELS}
            for label, job in self._records.items():
                Job.objects.filter(pk=job.pk).update(created_by=self.world.owners[label])
        return self._records

    def labels_of(self, ids) -> set[str]:
        ids = list(ids)
        by_id = {record.pk: label for label, record in self.records().items()}
        assert all(pk in by_id for pk in ids), "jobs outside the world listed"
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
        """Jobs are started by the features that need them, all through ``job_enqueue``."""
        if scope == NONE:
            with pytest.raises(PermissionDenied):
                services.job_enqueue(actor=self.world.actor, kind=MATRIX_JOB)
            assert not Job.objects.filter(created_by=self.world.actor).exists(), self.describe("create")
            return
        job = services.job_enqueue(actor=self.world.actor, kind=MATRIX_JOB)
        job.refresh_from_db()
        assert job.created_by_id == self.world.actor.pk and job.state == JobState.SUCCEEDED, self.describe("create")

    def check_change(self, scope: str) -> None:
        """Changing a job means cancelling it."""
        for label, record in self.records().items():
            expected = self.expected_status(label, "change", 200)
            response = self.post(f"{self.path}/{record.pk}/cancel", {})
            assert response.status_code == expected, (self.describe("change", label), response.content)
            state = Job.objects.get(pk=record.pk).state
            assert state == (JobState.CANCELLED if expected == 200 else JobState.QUEUED), \
                self.describe("change", label)
