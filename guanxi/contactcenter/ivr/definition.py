"""Reading an IVR menu: YAML or JSON text → a checked ``Menu``, or the problems, each with its line.

Checking runs in three steps; every problem of the first step that finds any is reported,
not only the first one:

1. syntax (YAML or JSON), with duplicate keys refused (YAML would keep the last silently);
2. the JSON Schema of ``schema.MENU_SCHEMA``;
3. the flow itself: the start node and every branch target exist, every node can be
   reached from the start, digit ranges make sense, and no loop can run without waiting
   for the caller.

A ``Problem`` carries a ``code`` and ``params`` besides its English ``message`` so that the
web editor can show it in the user's language.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from guanxi.contactcenter.ivr.schema import (
    INPUT_TYPES, MENU_SCHEMA, NODE_SCHEMAS, TARGET_FIELDS, TERMINAL_TYPES,
)

_VALIDATOR = Draft202012Validator(MENU_SCHEMA)
DEFAULT_LANGUAGE = "zh-hans"

MESSAGES = {
    "syntax": "The text is not valid YAML or JSON: {detail}",
    "not_mapping": "A menu is a mapping with “start” and “nodes”.",
    "duplicate_key": "“{key}” appears twice here.",
    "required": "“{field}” is missing.",
    "unknown_field": "“{field}” is not a field of this {where}.",
    "type": "Expected {expected} here.",
    "enum": "Use one of: {allowed}.",
    "const": "Must be {allowed}.",
    "pattern": "“{value}” is not allowed here.",
    "range": "{value} is outside {minimum}…{maximum}.",
    "length": "Too short or too long.",
    "empty": "Must not be empty.",
    "text": "Expected text, or text per language (en, zh-hans).",
    "invalid": "Invalid value.",
    "unknown_start": "The start node “{node}” is not defined.",
    "missing_target": "“{field}” of node “{node}” goes to “{target}”, which is not defined.",
    "unreachable": "Node “{node}” cannot be reached from the start node.",
    "digits_range": "min_digits ({minimum}) is larger than max_digits ({maximum}).",
    "loop_without_input": "Nodes {nodes} form a loop that never waits for the caller.",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a menu: where (``line``, 1-based; ``path`` in the data) and what."""

    code: str
    line: int | None = None
    path: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return MESSAGES.get(self.code, MESSAGES["invalid"]).format(**{key: _show(value) for key, value in
                                                                    self.params.items()})

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return where + self.message


class MenuInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class Menu:
    """A checked menu. ``nodes`` are the node mappings as written; ``lines`` where each starts."""

    name: str
    language: str
    start: str
    nodes: Mapping[str, Mapping[str, Any]]
    lines: Mapping[str, int]

    def node(self, node_id: str) -> Mapping[str, Any]:
        return self.nodes[node_id]

    def targets(self, node_id: str) -> list[tuple[str, str]]:
        """(field, target) of every edge leaving ``node_id``."""
        return _targets(self.nodes[node_id])

    def queues(self) -> set[str]:
        return {node["queue"] for node in self.nodes.values() if node.get("type") == "queue" and "queue" in node}

    def skills(self) -> set[str]:
        return {skill for node in self.nodes.values() if node.get("type") == "queue"
                for skill in node.get("skills", {})}


def parse_menu(source: str) -> Menu:
    """The checked menu, or ``MenuInvalid`` listing every problem."""
    data, tree, problems = _load(source)
    if problems:
        raise MenuInvalid(problems)
    problems = _schema_problems(data, tree)
    if not problems:
        problems = _flow_problems(data, tree)
    if problems:
        raise MenuInvalid(sorted(problems, key=lambda problem: (problem.line or 0, problem.path)))
    lines = {node_id: _line_of(tree, ("nodes", node_id), key=True) or 1 for node_id in data["nodes"]}
    return Menu(name=data.get("name", ""), language=data.get("language", DEFAULT_LANGUAGE), start=data["start"],
                nodes=data["nodes"], lines=lines)


