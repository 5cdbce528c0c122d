"""Contact center records (SPEC §5): queues, agents and their states, calls and their
events, dispositions, scripts and IVR menus.

The routing engine (``guanxi.contactcenter.acd``) keeps its working state in memory; these
tables are the durable truth it is rebuilt from (``routing.RoutingService``). Writes go
through ``guanxi.contactcenter.services``; reads with access checks through
``guanxi.contactcenter.selectors``. Members of each model: fields, Meta, ``__str__``,
methods.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.contactcenter.acd import HIGHEST_SKILL_LEVEL, LOWEST_SKILL_LEVEL, Media, MemberCondition, Strategy
from guanxi.core.models import Account, Contact, User


# ======================================================================================
# Choices
# ======================================================================================
class QueueStrategy(models.TextChoices):
    LEASTRECENT = Strategy.LEASTRECENT.value, _("Longest idle agent")
    FEWESTCALLS = Strategy.FEWESTCALLS.value, _("Fewest calls")
    RRMEMORY = Strategy.RRMEMORY.value, _("Round robin with memory")
    LINEAR = Strategy.LINEAR.value, _("Linear (always from the first agent)")
    RANDOM = Strategy.RANDOM.value, _("Random")
    WRANDOM = Strategy.WRANDOM.value, _("Weighted random by penalty")
    RINGALL = Strategy.RINGALL.value, _("Ring all")
    TOP_DOWN = Strategy.TOP_DOWN.value, _("Top-down by tier")
    LEAST_TALK_TIME = Strategy.LEAST_TALK_TIME.value, _("Least talk time")
    LEAST_LOADED = Strategy.LEAST_LOADED.value, _("Least loaded")


class WorkMedia(models.TextChoices):
    VOICE = Media.VOICE.value, _("Call")
    CHAT = Media.CHAT.value, _("Chat")
    EMAIL = Media.EMAIL.value, _("Email")
    CALLBACK = Media.CALLBACK.value, _("Callback request")


class MemberConditionChoice(models.TextChoices):
    PAUSED = MemberCondition.PAUSED.value, _("Away")
    UNAVAILABLE = MemberCondition.UNAVAILABLE.value, _("Logged out")
    INUSE = MemberCondition.INUSE.value, _("On a call")
    RINGING = MemberCondition.RINGING.value, _("Ringing")
    WRAPUP = MemberCondition.WRAPUP.value, _("In wrap-up")
    PENALTY = MemberCondition.PENALTY.value, _("Penalty out of range")


class AgentStateKind(models.TextChoices):
    LOGGED_OUT = "logged_out", _("Logged out")
    AVAILABLE = "available", _("Available")
    RINGING = "ringing", _("Ringing")
    BUSY = "busy", _("Busy")
    WRAP_UP = "wrap_up", _("Wrap-up")
    AWAY = "away", _("Away")


class AwayReason(models.TextChoices):
    BREAK = "break", _("Break")
    LUNCH = "lunch", _("Lunch")
    MEETING = "meeting", _("Meeting")
    TRAINING = "training", _("Training")
    COACHING = "coaching", _("Coaching")
    BACK_OFFICE = "back_office", _("Back-office work")
    MISSED_OFFERS = "missed_offers", _("Missed offers (paused automatically)")
    NOT_READY = "not_ready", _("Not ready after a missed or declined offer")
    OTHER = "other", _("Other")


class CallState(models.TextChoices):
    IVR = "ivr", _("In the IVR")
    QUEUED = "queued", _("Waiting in queue")
    RINGING = "ringing", _("Ringing at an agent")
    CONNECTED = "connected", _("Connected")
    HELD = "held", _("On hold")
    ENDED = "ended", _("Ended")


LIVE_CALL_STATES = (CallState.IVR, CallState.QUEUED, CallState.RINGING, CallState.CONNECTED, CallState.HELD)


class CallEndReason(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    ABANDONED = "abandoned", _("Caller hung up while waiting")
    SELF_SERVICE = "self_service", _("Finished in the IVR")
    TIMED_OUT = "timed_out", _("Maximum wait reached")
    LEFT_EMPTY = "left_empty", _("No agents left in the queue")
    REFUSED = "refused", _("Queue refused the call")
    TRANSFERRED_OUT = "transferred_out", _("Transferred to an outside number")
    AGENT_DISCONNECTED = "agent_disconnected", _("Agent disconnected mid-call")
    NO_ROUTE = "no_route", _("No IVR or queue for the dialled number")


class CallEventKind(models.TextChoices):
    ARRIVED = "arrived", _("Arrived")
    IVR = "ivr", _("IVR step")
    QUEUED = "queued", _("Queued")
    OFFERED = "offered", _("Offered to an agent")
    RINGING = "ringing", _("Ringing")
    OFFER_MISSED = "offer_missed", _("Offer not answered")
    OFFER_DECLINED = "offer_declined", _("Offer declined")
    OFFER_WITHDRAWN = "offer_withdrawn", _("Offer withdrawn")
    ANSWERED = "answered", _("Answered")
    HELD = "held", _("Put on hold")
    UNHELD = "unheld", _("Taken off hold")
    TRANSFERRED = "transferred", _("Transferred")
    CONFERENCED = "conferenced", _("Conference started")
    ESCALATED = "escalated", _("Escalated to more agents")
    OVERFLOWED = "overflowed", _("Overflowed to another queue")
    CALLBACK_OFFERED = "callback_offered", _("Callback offered")
    CALLBACK_REQUESTED = "callback_requested", _("Callback requested")
    AGENT_DISCONNECTED = "agent_disconnected", _("Agent disconnected")
    ENDED = "ended", _("Ended")
    DISPOSITIONED = "dispositioned", _("Dispositioned")
    CONTACT_LINKED = "contact_linked", _("Customer identified")


class CtiOutcome(models.TextChoices):
    APPLIED = "applied", _("Applied")
    DUPLICATE = "duplicate", _("Duplicate, ignored")
    REJECTED = "rejected", _("Rejected")
    RECOVERED = "recovered", _("Unknown call, record created from it")


# ======================================================================================
# Skills, queues, agents
# ======================================================================================
class Skill(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True, help_text=_("Short unique code, e.g. billing."))
    name = models.CharField(_("name"), max_length=120, help_text=_("Name shown to users."))

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Queue(models.Model):
    """A queue (skill group) of the ACD; its fields map one to one onto ``acd.QueueConfig``."""

    # --- fields ---
    code = models.SlugField(_("code"), max_length=40, unique=True,
                            help_text=_("Short unique code, used by IVR menus and the telephony system."))
    name = models.CharField(_("name"), max_length=120, help_text=_("Name shown to agents and supervisors."))
    media = models.CharField(_("media"), max_length=20, choices=WorkMedia.choices, default=WorkMedia.VOICE,
                             help_text=_("Kind of work the queue takes."))
    strategy = models.CharField(_("strategy"), max_length=20, choices=QueueStrategy.choices,
                                default=QueueStrategy.LEASTRECENT, help_text=_("How a free agent is chosen."))
    numbers = models.JSONField(_("dialled numbers"), default=list, blank=True,
                               help_text=_("Numbers (DNIS) that go straight to this queue without an IVR."))
    required_skills = models.JSONField(_("required skills"), default=dict, blank=True,
                                       help_text=_("Skill code → minimum level (1-10); agents holding all of "
                                                   "them are members."))
    penalty_from_skill_level = models.BooleanField(
        _("experts first"), default=False,
        help_text=_("Penalty is 10 minus the level of the first required skill, so experts are tried first."))
    weight = models.PositiveSmallIntegerField(_("weight"), default=0,
                                              help_text=_("Agents in several queues serve higher weights first."))
    ring_timeout_seconds = models.PositiveIntegerField(
        _("ring timeout (s)"), null=True, blank=True, default=15,
        help_text=_("An offer not answered within this time goes to the next agent; empty: rings until answered."))
    wrapup_seconds = models.PositiveIntegerField(_("wrap-up (s)"), default=0,
                                                 help_text=_("Time after each call before the next offer."))
    max_wait_seconds = models.PositiveIntegerField(_("maximum wait (s)"), null=True, blank=True,
                                                   help_text=_("Callers leave the queue after this wait."))
    max_waiting = models.PositiveIntegerField(_("maximum waiting"), null=True, blank=True,
                                              help_text=_("Callers beyond this number are refused."))
    overflow_after_seconds = models.PositiveIntegerField(_("overflow after (s)"), null=True, blank=True,
                                                         help_text=_("Move waiting callers on after this wait."))
    overflow_queue = models.ForeignKey("self", verbose_name=_("overflow queue"), null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="overflow_sources",
                                       help_text=_("Queue that takes callers after the overflow wait."))
    penalty_rules = models.JSONField(
        _("escalation rules"), default=list, blank=True,
        help_text=_("List of {after_seconds, max_penalty, min_penalty}: the penalties a caller may reach "
                    "after waiting that long."))
    initial_max_penalty = models.PositiveSmallIntegerField(
        _("initial maximum penalty"), null=True, blank=True,
        help_text=_("New callers reach only agents up to this penalty until a rule widens it."))
    priority_aging_per_second = models.FloatField(_("priority aging (per s)"), default=0.0,
                                                  help_text=_("Priority a caller gains per second of waiting."))
    most_skilled_from_priority = models.IntegerField(
        _("most skilled from priority"), null=True, blank=True,
        help_text=_("Callers with at least this priority go to the most skilled free agent."))
    join_empty = models.JSONField(_("refuse to join when"), default=list, blank=True,
                                  help_text=_("Agent conditions under which the queue counts as empty for new "
                                              "callers (app_queue joinempty)."))
    leave_when_empty = models.JSONField(_("leave when"), default=list, blank=True,
                                        help_text=_("Agent conditions under which waiting callers leave "
                                                    "(app_queue leavewhenempty)."))
    service_level_seconds = models.PositiveIntegerField(_("service level target (s)"), default=20,
                                                        help_text=_("Answer within this time, e.g. 20 of 80/20."))
    service_level_goal = models.PositiveSmallIntegerField(_("service level goal (%)"), default=80,
                                                          help_text=_("Share answered within the target, e.g. 80."))
    short_abandon_seconds = models.PositiveIntegerField(
        _("short abandon (s)"), default=5,
        help_text=_("Callers hanging up quicker than this are not counted against the service level."))
    callback_offer_estimate_over = models.PositiveIntegerField(
        _("offer a callback from an estimated wait of (s)"), null=True, blank=True,
        help_text=_("Offer a callback when the estimated wait on joining reaches this."))
    callback_offer_after = models.PositiveIntegerField(
        _("offer a callback after waiting (s)"), null=True, blank=True,
        help_text=_("Offer a callback once a caller has waited this long."))
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive queues take no calls."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    """A user who takes contact-center work, with the settings the ACD needs and the
    current state (its history is ``AgentStateChange``)."""

    # --- fields ---
    user = models.OneToOneField(User, verbose_name=_("user"), on_delete=models.CASCADE,
                                related_name="contact_center_agent", help_text=_("The person taking calls."))
    extension = models.CharField(_("extension"), max_length=60, blank=True, db_index=True,
                                 help_text=_("Phone or interface in the telephony system, e.g. 1001 or PJSIP/1001."))
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=1,
                                                help_text=_("Work items at once (1 for calls; more for chats)."))
    max_missed_offers = models.PositiveSmallIntegerField(
        _("pause after missed offers"), null=True, blank=True, default=3,
        help_text=_("Set away automatically after this many unanswered offers in a row."))
    missed_offer_delay_seconds = models.PositiveIntegerField(
        _("rest after a missed offer (s)"), default=0, help_text=_("No offers for this long after missing one."))
    declined_offer_delay_seconds = models.PositiveIntegerField(
        _("rest after a declined offer (s)"), default=0, help_text=_("No offers for this long after declining one."))
    state = models.CharField(_("state"), max_length=20, choices=AgentStateKind.choices,
                             default=AgentStateKind.LOGGED_OUT, db_index=True, help_text="")
    away_reason = models.CharField(_("away reason"), max_length=20, choices=AwayReason.choices, blank=True,
                                   help_text=_("Why the agent is away."))
    state_since = models.DateTimeField(_("in this state since"), default=timezone.now, help_text="")
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Inactive agents are not routed to."))

    class Meta:
        verbose_name = _("contact-center agent")
        verbose_name_plural = _("contact-center agents")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return str(self.user)


class AgentSkill(models.Model):
    agent = models.ForeignKey(AgentProfile, verbose_name=_("agent"), on_delete=models.CASCADE,
                              related_name="skills", help_text="")
    skill = models.ForeignKey(Skill, verbose_name=_("skill"), on_delete=models.CASCADE, related_name="+",
                              help_text="")
    level = models.PositiveSmallIntegerField(
        _("level"), help_text=_("%(low)d (novice) to %(high)d (expert).") % {
            "low": LOWEST_SKILL_LEVEL, "high": HIGHEST_SKILL_LEVEL})

    class Meta:
        verbose_name = _("agent skill")
        verbose_name_plural = _("agent skills")
        constraints = [models.UniqueConstraint(fields=["agent", "skill"], name="cc_agent_skill_unique")]

    def __str__(self) -> str:
        return f"{self.skill_id}:{self.level}"


class QueueMembership(models.Model):
    """An explicit membership (app_queue static member, mod_callcenter tier)."""

    agent = models.ForeignKey(AgentProfile, verbose_name=_("agent"), on_delete=models.CASCADE,
                              related_name="memberships", help_text="")
    queue = models.ForeignKey(Queue, verbose_name=_("queue"), on_delete=models.CASCADE, related_name="memberships",
                              help_text="")
    penalty = models.PositiveSmallIntegerField(_("penalty"), default=0,
                                               help_text=_("Lower penalties are offered calls first."))
    position = models.PositiveIntegerField(_("position"), null=True, blank=True,
                                           help_text=_("Order for linear and round-robin strategies."))

    class Meta:
        verbose_name = _("queue membership")
        verbose_name_plural = _("queue memberships")
        constraints = [models.UniqueConstraint(fields=["agent", "queue"], name="cc_membership_unique")]

    def __str__(self) -> str:
        return f"{self.agent_id}@{self.queue_id}"


class AgentStateChange(models.Model):
    """History of agent states: one row per period, closed when the next one starts."""

    agent = models.ForeignKey(AgentProfile, verbose_name=_("agent"), on_delete=models.CASCADE,
                              related_name="state_history", help_text="")
    state = models.CharField(_("state"), max_length=20, choices=AgentStateKind.choices, help_text="")
    away_reason = models.CharField(_("away reason"), max_length=20, choices=AwayReason.choices, blank=True,
                                   help_text="")
    started_at = models.DateTimeField(_("started at"), default=timezone.now, help_text="")
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True, help_text=_("Empty while current."))
    changed_by = models.ForeignKey(User, verbose_name=_("changed by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   help_text=_("Who changed it; empty when the system did."))

    class Meta:
        verbose_name = _("agent state change")
        verbose_name_plural = _("agent state changes")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["agent", "started_at"], name="cc_agent_state_time")]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.state} {self.started_at:%Y-%m-%d %H:%M:%S}"


# ======================================================================================
# Dispositions, scripts, IVR menus
# ======================================================================================
class Disposition(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True, help_text=_("Short unique code."))
    label = models.CharField(_("label"), max_length=120, help_text=_("What the agent picks, e.g. Resolved."))
    outcome = models.CharField(_("outcome"), max_length=120, blank=True,
                               help_text=_("Written as the interaction's outcome; the label when empty."))
    requires_notes = models.BooleanField(_("requires notes"), default=False,
                                         help_text=_("The agent must write notes with this disposition."))
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order in the picker."))
    is_active = models.BooleanField(_("active"), default=True, help_text="")

    class Meta:
        verbose_name = _("disposition")
        verbose_name_plural = _("dispositions")
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class Script(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True, help_text=_("Name shown to agents."))
    body = models.TextField(_("text"), help_text=_("What the agent reads or follows; {name} is the caller's name."))
    queue = models.ForeignKey(Queue, verbose_name=_("queue"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="scripts", help_text=_("Offered first for calls from this queue."))
    is_active = models.BooleanField(_("active"), default=True, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("script")
        verbose_name_plural = _("scripts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IvrMenu(models.Model):
    """An IVR flow written in YAML or JSON (see ``guanxi.contactcenter.ivr``)."""

    name = models.CharField(_("name"), max_length=120, unique=True, help_text=_("Name of the menu."))
    numbers = models.JSONField(_("dialled numbers"), default=list, blank=True,
                               help_text=_("Numbers (DNIS) answered by this menu."))
    source = models.TextField(_("definition"), help_text=_("The menu in YAML or JSON."))
    is_active = models.BooleanField(_("active"), default=True, help_text="")
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Raised on every change."))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("IVR menu")
        verbose_name_plural = _("IVR menus")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IvrCredential(models.Model):
    """The PIN a customer proves an account number with in the IVR (stored hashed)."""

    account_number = models.CharField(_("account number"), max_length=64, unique=True,
                                      help_text=_("What the caller keys in."))
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+", help_text="")
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+", help_text="")
    pin_hash = models.CharField(_("PIN hash"), max_length=200, help_text=_("Hashed like a password."))
    failed_attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("IVR credential")
        verbose_name_plural = _("IVR credentials")

    def __str__(self) -> str:
        return self.account_number


# ======================================================================================
# Calls
# ======================================================================================
class Call(models.Model):
    """One customer contact through the contact center (a call, chat, email or callback)."""

    # --- fields: where it came from ---
    adapter = models.CharField(_("source"), max_length=20, default="simulator",
                               help_text=_("Telephony adapter that reported it: simulator, asterisk, twilio."))
    external_id = models.CharField(_("external ID"), max_length=100,
                                   help_text=_("The call's ID in the telephony system."))
    media = models.CharField(_("media"), max_length=20, choices=WorkMedia.choices, default=WorkMedia.VOICE,
                             help_text="")
    ani = models.CharField(_("caller number"), max_length=40, blank=True,
                           help_text=_("Number the caller called from (ANI), as received."))
    ani_e164 = models.CharField(_("caller number (E.164)"), max_length=20, blank=True, db_index=True,
                                help_text=_("The caller number normalized; empty when it is not a valid number."))
    dnis = models.CharField(_("dialled number"), max_length=40, blank=True, help_text=_("Number dialled (DNIS)."))
    # --- fields: who ---
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="contact_center_calls",
                                help_text=_("The caller, when identified."))
    account = models.ForeignKey(Account, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="contact_center_calls", help_text="")
    caller_matches = models.PositiveSmallIntegerField(_("contacts at this number"), default=0,
                                                      help_text=_("Contacts whose phone matched the caller number."))
    agent = models.ForeignKey(User, verbose_name=_("agent"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="contact_center_calls", help_text=_("Agent who has or had the call."))
    # --- fields: route and state ---
    queue = models.ForeignKey(Queue, verbose_name=_("queue"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="calls", help_text="")
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Higher is served first."))
    ivr_menu = models.ForeignKey(IvrMenu, verbose_name=_("IVR menu"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="calls", help_text="")
    ivr_data = models.JSONField(_("IVR data"), default=dict, blank=True,
                                help_text=_("What the caller entered in the IVR (account number, choices)."))
    state = models.CharField(_("state"), max_length=20, choices=CallState.choices, default=CallState.QUEUED,
                             db_index=True, help_text="")
    end_reason = models.CharField(_("end reason"), max_length=30, choices=CallEndReason.choices, blank=True,
                                  help_text="")
    routed_by_engine = models.BooleanField(_("routed by Guanxi"), default=True,
                                           help_text=_("False when the telephony system routes the call itself."))
    engine_item_id = models.CharField(_("routing item"), max_length=60, blank=True,
                                      help_text=_("The call's current work item in the routing engine."))
    offered_to = models.JSONField(_("ringing at"), default=list, blank=True,
                                  help_text=_("User IDs of the agents the call is ringing at."))
    engine_offer_id = models.PositiveIntegerField(_("routing offer"), null=True, blank=True,
                                                  help_text=_("The routing engine's offer while the call rings."))
    transfer_count = models.PositiveSmallIntegerField(_("transfers"), default=0, help_text="")
    # --- fields: times ---
    arrived_at = models.DateTimeField(_("arrived at"), default=timezone.now, db_index=True, help_text="")
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True, help_text="")
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True, help_text="")
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True, help_text="")
    held_since = models.DateTimeField(_("on hold since"), null=True, blank=True, help_text="")
    talking_since = models.DateTimeField(_("talking since"), null=True, blank=True,
                                         help_text=_("Start of the current stretch of conversation."))
    wait_seconds = models.FloatField(_("wait (s)"), null=True, blank=True,
                                     help_text=_("From joining the queue to being answered or hanging up."))
    talk_seconds = models.FloatField(_("talk (s)"), default=0.0, help_text=_("Connected time, hold excluded."))
    hold_seconds = models.FloatField(_("hold (s)"), default=0.0, help_text="")
    wrapup_seconds = models.FloatField(_("wrap-up (s)"), default=0.0, help_text=_("After-call work."))
    # --- fields: result ---
    disposition = models.ForeignKey(Disposition, verbose_name=_("disposition"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="calls", help_text="")
    script = models.ForeignKey(Script, verbose_name=_("script"), null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="calls", help_text="")
    notes = models.TextField(_("notes"), blank=True, help_text="")
    interaction_id = models.PositiveBigIntegerField(_("interaction"), null=True, blank=True,
                                                    help_text=_("The timeline entry this call became."))

    SEARCH_FIELDS = ("ani_e164", "dnis", "external_id")

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-arrived_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["adapter", "external_id"], name="cc_call_unique_external")]
        indexes = [
            models.Index(fields=["queue", "arrived_at"], name="cc_call_queue_time"),
            models.Index(fields=["agent", "arrived_at"], name="cc_call_agent_time"),
            models.Index(fields=["state", "queue"], name="cc_call_live"),
        ]

    def __str__(self) -> str:
        return f"{self.get_media_display()} {self.ani or '?'} → {self.dnis or '?'} ({self.get_state_display()})"


class CallEvent(models.Model):
    """What happened to a call, in order: the call's own log, shown on its page."""

    call = models.ForeignKey(Call, verbose_name=_("call"), on_delete=models.CASCADE, related_name="events",
                             help_text="")
    kind = models.CharField(_("kind"), max_length=30, choices=CallEventKind.choices, help_text="")
    at = models.DateTimeField(_("at"), default=timezone.now, help_text="")
    agent = models.ForeignKey(User, verbose_name=_("agent"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text="")
    detail = models.JSONField(_("detail"), default=dict, blank=True, help_text="")

    class Meta:
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["call", "at"], name="cc_call_event_time")]

    def __str__(self) -> str:
        return f"{self.call_id} {self.kind}"


