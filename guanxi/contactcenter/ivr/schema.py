"""The JSON Schema every IVR menu must satisfy (YAML menus are checked as the JSON they load to).

A menu is a set of named nodes and the node the call starts at::

    name: Customer line
    language: zh-hans          # default language of the prompts (en or zh-hans)
    start: welcome
    nodes:
      welcome: {type: prompt, say: "Welcome to Guanxi Telecom.", next: main}
      main:
        type: menu
        say: {en: "For billing press 1, for an agent press 0.", zh-hans: "账单查询请按1，人工服务请按0。"}
        options: {"1": account, "0": agent}
        on_failure: agent
      account: {type: capture, say: "Enter your account number, then the hash key.", field: account_number,
                min_digits: 6, max_digits: 12, next: agent, on_failure: agent}
      agent: {type: queue, queue: billing, say: "Please hold."}

Node types: ``prompt`` (say, then go on), ``menu`` (one key chooses a branch),
``capture`` (digits into a field), ``pin_check`` (digits checked against the account's
PIN, never stored), ``lookup`` (self-service: account, balance, order or ticket status),
``branch`` (on a captured or caller field), ``queue`` (to an agent queue, with priority
and skills), ``transfer`` (to an outside number) and ``hangup``.
"""

from __future__ import annotations

NODE_ID = r"^[A-Za-z][A-Za-z0-9_\-]{0,59}$"
FIELD_NAME = r"^[a-z][a-z0-9_]{0,39}$"
LANGUAGES = ("en", "zh-hans")
LOOKUP_KINDS = ("account", "balance", "order_status", "ticket_status")

_TEXT = {
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": 1000},
        {
            "type": "object",
            "propertyNames": {"enum": list(LANGUAGES)},
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 1000},
            "minProperties": 1,
        },
    ]
}
_TARGET = {"type": "string", "pattern": NODE_ID}
_SECONDS = {"type": "integer", "minimum": 1, "maximum": 60}
_RETRIES = {"type": "integer", "minimum": 0, "maximum": 9}
_COMMON = {"type": {}, "say": _TEXT, "description": {"type": "string", "maxLength": 500}}
_INPUT = {"timeout": _SECONDS, "retries": _RETRIES, "invalid_say": _TEXT, "timeout_say": _TEXT}


def _node(type_name: str, required: list[str], properties: dict) -> dict:
    return {
        "type": "object",
        "properties": {**_COMMON, "type": {"const": type_name}, **properties},
        "required": ["type", *required],
        "additionalProperties": False,
    }


NODE_SCHEMAS: dict[str, dict] = {
    "prompt": _node("prompt", ["say", "next"], {"next": _TARGET}),
    "menu": _node("menu", ["say", "options", "on_failure"], {
        **_INPUT,
        "options": {
            "type": "object",
            "propertyNames": {"pattern": r"^[0-9*#]$"},
            "additionalProperties": _TARGET,
            "minProperties": 1,
        },
        "on_failure": _TARGET,
    }),
    "capture": _node("capture", ["say", "field", "max_digits", "next", "on_failure"], {
        **_INPUT,
        "field": {"type": "string", "pattern": FIELD_NAME},
        "min_digits": {"type": "integer", "minimum": 1, "maximum": 30},
        "max_digits": {"type": "integer", "minimum": 1, "maximum": 30},
        "finish_on_key": {"enum": ["#", "*", ""]},
        "next": _TARGET,
        "on_failure": _TARGET,
    }),
    "pin_check": _node("pin_check", ["say", "next", "on_failure"], {
        **_INPUT,
        "account_field": {"type": "string", "pattern": FIELD_NAME},
        "max_digits": {"type": "integer", "minimum": 4, "maximum": 12},
        "finish_on_key": {"enum": ["#", "*", ""]},
        "next": _TARGET,
        "on_failure": _TARGET,
    }),
    "lookup": _node("lookup", ["lookup", "key_field", "next", "on_not_found"], {
        "lookup": {"enum": list(LOOKUP_KINDS)},
        "key_field": {"type": "string", "pattern": FIELD_NAME},
        "next": _TARGET,
        "on_not_found": _TARGET,
        "not_found_say": _TEXT,
    }),
    "branch": _node("branch", ["field", "cases", "default"], {
        "field": {"type": "string", "pattern": r"^(caller\.)?[a-z][a-z0-9_]{0,39}$"},
        "cases": {
            "type": "object",
            "propertyNames": {"minLength": 1, "maxLength": 60},
            "additionalProperties": _TARGET,
            "minProperties": 1,
        },
        "default": _TARGET,
    }),
    "queue": _node("queue", [], {
        "queue": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_\-]{0,39}$"},
        "skills": {
            "type": "object",
            "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9_\-]{0,39}$"},
            "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 10},
            "minProperties": 1,
        },
        "priority": {"type": "integer", "minimum": 0, "maximum": 100},
        "priority_by_tier": {
            "type": "object",
            "propertyNames": {"enum": ["platinum", "gold", "silver", "bronze"]},
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
        },
        "reason": {"type": "string", "minLength": 1, "maxLength": 120},
    }),
    "transfer": _node("transfer", ["number"], {
        "number": {"type": "string", "pattern": r"^\+?[0-9][0-9 \-]{2,30}$"},
    }),
    "hangup": _node("hangup", [], {}),
}

MENU_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Guanxi IVR menu",
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "language": {"enum": list(LANGUAGES)},
        "start": _TARGET,
        "nodes": {
            "type": "object",
            "propertyNames": {"pattern": NODE_ID},
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": sorted(NODE_SCHEMAS)}},
                # The node's own schema is chosen by its type, so errors name the right fields.
                "allOf": [
                    {"if": {"properties": {"type": {"const": name}}, "required": ["type"]}, "then": schema}
                    for name, schema in NODE_SCHEMAS.items()
                ],
            },
        },
    },
    "required": ["start", "nodes"],
    "additionalProperties": False,
}

# Which fields of each node type name another node: the menu's edges.
TARGET_FIELDS = {
    "prompt": ("next",),
    "menu": ("on_failure",),
    "capture": ("next", "on_failure"),
    "pin_check": ("next", "on_failure"),
    "lookup": ("next", "on_not_found"),
    "branch": ("default",),
    "queue": (),
    "transfer": (),
    "hangup": (),
}
# Nodes that wait for the caller's keys; a loop through none of them would never end.
INPUT_TYPES = frozenset({"menu", "capture", "pin_check"})
TERMINAL_TYPES = frozenset({"queue", "transfer", "hangup"})
