"""The IVR in plain Python: menus checked by schema and flow (each problem with its line),
and the interpreter — prompts, menus with retries and invalid input, digit capture, PIN
checks, self-service lookups, branches, queueing with priority and skills, transfer, hang
up — and the TwiML it exports."""

from __future__ import annotations

import pytest

from guanxi.contactcenter.ivr import (
    Enqueue, Gather, Hangup, IvrSession, MenuInvalid, Say, SessionFinished, Transfer, check_menu, parse_menu,
)
from guanxi.contactcenter.ivr.twiml import actions_to_twiml, menu_to_twiml

MENU = """name: Customer line
language: en
start: welcome
nodes:
  welcome:
    type: prompt
    say: {en: "Welcome to Guanxi Telecom.", zh-hans: "欢迎致电关系电信。"}
    next: main
  main:
    type: menu
    say: "For your balance press 1, for an order press 2, for an agent press 0."
    options: {"1": account, "2": order, "0": by_tier}
    retries: 2
    invalid_say: "That is not an option."
    timeout_say: "We did not hear you."
    on_failure: by_tier
  account:
    type: capture
    say: "Enter your account number, then the hash key."
    field: account_number
    min_digits: 6
    max_digits: 10
    retries: 1
    next: pin
    on_failure: by_tier
  pin:
    type: pin_check
    say: "Enter your PIN."
    next: balance
    on_failure: goodbye
  balance:
    type: lookup
    lookup: balance
    key_field: account_number
    say: "Your balance is {balance}."
    next: main
    on_not_found: by_tier
  order:
    type: capture
    say: "Enter the order number."
    field: order_number
    max_digits: 8
    next: order_status
    on_failure: by_tier
  order_status:
    type: lookup
    lookup: order_status
    key_field: order_number
    say: "Order {order_number} is {order_status}."
    not_found_say: "We could not find that order."
    next: goodbye
    on_not_found: by_tier
  by_tier:
    type: branch
    field: caller.tier
    cases: {gold: gold_line, platinum: gold_line}
    default: agents
  gold_line:
    type: queue
    queue: vip
    priority: 20
    skills: {billing: 5}
    reason: Gold customer
    say: "Connecting you to your personal team."
  agents:
    type: queue
    queue: billing
    priority_by_tier: {silver: 5}
    say: "Please hold."
  goodbye:
    type: hangup
    say: "Goodbye."
"""


class Lookups:
    def __init__(self):
        self.pins_tried = []

    def lookup(self, kind, key, data):
        if kind == "balance" and key == "60012345":
            return {"balance": "128.50 CNY"}
        if kind == "order_status" and key == "4711":
            return {"order_status": "shipped"}
        return None

    def verify_pin(self, account_number, pin):
        self.pins_tried.append((account_number, pin))
        return (account_number, pin) == ("60012345", "2468")


def texts(actions) -> list[str]:
    spoken = []
    for action in actions:
        if isinstance(action, Say):
            spoken.append(action.text)
        elif isinstance(action, Gather):
            spoken.extend(prompt.text for prompt in action.prompt)
    return spoken


@pytest.fixture
def menu():
    return parse_menu(MENU)


def test_balance_by_account_number_and_pin(menu):
    lookups = Lookups()
    session = IvrSession(menu, lookups)

    start = session.start()
    assert texts(start) == ["Welcome to Guanxi Telecom.",
                            "For your balance press 1, for an order press 2, for an agent press 0."]
    assert isinstance(start[-1], Gather) and start[-1].max_digits == 1
    asked = session.digits("1")
    assert asked[-1].finish_on_key == "#" and asked[-1].max_digits == 10
    session.digits("60012345#")
    told = session.digits("2468#")

    assert texts(told)[0] == "Your balance is 128.50 CNY."
    assert session.data["pin_verified"] is True and session.data["account_number"] == "60012345"
    assert "2468" not in str(session.state)  # the PIN is checked, never kept
    assert lookups.pins_tried == [("60012345", "2468")]
    assert session.node_id == "main" and not session.finished


def test_invalid_keys_and_silence_are_retried_then_the_failure_branch_is_taken(menu):
    session = IvrSession(menu, Lookups(), caller={"tier": "bronze"})
    session.start()

    first = session.digits("7")
    second = session.no_input()
    third = session.digits("*")

    assert texts(first)[0] == "That is not an option." and isinstance(first[-1], Gather)
    assert texts(second)[0] == "We did not hear you."
    assert session.finished and isinstance(session.result, Enqueue) and session.result.queue == "billing"
    assert texts(third)[-1] == "Please hold."


def test_a_too_short_account_number_is_asked_again(menu):
    session = IvrSession(menu, Lookups())
    session.start()
    session.digits("1")

    again = session.digits("123#")

    assert isinstance(again[-1], Gather) and session.node_id == "account"
    assert "account_number" not in session.data


def test_a_wrong_pin_three_times_hangs_up(menu):
    session = IvrSession(menu, Lookups())
    session.start()
    session.digits("1")
    session.digits("60012345#")
    for _attempt in range(3):
        actions = session.digits("0000#")

    assert session.finished and isinstance(session.result, Hangup)
    assert texts(actions)[-1] == "Goodbye." and session.data["pin_verified"] is False


def test_order_status_lookup_and_not_found(menu):
    found = IvrSession(menu, Lookups())
    found.start()
    found.digits("2")
    spoken = texts(found.digits("4711#"))
    assert spoken[:2] == ["Order 4711 is shipped.", "Goodbye."] and isinstance(found.result, Hangup)

    missing = IvrSession(menu, Lookups())
    missing.start()
    missing.digits("2")
    spoken = texts(missing.digits("9999#"))
    assert spoken[0] == "We could not find that order."
    assert isinstance(missing.result, Enqueue) and missing.data["order_status_found"] is False


