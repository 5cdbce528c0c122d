"""Panels that domains add to the pages core shows: a customer's 360° page and the home
dashboard.

Core must not import the domains built on it (STYLE: a domain imports only its
dependencies), yet the 360° page shows the interaction timeline, and later the
opportunities, cases and orders of the customer. Each domain therefore registers a
panel from its ``AppConfig.ready``, the same way it registers its menu entries in
``guanxi.navigation``::

    record_panels.register(record_panels.Panel(
        key="timeline", target="contact", order=10,
        template_name="interactions/panels/contact_timeline.html",
        context="guanxi.interactions.views.contact_timeline_panel"))

``context`` names a function ``(request, record) -> dict | None``; it reads through the
domain's selectors (with their access checks) and returns ``None`` to hide the panel,
e.g. when the user's role may not see that kind of object.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.module_loading import import_string

TARGETS = ("contact", "account", "home")


@dataclass(frozen=True)
class Panel:
    key: str             # stable id, also the HTML id of the panel
    target: str          # "contact" or "account" (360° pages) or "home" (dashboard)
    template_name: str   # rendered with ``panel`` = the dict returned by ``context``
    context: str         # dotted path of ``(request, record) -> dict | None``
    order: int = 100


@dataclass(frozen=True)
class RenderedPanel:
    key: str
    template_name: str
    context: dict


_PANELS: dict[tuple[str, str], Panel] = {}


def register(panel: Panel) -> None:
    if panel.target not in TARGETS:
        raise ValueError(f"unknown panel target {panel.target!r}; use one of {TARGETS}")
    _PANELS[(panel.target, panel.key)] = panel


def panels_for(target: str) -> list[Panel]:
    return sorted((panel for (panel_target, _key), panel in _PANELS.items() if panel_target == target),
                  key=lambda panel: (panel.order, panel.key))


def render_panels(target: str, request, record=None) -> list[RenderedPanel]:
    """The panels of ``target`` that have something to show to this user."""
    rendered = []
    for panel in panels_for(target):
        context = import_string(panel.context)(request, record)
        if context is not None:
            rendered.append(RenderedPanel(panel.key, panel.template_name, context))
    return rendered
