"""The ``guanxi`` command: a thin front for Django management commands.

``guanxi serve``, ``guanxi migrate``, ``guanxi createuser``, ``guanxi demo-data``,
``guanxi import``, ``guanxi export``, ``guanxi worker`` … Names with dashes map to the
management command with underscores; ``import``/``export`` map to ``import_data`` /
``export_data`` (``import`` is a Python keyword).
"""

from __future__ import annotations

import os
import sys

ALIASES = {"import": "import_data", "export": "export_data", "worker": "run_huey"}

# Commands served by plain-Python engines: they start without Django, so an analyst's
# `guanxi erlang …` or `guanxi clv fit …` answers in a fraction of a second.
ENGINE_COMMANDS = {
    "erlang": "guanxi.contactcenter.commands:erlang_main",
    "acd": "guanxi.contactcenter.commands:acd_main",
    "clv": "guanxi.analytics.commands:clv_main",
    "rfm": "guanxi.analytics.commands:rfm_main",
}


def _run_engine_command(target: str, arguments: list[str]) -> int:
    import importlib

    module_name, function_name = target.split(":")
    return int(getattr(importlib.import_module(module_name), function_name)(arguments) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and argv[1] in ENGINE_COMMANDS:
        return _run_engine_command(ENGINE_COMMANDS[argv[1]], argv[2:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
    if len(argv) > 1 and not argv[1].startswith("-"):
        name = argv[1]
        argv[1] = ALIASES.get(name, name.replace("-", "_"))
    argv[0] = "guanxi"
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