def test_gold_callers_queue_with_priority_and_skills(menu):
    session = IvrSession(menu, Lookups(), caller={"tier": "gold"})
    session.start()

    actions = session.digits("0")

    result = session.result
    assert (result.queue, result.priority, dict(result.skills), result.reason) == ("vip", 20, {"billing": 5},
                                                                                  "Gold customer")
    assert actions[-1] is result


def test_priority_by_tier_on_a_shared_queue(menu):
    session = IvrSession(menu, Lookups(), caller={"tier": "silver"})
    session.start()
    session.digits("0")
    assert (session.result.queue, session.result.priority) == ("billing", 5)


def test_the_session_resumes_from_its_stored_state(menu):
    first = IvrSession(menu, Lookups(), caller={"tier": "gold", "language": "zh-hans"})
    opening = first.start()
    first.digits("1")
    resumed = IvrSession(menu, Lookups(), state=first.state)

    resumed.digits("60012345#")

    assert opening[0].language == "zh-hans" and opening[0].text == "欢迎致电关系电信。"
    assert resumed.node_id == "pin" and resumed.data["account_number"] == "60012345"
    assert resumed.caller == {"tier": "gold", "language": "zh-hans"}


def test_input_after_the_end_is_refused(menu):
    session = IvrSession(menu, Lookups())
    session.start()
    session.digits("0")
    with pytest.raises(SessionFinished):
        session.digits("1")


def test_transfer_node():
    menu = parse_menu("start: out\nnodes:\n  out: {type: transfer, number: '+86 21 8888 6666', say: Transferring}\n")
    session = IvrSession(menu)
    actions = session.start()
    assert isinstance(session.result, Transfer) and session.result.number == "+86 21 8888 6666"
    assert "<Dial>+86 21 8888 6666</Dial>" in actions_to_twiml(actions, action_url="/hook")


# ======================================================================================
# Checking menus
# ======================================================================================
def problems(source: str) -> list[tuple[int | None, str]]:
    return [(problem.line, problem.code) for problem in check_menu(source)]


def test_a_good_menu_has_no_problems():
    assert check_menu(MENU) == []


def test_unreachable_nodes_and_missing_branches_are_refused_with_their_lines():
    source = """start: main
nodes:
  main:
    type: menu
    say: "Press 1"
    options: {"1": billing, "2": sales}
    on_failure: nowhere
  billing: {type: queue, queue: billing}
  forgotten: {type: hangup}
"""
    found = problems(source)

    assert (6, "missing_target") in found  # "2" → sales
    assert (7, "missing_target") in found  # on_failure → nowhere
    assert (9, "unreachable") in found
    with pytest.raises(MenuInvalid) as raised:
        parse_menu(source)
    messages = [problem.message for problem in raised.value.problems]
    assert "“options.2” of node “main” goes to “sales”, which is not defined." in messages
    assert "Node “forgotten” cannot be reached from the start node." in messages


def test_schema_errors_name_the_field_and_line():
    source = """start: a
nodes:
  a:
    type: capture
    say: "Account?"
    field: Account Number
    max_digits: 40
    colour: red
    next: a
"""
    found = problems(source)
    assert (6, "pattern") in found                 # field names are lower_case
    assert (7, "range") in found                   # max_digits up to 30
    assert (8, "unknown_field") in found
    assert (3, "required") in found                # on_failure is missing


def test_syntax_errors_duplicate_nodes_loops_and_a_missing_start():
    assert problems("start: [a\n") == [(2, "syntax")]
    assert problems('{"start": "a", "nodes": {"a": {"type": "hangup"},}}')[0][1] == "syntax"
    assert (4, "duplicate_key") in problems("start: a\nnodes:\n  a: {type: hangup}\n  a: {type: hangup}\n")
    assert problems("start: a\nnodes:\n  a: {type: prompt, say: x, next: b}\n  b: {type: prompt, say: y, "
                    "next: a}\n") == [(3, "loop_without_input")]
    assert problems("start: nope\nnodes:\n  a: {type: hangup}\n") == [(1, "unknown_start")]
    assert problems("- just\n- a list\n") == [(1, "not_mapping")]


def test_json_menus_are_accepted():
    source = '{"start": "bye", "nodes": {"bye": {"type": "hangup", "say": "Bye"}}}'
    assert check_menu(source) == []
    assert isinstance(IvrSession(parse_menu(source)).start()[-1], Hangup)


# ======================================================================================
# TwiML
# ======================================================================================
def test_the_menu_exports_to_twiml_with_gathers_posting_back(menu):
    twiml = menu_to_twiml(menu, action_url="https://crm.example.com/contact-center/twilio/voice/")

    assert twiml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    assert '<Say language="en-US">Welcome to Guanxi Telecom.</Say>' in twiml
    assert ('<Gather action="https://crm.example.com/contact-center/twilio/voice/?node=main" finishOnKey="" '
            'input="dtmf" method="POST" numDigits="1" timeout="5">') in twiml
    assert ("<Redirect method=\"POST\">https://crm.example.com/contact-center/twilio/voice/?node=main&amp;"
            "timeout=1</Redirect>") in twiml


def test_queueing_and_hanging_up_in_twiml(menu):
    session = IvrSession(menu, caller={"tier": "gold"})
    session.start()
    queued = actions_to_twiml(session.digits("0"), action_url="/hook", wait_url="/hold-music")
    assert '<Enqueue waitUrl="/hold-music">vip</Enqueue>' in queued

    ended = actions_to_twiml([Say("再见", "zh-hans"), Hangup(data={})], action_url="/hook")
    assert '<Say language="cmn-CN">再见</Say><Hangup /></Response>' in ended
