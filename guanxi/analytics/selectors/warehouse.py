"""Reads about the warehouse itself: is it built, when was it refreshed, what it holds."""

from __future__ import annotations

from dataclasses import dataclass

from guanxi.analytics import warehouse
from guanxi.core.access import can
from guanxi.core.errors import PermissionDenied
from guanxi.core.models import User


@dataclass
class WarehouseTable:
    name: str
    rows: int
    mode: str
    watermark: str | None
    loaded_at: object


@dataclass
class WarehouseStatus:
    engine: str
    built: bool
    info: dict
    tables: list[WarehouseTable]


def warehouse_status(actor: User) -> WarehouseStatus:
    if not can(actor, "warehouse", "view"):
        raise PermissionDenied(f"{getattr(actor, 'role', '?')} may not view the warehouse")
    store = warehouse.store()
    info = store.info()
    tables = [WarehouseTable(name, int(rows or 0), mode, mark, loaded)
              for name, mark, loaded, rows, mode in store.table_states()]
    return WarehouseStatus(store.vendor, bool(info), info, tables)