class CtiEventLog(models.Model):
    """Every event a telephony adapter delivered, with what was done with it and why.

    Duplicates and events that cannot apply are kept here with their reason instead of
    disappearing, so a supervisor can see what the telephony system said.
    """

    adapter = models.CharField(_("adapter"), max_length=20, help_text="")
    event_id = models.CharField(_("event ID"), max_length=120, blank=True,
                                help_text=_("The adapter's ID of the event; repeats are duplicates."))
    kind = models.CharField(_("kind"), max_length=30, help_text="")
    call_ref = models.CharField(_("call reference"), max_length=100, blank=True, help_text="")
    call = models.ForeignKey(Call, verbose_name=_("call"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="cti_events", help_text="")
    payload = models.JSONField(_("payload"), default=dict, blank=True, help_text="")
    outcome = models.CharField(_("outcome"), max_length=20, choices=CtiOutcome.choices, help_text="")
    reason = models.CharField(_("reason"), max_length=300, blank=True, help_text="")
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True, help_text="")

    class Meta:
        verbose_name = _("telephony event")
        verbose_name_plural = _("telephony events")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["adapter", "event_id"], condition=~models.Q(event_id="")
                                    & ~models.Q(outcome="duplicate"), name="cc_cti_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.adapter} {self.kind} {self.call_ref} ({self.outcome})"


class IvrSession(models.Model):
    """Where a call stands in its IVR menu, kept between requests (Twilio, the simulator)."""

    call = models.OneToOneField(Call, verbose_name=_("call"), on_delete=models.CASCADE, related_name="ivr_session",
                                help_text="")
    menu = models.ForeignKey(IvrMenu, verbose_name=_("menu"), on_delete=models.CASCADE, related_name="+",
                             help_text="")
    menu_version = models.PositiveIntegerField(_("menu version"), help_text="")
    state = models.JSONField(_("state"), default=dict, blank=True, help_text=_("The interpreter's state."))
    transcript = models.JSONField(_("transcript"), default=list, blank=True,
                                  help_text=_("Prompts played and digits received, in order."))
    finished = models.BooleanField(_("finished"), default=False, help_text="")
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, help_text="")

    class Meta:
        verbose_name = _("IVR session")
        verbose_name_plural = _("IVR sessions")

    def __str__(self) -> str:
        return f"{self.call_id} in {self.menu_id}"
