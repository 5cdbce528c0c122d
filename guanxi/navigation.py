"""The main menu, assembled from what each installed domain registers in its ``apps.py``.

A domain calls ``register(...)`` from ``AppConfig.ready``; the menu then shows it to the
users whose role may view its first object (checked against the access matrix).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavEntry:
    key: str            # stable id, also used by tests
    label: str          # lazy translated label
    url_name: str       # Django URL name
    object_name: str    # access-matrix object the user must be able to view
    order: int = 100


_ENTRIES: dict[str, NavEntry] = {}


def register(entry: NavEntry) -> None:
    _ENTRIES[entry.key] = entry


def entries() -> list[NavEntry]:
    return sorted(_ENTRIES.values(), key=lambda entry: (entry.order, entry.key))
