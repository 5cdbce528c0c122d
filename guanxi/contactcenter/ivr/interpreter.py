"""Running a checked IVR menu for one call: the caller's keys in, prompts and a routing decision out.

The interpreter is a small state machine with no telephony and no Django in it. The
telephony side (Twilio webhook, the built-in simulator, a test) feeds it what the
caller did and plays what it returns::

    session = IvrSession(menu, lookups, caller={"tier": "gold"})
    actions = session.start()                  # [Say(...), Gather(...)]
    actions = session.digits("1")              # the caller pressed 1
    actions = session.no_input()               # or the gather timed out
    if session.finished: session.result       # Enqueue / Transfer / Hangup

``session.state`` is a JSON-safe dict; ``IvrSession(menu, lookups, state=...)`` resumes
from it on the next request. Self-service lookups and PIN checks go through the
``Lookups`` interface, which the Django side implements with selectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from guanxi.contactcenter.ivr.definition import Menu, fill_in

MAX_STEPS = 200  # per request; the static check already refuses loops that never wait
DEFAULT_TIMEOUT = 5
DEFAULT_RETRIES = 2


# ======================================================================================
# What the interpreter asks of the outside world
# ======================================================================================
class Lookups(Protocol):
    def lookup(self, kind: str, key: str, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Self-service data for ``kind`` (account, balance, order_status, ticket_status)
        by the caller's ``key``: fields to merge into the captured data, or None if
        nothing was found."""

    def verify_pin(self, account_number: str, pin: str) -> bool:
        """Whether ``pin`` is the PIN of ``account_number``."""


class NoLookups:
    """Lookups for a menu without self-service: nothing is found, no PIN matches."""

    def lookup(self, kind: str, key: str, data: Mapping[str, Any]) -> None:
        return None

    def verify_pin(self, account_number: str, pin: str) -> bool:
        return False


# ======================================================================================
# What the interpreter tells the telephony side to do
# ======================================================================================
@dataclass(frozen=True)
class Say:
    text: str
    language: str


@dataclass(frozen=True)
class Gather:
    """Collect keys: up to ``max_digits`` (ending early on ``finish_on_key``), or report no input after ``timeout``."""

    node: str
    max_digits: int
    timeout: int
    finish_on_key: str
    prompt: tuple[Say, ...] = ()


@dataclass(frozen=True)
class Enqueue:
    queue: str | None
    skills: Mapping[str, int]
    priority: int
    reason: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Transfer:
    number: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Hangup:
    data: Mapping[str, Any]


Action = Say | Gather | Enqueue | Transfer | Hangup


class SessionFinished(RuntimeError):
    """Input arrived for a session that has already ended."""


@dataclass
class _State:
    node: str = ""
    attempts: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    language: str = ""
    finished: bool = False
    path: list[str] = field(default_factory=list)


