"""Domain errors shared by services and selectors; views and the API map them to HTTP."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError  # noqa: F401  (re-exported)


class NotFound(Exception):
    """The record does not exist, or the actor may not know that it exists."""


class Conflict(Exception):
    """The record changed since the caller read it (optimistic locking) or a state rule refuses."""
