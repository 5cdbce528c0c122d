"""IVR actions as TwiML, so Twilio can run a Guanxi menu (``twilio`` package).

Twilio fetches TwiML from the webhook (``views.twilio_voice``) at the start of a call and
after every ``<Gather>``; each answer is what the interpreter returned for that step.
A gather that ends without keys falls through to a ``<Redirect>`` back to the webhook
with ``timeout=1``, which the webhook reads as "no input".
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from guanxi.contactcenter.ivr.definition import Menu
from guanxi.contactcenter.ivr.interpreter import Action, Enqueue, Gather, Hangup, IvrSession, Say, Transfer

# Twilio's <Say> language codes for the menu languages.
TWILIO_LANGUAGES = {"en": "en-US", "zh-hans": "cmn-CN"}


def _language(language: str) -> str:
    return TWILIO_LANGUAGES.get(language, "en-US")


def _with_query(url: str, **query) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(query)


def actions_to_twiml(actions: Iterable[Action], *, action_url: str, wait_url: str = "") -> str:
    """One TwiML document for the actions of one interpreter step."""
    response = VoiceResponse()
    for action in actions:
        if isinstance(action, Say):
            response.say(action.text, language=_language(action.language))
        elif isinstance(action, Gather):
            gather = TwimlGather(action=_with_query(action_url, node=action.node), method="POST", input="dtmf",
                                 num_digits=action.max_digits, timeout=action.timeout,
                                 finish_on_key=action.finish_on_key or "")
            for prompt in action.prompt:
                gather.say(prompt.text, language=_language(prompt.language))
            response.append(gather)
            response.redirect(_with_query(action_url, node=action.node, timeout=1), method="POST")
        elif isinstance(action, Enqueue):
            name = action.queue or "-".join(sorted(action.skills))
            if wait_url:
                response.enqueue(name, wait_url=wait_url)
            else:
                response.enqueue(name)
        elif isinstance(action, Transfer):
            response.dial(action.number)
        elif isinstance(action, Hangup):
            response.hangup()
    return str(response)


def menu_to_twiml(menu: Menu, *, action_url: str, wait_url: str = "") -> str:
    """The document Twilio plays when a call reaches the menu: the start node's step, with
    gathers posting the keys back to ``action_url``."""
    return actions_to_twiml(IvrSession(menu).start(), action_url=action_url, wait_url=wait_url)