class IvrSession:
    def __init__(self, menu: Menu, lookups: Lookups | None = None, *, caller: Mapping[str, Any] | None = None,
                 state: Mapping[str, Any] | None = None) -> None:
        self.menu = menu
        self.lookups = lookups or NoLookups()
        self.caller = dict(caller or {})
        self.result: Enqueue | Transfer | Hangup | None = None
        if state:
            self._state = _State(node=state["node"], attempts=int(state.get("attempts", 0)),
                                 data=dict(state.get("data", {})), language=state.get("language") or menu.language,
                                 finished=bool(state.get("finished")), path=list(state.get("path", [])))
            self.caller = dict(state.get("caller", self.caller))
        else:
            self._state = _State(language=self.caller.get("language") or menu.language)

    # ------------------------------------------------------------------ public

    @property
    def state(self) -> dict[str, Any]:
        return {"node": self._state.node, "attempts": self._state.attempts, "data": dict(self._state.data),
                "language": self._state.language, "finished": self._state.finished,
                "path": list(self._state.path), "caller": dict(self.caller)}

    @property
    def finished(self) -> bool:
        return self._state.finished

    @property
    def data(self) -> dict[str, Any]:
        return dict(self._state.data)

    @property
    def node_id(self) -> str:
        return self._state.node

    def start(self) -> list[Action]:
        if self._state.node:
            raise SessionFinished("the session has already started")
        return self._run(self.menu.start)

    def digits(self, keys: str) -> list[Action]:
        """The caller pressed ``keys`` (the finish key, if pressed, may be included)."""
        node = self._waiting_node()
        keys = (keys or "").strip()
        if not keys:
            return self.no_input()
        handler = {"menu": self._menu_input, "capture": self._capture_input, "pin_check": self._pin_input}
        return handler[node["type"]](node, keys)

    def no_input(self) -> list[Action]:
        """The gather timed out without a key."""
        node = self._waiting_node()
        return self._retry(node, node.get("timeout_say"))

    # ------------------------------------------------------------------ input nodes

    def _menu_input(self, node: Mapping[str, Any], keys: str) -> list[Action]:
        target = node["options"].get(keys[0])
        if target is None:
            return self._retry(node, node.get("invalid_say"))
        self._state.data.setdefault("choices", []).append(keys[0])
        return self._run(target)

    def _capture_input(self, node: Mapping[str, Any], keys: str) -> list[Action]:
        finish = node.get("finish_on_key", "#")
        value = keys[:-1] if finish and keys.endswith(finish) else keys
        if not value.isdigit() or not node.get("min_digits", 1) <= len(value) <= node["max_digits"]:
            return self._retry(node, node.get("invalid_say"))
        self._state.data[node["field"]] = value
        return self._run(node["next"])

    def _pin_input(self, node: Mapping[str, Any], keys: str) -> list[Action]:
        finish = node.get("finish_on_key", "#")
        pin = keys[:-1] if finish and keys.endswith(finish) else keys
        account_number = str(self._state.data.get(node.get("account_field", "account_number"), ""))
        if account_number and pin.isdigit() and self.lookups.verify_pin(account_number, pin):
            self._state.data["pin_verified"] = True
            return self._run(node["next"])
        self._state.data["pin_verified"] = False
        return self._retry(node, node.get("invalid_say"))

    def _retry(self, node: Mapping[str, Any], message) -> list[Action]:
        """Ask again, or give up along ``on_failure`` once the retries are spent."""
        self._state.attempts += 1
        if self._state.attempts > node.get("retries", DEFAULT_RETRIES):
            return self._run(node["on_failure"])
        actions: list[Action] = []
        if message:
            actions.append(self._say(message))
        actions.extend(self._prompt_and_gather(self._state.node, node))
        return actions

    # ------------------------------------------------------------------ running

    def _waiting_node(self) -> Mapping[str, Any]:
        if self._state.finished:
            raise SessionFinished("the IVR session has ended")
        if not self._state.node:
            raise SessionFinished("the IVR session has not started")
        return self.menu.node(self._state.node)

    def _run(self, node_id: str) -> list[Action]:
        actions: list[Action] = []
        for _step in range(MAX_STEPS):
            node = self.menu.node(node_id)
            self._state.node = node_id
            self._state.attempts = 0
            self._state.path.append(node_id)
            node_type = node["type"]
            if node_type in ("menu", "capture", "pin_check"):
                actions.extend(self._prompt_and_gather(node_id, node))
                return actions
            if "say" in node and node_type not in ("lookup",):
                actions.append(self._say(node["say"]))
            if node_type == "prompt":
                node_id = node["next"]
            elif node_type == "lookup":
                node_id = self._lookup(node, actions)
            elif node_type == "branch":
                node_id = self._branch(node)
            else:
                actions.append(self._finish(node))
                return actions
        # Unreachable for a checked menu (loops without input are refused); end safely.
        actions.append(self._finish({"type": "hangup"}))
        return actions

    def _prompt_and_gather(self, node_id: str, node: Mapping[str, Any]) -> list[Action]:
        node_type = node["type"]
        if node_type == "menu":
            max_digits = 1
            finish = ""
        else:
            max_digits = node.get("max_digits", 12)
            finish = node.get("finish_on_key", "#")
        # The prompt travels inside the gather, so the caller may key in while it plays.
        return [Gather(node=node_id, max_digits=max_digits, timeout=node.get("timeout", DEFAULT_TIMEOUT),
                       finish_on_key=finish, prompt=(self._say(node["say"]),))]

    def _lookup(self, node: Mapping[str, Any], actions: list[Action]) -> str:
        key = str(self._state.data.get(node["key_field"], ""))
        found = self.lookups.lookup(node["lookup"], key, dict(self._state.data)) if key else None
        if not found:
            self._state.data[f"{node['lookup']}_found"] = False
            if node.get("not_found_say"):
                actions.append(self._say(node["not_found_say"]))
            return node["on_not_found"]
        self._state.data[f"{node['lookup']}_found"] = True
        self._state.data.update({str(name): value for name, value in found.items()})
        if node.get("say"):
            actions.append(self._say(node["say"]))
        return node["next"]

    def _branch(self, node: Mapping[str, Any]) -> str:
        name = node["field"]
        if name.startswith("caller."):
            value = self.caller.get(name.removeprefix("caller."))
        else:
            value = self._state.data.get(name)
        if value is None:
            return node["default"]
        cases = {str(case).lower(): target for case, target in node["cases"].items()}
        return cases.get(str(value).lower(), node["default"])

    def _finish(self, node: Mapping[str, Any]) -> Enqueue | Transfer | Hangup:
        self._state.finished = True
        data = dict(self._state.data)
        node_type = node["type"]
        if node_type == "queue":
            priority = node.get("priority", 0)
            tier = str(self.caller.get("tier") or "")
            priority = max(priority, node.get("priority_by_tier", {}).get(tier, priority))
            result: Enqueue | Transfer | Hangup = Enqueue(
                queue=node.get("queue"), skills=dict(node.get("skills", {})), priority=priority,
                reason=node.get("reason", ""), data=data)
        elif node_type == "transfer":
            result = Transfer(number=node["number"], data=data)
        else:
            result = Hangup(data=data)
        self.result = result
        return result

    def _say(self, text) -> Say:
        language = self._state.language
        if isinstance(text, Mapping):
            chosen = text.get(language) or text.get(self.menu.language) or next(iter(text.values()))
            if language not in text:
                language = self.menu.language if self.menu.language in text else next(iter(text))
        else:
            chosen = text
        return Say(text=fill_in(chosen, {**self._state.data, **{f"caller_{key}": value for key, value in
                                                                  self.caller.items()}}),
                   language=language)
