"""The IVR: menus written in YAML or JSON, checked by a JSON Schema and a flow check, run by a
plain-Python interpreter (no Django) and exported to TwiML.

See ``schema`` for the menu format, ``definition`` for checking, ``interpreter`` for running
a call through a menu and ``twiml`` for Twilio.
"""

from guanxi.contactcenter.ivr.definition import Menu, MenuInvalid, Problem, check_menu, parse_menu
from guanxi.contactcenter.ivr.interpreter import (
    Action, Enqueue, Gather, Hangup, IvrSession, Lookups, NoLookups, Say, SessionFinished, Transfer,
)
from guanxi.contactcenter.ivr.schema import LOOKUP_KINDS, MENU_SCHEMA

__all__ = [
    "LOOKUP_KINDS", "MENU_SCHEMA", "Action", "Enqueue", "Gather", "Hangup", "IvrSession", "Lookups", "Menu",
    "MenuInvalid", "NoLookups", "Problem", "Say", "SessionFinished", "Transfer", "check_menu", "parse_menu",
]
