"""Access-matrix checkers for the marketing objects (see ``guanxi/core/tests/access_checks.py``).

Every marketing record belongs to its owner; the team and territory scopes follow the
owner's team and territory. One checker class walks them all through the REST API: each
object only says where it lives, how to make one record per world label, and what a
create and a change look like.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from guanxi.core.tests.access_checks import LABELS, NONE, REACH, ObjectChecker, register
from guanxi.marketing import models


class OwnedMarketingChecker(ObjectChecker):
    """View, create, change and delete of an owned marketing record through the API."""

    path = ""
    model: type = models.Segment
    changed_field = "name"

    def __init__(self, world, matrix):
        super().__init__(world, matrix)
        self._records = None

    # --- per object ---
    def make(self, label: str, owner):
        raise NotImplementedError

    def create_body(self) -> dict:
        raise NotImplementedError

    # --- shared ---
    def records(self) -> dict:
        if self._records is None:
            self._records = {label: self.make(label, self.world.owners[label]) for label in LABELS}
        return self._records

    def labels_of(self, ids) -> set[str]:
        by_id = {record.pk: label for label, record in self.records().items()}
        ids = list(ids)
        assert all(pk in by_id for pk in ids), f"{self.object_name} outside the world listed"
        return {by_id[pk] for pk in ids}

    def check_view(self, scope: str) -> None:
        records = self.records()
        listing = self.get(self.path, limit=200)
        if scope == NONE:
            assert listing.status_code == 403, self.describe("view", "list")
            for label, record in records.items():
                assert self.get(f"{self.path}/{record.pk}").status_code == 403, self.describe("view", label)
            return
        assert listing.status_code == 200, (self.describe("view", "list"), listing.content)
        assert self.labels_of(item["id"] for item in listing.json()["items"]) == REACH[scope], \
            self.describe("view", "list")
        for label, record in records.items():
            expected = 200 if label in REACH[scope] else 404
            assert self.get(f"{self.path}/{record.pk}").status_code == expected, self.describe("view", label)

    def check_create(self, scope: str) -> None:
        before = self.model.objects.count()
        response = self.post(self.path, self.create_body())
        if scope == NONE:
            assert response.status_code == 403, (self.describe("create"), response.content)
            assert self.model.objects.count() == before, self.describe("create")
            return
        assert response.status_code == 201, (self.describe("create"), response.content)
        assert self.model.objects.get(pk=response.json()["id"]).owner_id == self.world.actor.pk, \
            self.describe("create")

    def check_change(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "change", 200)
            response = self.patch(f"{self.path}/{record.pk}", {self.changed_field: f"changed {label}"})
            assert response.status_code == expected, (self.describe("change", label), response.content)
            record.refresh_from_db()
            assert (getattr(record, self.changed_field) == f"changed {label}") == (expected == 200), \
                self.describe("change", label)

    def check_delete(self, scope: str) -> None:
        for label, record in self.records().items():
            expected = self.expected_status(label, "delete", 204)
            response = self.delete(f"{self.path}/{record.pk}")
            assert response.status_code == expected, (self.describe("delete", label), response.content)
            assert self.model.objects.filter(pk=record.pk).exists() == (expected != 204), \
                self.describe("delete", label)


@register("segment")
class SegmentChecker(OwnedMarketingChecker):
    path = "/api/v1/marketing/segments"
    model = models.Segment

    def make(self, label, owner):
        return models.Segment.objects.create(name=f"Matrix {label}", owner=owner)

    def create_body(self):
        return {"name": "Matrix new", "rules": {"type": "group", "match": "all", "rules": []}}


@register("message_template")
class MessageTemplateChecker(OwnedMarketingChecker):
    path = "/api/v1/marketing/templates"
    model = models.MessageTemplate

    def make(self, label, owner):
        return models.MessageTemplate.objects.create(name=f"Matrix {label}", owner=owner, subject_en="Hi",
                                                     body_en="<p>Hello {{ contact.given_name }}</p>")

    def create_body(self):
        return {"name": "Matrix new", "channel": "email", "subject_en": "Hi", "body_en": "<p>Hello</p>"}


@register("campaign")
class CampaignChecker(OwnedMarketingChecker):
    path = "/api/v1/marketing/campaigns"
    model = models.Campaign

    def make(self, label, owner):
        return models.Campaign.objects.create(name=f"Matrix {label}", owner=owner)

    def create_body(self):
        return {"name": "Matrix new", "channel": "email", "budget": "1000.00"}


@register("marketing_event")
class EventChecker(OwnedMarketingChecker):
    path = "/api/v1/marketing/events"
    model = models.Event

    def make(self, label, owner):
        return models.Event.objects.create(name=f"Matrix {label}", slug=f"matrix-{label}", starts_at=in_a_week(),
                                           owner=owner)

    def create_body(self):
        return {"name": "Matrix new", "starts_at": in_a_week().isoformat(), "capacity": 50}


@register("marketing_material")
class MaterialChecker(OwnedMarketingChecker):
    path = "/api/v1/marketing/materials"
    model = models.Material
    changed_field = "title"

    def make(self, label, owner):
        return models.Material.objects.create(title=f"Matrix {label}", owner=owner)

    def check_create(self, scope: str) -> None:
        """Materials are uploaded as multipart forms."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        before = self.model.objects.count()
        response = self.client.post(self.path, {"title": "Matrix new", "file": SimpleUploadedFile(
            "brochure.pdf", b"%PDF-1.4 matrix", content_type="application/pdf")})
        if scope == NONE:
            assert response.status_code == 403, (self.describe("create"), response.content)
            assert self.model.objects.count() == before, self.describe("create")
            return
        assert response.status_code == 201, (self.describe("create"), response.content)
        created = self.model.objects.get(pk=response.json()["id"])
        assert created.owner_id == self.world.actor.pk and created.current_version == 1, self.describe("create")


def in_a_week() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=7)