def line_in(source: str, path: tuple[str, ...]) -> int | None:
    """The line (1-based) of ``path`` in a menu's text, for problems found outside this module."""
    try:
        tree = yaml.compose(source or "", Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    return _line_of(tree, tuple(str(part) for part in path))


def check_menu(source: str) -> list[Problem]:
    try:
        parse_menu(source)
    except MenuInvalid as invalid:
        return invalid.problems
    return []


# ======================================================================================
# Step 1: syntax
# ======================================================================================
def _load(source: str) -> tuple[Any, yaml.Node | None, list[Problem]]:
    text = source or ""
    if text.lstrip().startswith("{"):
        try:
            json.loads(text)
        except json.JSONDecodeError as error:
            return None, None, [Problem("syntax", error.lineno, params={"detail": error.msg})]
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        detail = error.problem or str(error)
        return None, None, [Problem("syntax", mark.line + 1 if mark else None, params={"detail": detail})]
    except yaml.YAMLError as error:
        return None, None, [Problem("syntax", params={"detail": str(error)})]
    if not isinstance(data, dict) or not isinstance(tree, yaml.MappingNode):
        return None, None, [Problem("not_mapping", 1)]
    duplicates = list(_duplicate_keys(tree, ()))
    return data, tree, duplicates


def _duplicate_keys(node: yaml.Node, path: tuple[str, ...]):
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                yield Problem("duplicate_key", key_node.start_mark.line + 1, path + (key,), {"key": key})
            seen.add(key)
            yield from _duplicate_keys(value_node, path + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, path + (str(index),))


def _child(node: yaml.Node | None, key: str) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(key node, value node) of ``key`` in a mapping node."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == key:
                return key_node, value_node
    elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
        return None, node.value[int(key)]
    return None, None


def _line_of(tree: yaml.Node | None, path: tuple[str, ...], *, key: bool = False) -> int | None:
    """Line (1-based) of the value at ``path``, or of its key with ``key``; the deepest
    line found when the path stops early."""
    node = tree
    line = tree.start_mark.line + 1 if tree is not None else None
    for index, part in enumerate(path):
        key_node, value_node = _child(node, str(part))
        if value_node is None:
            return line
        last = index == len(path) - 1
        mark_node = key_node if (last and key and key_node is not None) else value_node
        line = mark_node.start_mark.line + 1
        if not last and key_node is not None:
            line = key_node.start_mark.line + 1
        node = value_node
    return line


# ======================================================================================
# Step 2: the schema
# ======================================================================================
def _schema_problems(data: Any, tree: yaml.Node) -> list[Problem]:
    problems = []
    for error in _VALIDATOR.iter_errors(data):
        path = tuple(str(part) for part in error.absolute_path)
        problems.extend(_describe_schema_error(error, path, tree))
    unique = {(problem.code, problem.line, problem.path, tuple(sorted(problem.params.items()))): problem
              for problem in problems}
    return list(unique.values())


def _describe_schema_error(error, path: tuple[str, ...], tree: yaml.Node) -> list[Problem]:
    keyword = error.validator
    line = _line_of(tree, path)
    if keyword == "required":
        # Reported where the mapping that lacks it is named (e.g. the node's key).
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        return [Problem("required", _line_of(tree, path, key=True), path, {"field": name}) for name in missing]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        where = "node" if len(path) == 2 and path[0] == "nodes" else "mapping"
        if len(path) == 2 and path[0] == "nodes":
            node_type = error.instance.get("type")
            where = f"“{node_type}” node" if node_type in NODE_SCHEMAS else "node"
        elif not path:
            where = "menu"
        return [Problem("unknown_field", _line_of(tree, path + (name,), key=True), path + (name,),
                        {"field": name, "where": where})
                for name in sorted(error.instance) if name not in allowed]
    if keyword == "type":
        expected = error.validator_value
        names = {"string": "text", "integer": "a whole number", "object": "a mapping", "array": "a list",
                 "number": "a number", "boolean": "true or false"}
        if isinstance(expected, list):
            expected_text = " or ".join(names.get(item, item) for item in expected)
        else:
            expected_text = names.get(expected, expected)
        return [Problem("type", line, path, {"expected": expected_text})]
    if keyword == "enum":
        return [Problem("enum", line, path, {"allowed": list(error.validator_value)})]
    if keyword == "const":
        return [Problem("const", line, path, {"allowed": error.validator_value})]
    if keyword == "propertyNames":
        # The bad name is in the failing sub-error's instance.
        name = str(error.instance) if not isinstance(error.instance, dict) else ""
        bad = [str(key) for key in (error.instance if isinstance(error.instance, dict) else {})
               if _fails(error.validator_value, key)]
        return [Problem("pattern", _line_of(tree, path + (key,), key=True), path + (key,), {"value": key})
                for key in bad] or [Problem("pattern", line, path, {"value": name})]
    if keyword == "pattern":
        return [Problem("pattern", line, path, {"value": error.instance})]
    if keyword in ("minimum", "maximum"):
        schema = error.schema
        return [Problem("range", line, path, {"value": error.instance, "minimum": schema.get("minimum", "…"),
                                              "maximum": schema.get("maximum", "…")})]
    if keyword in ("minLength", "maxLength"):
        return [Problem("length", line, path)]
    if keyword == "minProperties":
        return [Problem("empty", line, path)]
    if keyword == "oneOf":
        return [Problem("text", line, path)]
    return [Problem("invalid", line, path)]


def _fails(schema: dict, value: str) -> bool:
    return any(True for _ in Draft202012Validator(schema).iter_errors(value))


# ======================================================================================
# Step 3: the flow
# ======================================================================================
def _targets(node: Mapping[str, Any]) -> list[tuple[str, str]]:
    node_type = node.get("type")
    edges = [(name, node[name]) for name in TARGET_FIELDS.get(node_type, ()) if name in node]
    if node_type == "menu":
        edges += [(f"options.{key}", target) for key, target in node.get("options", {}).items()]
    if node_type == "branch":
        edges += [(f"cases.{key}", target) for key, target in node.get("cases", {}).items()]
    return edges


def _flow_problems(data: dict, tree: yaml.Node) -> list[Problem]:
    nodes: dict[str, dict] = data["nodes"]
    problems: list[Problem] = []
    start = data["start"]
    if start not in nodes:
        problems.append(Problem("unknown_start", _line_of(tree, ("start",)), ("start",), {"node": start}))
    for node_id, node in nodes.items():
        for field_name, target in _targets(node):
            if target not in nodes:
                path = ("nodes", node_id, *field_name.split("."))
                problems.append(Problem("missing_target", _line_of(tree, path), path,
                                        {"node": node_id, "field": field_name, "target": target}))
        if node.get("type") == "capture" and node.get("min_digits", 1) > node["max_digits"]:
            path = ("nodes", node_id, "min_digits")
            problems.append(Problem("digits_range", _line_of(tree, path), path,
                                    {"minimum": node.get("min_digits", 1), "maximum": node["max_digits"]}))
    if start in nodes:
        reached = _reachable(nodes, start)
        for node_id in nodes:
            if node_id not in reached:
                path = ("nodes", node_id)
                problems.append(Problem("unreachable", _line_of(tree, path, key=True), path, {"node": node_id}))
        for cycle in _loops_without_input(nodes, reached):
            path = ("nodes", cycle[0])
            problems.append(Problem("loop_without_input", _line_of(tree, path, key=True), path,
                                    {"nodes": cycle}))
    return problems


def _reachable(nodes: dict[str, dict], start: str) -> set[str]:
    reached = {start}
    pending = [start]
    while pending:
        for _field_name, target in _targets(nodes[pending.pop()]):
            if target in nodes and target not in reached:
                reached.add(target)
                pending.append(target)
    return reached


def _loops_without_input(nodes: dict[str, dict], reached: set[str]) -> list[list[str]]:
    """Cycles among nodes that never wait for input (prompt, lookup, branch): each one
    found once, as the list of its nodes."""
    passive = {node_id for node_id in reached
               if nodes[node_id]["type"] not in INPUT_TYPES and nodes[node_id]["type"] not in TERMINAL_TYPES}
    edges = {node_id: [target for _field, target in _targets(nodes[node_id]) if target in passive]
             for node_id in passive}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in sorted(passive):
        if state.get(root):
            continue
        stack = [(root, iter(edges[root]))]
        path = [root]
        state[root] = 1
        while stack:
            node_id, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node_id] = 2
            elif state.get(child) == 1:
                cycles.append(path[path.index(child):])
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(edges[child])))
    return cycles


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(f"“{item}”" if isinstance(item, str) else str(item) for item in value)
    return str(value)


_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,39})\}")


def fill_in(template: str, values: Mapping[str, Any]) -> str:
    """``{field}`` placeholders replaced by captured values (unknown ones by nothing).

    A regular expression, not ``str.format``: a menu author must not reach attributes
    such as ``{field.__class__}``.
    """
    return _PLACEHOLDER.sub(lambda match: str(values.get(match.group(1), "")), template)
