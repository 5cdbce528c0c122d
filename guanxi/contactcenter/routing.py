"""The one routing engine of this process, mirrored from the database.

``acd.Engine`` is an in-memory state machine and not thread-safe. ``RoutingService`` owns
one engine per process behind a lock; every operation runs the engine step and then,
still under the lock, hands the engine's offers and events to the caller's ``apply``
callback, which writes them to the database (``services``). If anything fails on the
way, the engine is dropped and rebuilt from the database on the next operation, so
memory never drifts from the stored truth:

* active queues (overflow targets first) and active agents with their skills and
  memberships;
* agents' states: logged in, away (paused with the reason), or busy with a call the
  engine does not know (paused with ``BUSY_PAUSE`` until that call ends);
* calls waiting or ringing, enqueued again in the order they joined.

Timers (ring timeouts, wrap-up ends, escalation, overflow, maximum wait) run at every
operation; between operations a daemon thread ticks the engine when a timer is due. With
jobs running inline (tests, one-off commands) there is no thread and ``tick`` is called
explicitly. Time is the service's ``clock`` (epoch seconds), so tests can move it.

With several web processes each would hold its own engine: run the contact center in one
process (``guanxi serve``, the default deployment) or route telephony events to one.
"""

from __future__ import annotations

import datetime
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import PermissionDenied, ValidationError

from guanxi.contactcenter.acd import (
    Agent, AgentState, Engine, Event, Membership, Offer, PenaltyRule, QueueConfig, RoutingError, WorkItem,
)

from guanxi.core.errors import Conflict

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Errors a step raises to refuse: the engine is unchanged, so it is kept.
REFUSALS = (RoutingError, Conflict, ValidationError, PermissionDenied)

# Pause reason of an agent who is on a call the engine does not track (after a rebuild,
# or a call the telephony system routed itself): no offers until that call ends.
BUSY_PAUSE = "busy-elsewhere"
TICK_INTERVAL = 0.25


def queue_config(queue) -> QueueConfig:
    """The engine's view of a stored ``Queue``."""
    rules = tuple(
        PenaltyRule(after_seconds=float(rule["after_seconds"]), max_penalty=rule.get("max_penalty"),
                    min_penalty=rule.get("min_penalty"))
        for rule in sorted(queue.penalty_rules or [], key=lambda rule: rule["after_seconds"])
    )
    overflow = queue.overflow_queue.code if queue.overflow_queue_id and queue.overflow_queue.is_active else None
    return QueueConfig(
        name=queue.code,
        strategy=queue.strategy,
        required_skills=dict(queue.required_skills or {}),
        penalty_from_skill_level=queue.penalty_from_skill_level,
        weight=queue.weight,
        ring_timeout=float(queue.ring_timeout_seconds) if queue.ring_timeout_seconds else None,
        wrapup_time=float(queue.wrapup_seconds),
        max_wait=float(queue.max_wait_seconds) if queue.max_wait_seconds else None,
        max_waiting=queue.max_waiting or None,
        overflow_after=float(queue.overflow_after_seconds) if overflow and queue.overflow_after_seconds else None,
        overflow_queue=overflow if queue.overflow_after_seconds else None,
        initial_max_penalty=queue.initial_max_penalty,
        penalty_rules=rules,
        priority_aging_per_second=queue.priority_aging_per_second,
        most_skilled_from_priority=queue.most_skilled_from_priority,
        join_empty=frozenset(queue.join_empty or ()),
        leave_when_empty=frozenset(queue.leave_when_empty or ()),
        service_level_seconds=float(queue.service_level_seconds),
        short_abandon_seconds=float(queue.short_abandon_seconds),
        callback_offer_estimate_over=(float(queue.callback_offer_estimate_over)
                                      if queue.callback_offer_estimate_over else None),
        callback_offer_after=float(queue.callback_offer_after) if queue.callback_offer_after else None,
    )


def agent_profile(profile, active_queue_codes: set[str]) -> Agent:
    """The engine's view of a stored ``AgentProfile`` (skills and memberships prefetched)."""
    return Agent(
        agent_id=str(profile.user_id),
        skills={skill.skill.code: skill.level for skill in profile.skills.all()},
        memberships={membership.queue.code: Membership(penalty=membership.penalty, position=membership.position)
                     for membership in profile.memberships.all() if membership.queue.code in active_queue_codes},
        capacity=profile.capacity,
        max_missed_offers=profile.max_missed_offers or None,
        missed_offer_delay=float(profile.missed_offer_delay_seconds),
        declined_offer_delay=float(profile.declined_offer_delay_seconds),
        name=str(profile.user),
    )


def _overflow_targets_first(queues: list) -> list:
    by_id = {queue.pk: queue for queue in queues}
    ordered, placed = [], set()

    def place(queue, trail=()):
        if queue.pk in placed or queue.pk in trail:
            return
        target = by_id.get(queue.overflow_queue_id)
        if target is not None:
            place(target, (*trail, queue.pk))
        placed.add(queue.pk)
        ordered.append(queue)

    for queue in queues:
        place(queue)
    return ordered


class RoutingService:
    def __init__(self, clock: Callable[[], float] | None = None, *, timer_thread: bool = False) -> None:
        self.clock = clock or time.time
        self._lock = threading.RLock()
        self._engine: Engine | None = None
        self._timer_thread_wanted = timer_thread
        self._timer_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.on_timer: Callable[[], None] | None = None  # set by services: runs a tick with persistence
        # Set by services: stores what a fresh engine decided while being built (calls that
        # were waiting ring again), before any operation runs on it.
        self.on_built: Callable[[Engine, list[Offer], list[Event]], None] | None = None

    # ------------------------------------------------------------------ time

    def now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.clock(), tz=datetime.timezone.utc)

    # ------------------------------------------------------------------ running engine steps

    def run(self, operation: Callable[[Engine], T],
            apply: Callable[[Engine, list[Offer], list[Event]], None] | None = None) -> T:
        """Run ``operation`` on the engine, then ``apply`` its offers and events, atomically
        with respect to other threads. ``RoutingError`` (a refused step) leaves the engine
        as it was; any other failure drops the engine for a rebuild."""
        with self._lock:
            engine = self._engine_or_build()
            try:
                result = operation(engine)
            except REFUSALS:
                # Refused before anything changed (the engine checks first, then acts).
                self._apply_pending(engine, apply)
                raise
            except Exception:
                self.invalidate("an engine step failed")
                raise
            self._apply_pending(engine, apply)
            return result

    def _apply_pending(self, engine: Engine, apply) -> None:
        offers, events = engine.take_offers(), engine.take_events()
        if apply is None or not (offers or events):
            return
        try:
            apply(engine, offers, events)
        except Exception:
            self.invalidate("storing the engine's decisions failed")
            raise

    def invalidate(self, reason: str) -> None:
        with self._lock:
            if self._engine is not None:
                logger.warning("routing engine dropped for a rebuild from the database: %s", reason)
                # The engine's objects were frozen after the build (see ``_build``); hand them
                # back to the collector so the dropped engine's reference cycles are freed.
                gc.unfreeze()
            self._engine = None

    def read(self, operation: Callable[[Engine], T]) -> T:
        """A read of the engine's live figures (queue stats, agent status)."""
        with self._lock:
            return operation(self._engine_or_build())

    # ------------------------------------------------------------------ building

    def ensure_built(self) -> None:
        """Build the engine now if there is none, storing what it decides at once.

        Services call this before they change the database, so a build never reads a
        half-done change (e.g. a call already marked queued but not yet in the engine).
        """
        with self._lock:
            self._engine_or_build()

    def _engine_or_build(self) -> Engine:
        if self._engine is None:
            engine = self._build()
            self._engine = engine
            self._start_timer_thread()
            if self.on_built is not None:
                self._apply_pending(engine, self.on_built)
        return self._engine

    def _build(self) -> Engine:
        from guanxi.contactcenter.models import AgentProfile, AgentStateKind, Call, CallState, Queue

        engine = Engine(self.clock, rng_seed=0)
        queues = _overflow_targets_first(list(Queue.objects.filter(is_active=True).select_related("overflow_queue")))
        for queue in queues:
            engine.add_queue(queue_config(queue))
        codes = {queue.code for queue in queues}
        profiles = (AgentProfile.objects.filter(is_active=True, user__is_active=True)
                    .select_related("user").prefetch_related("skills__skill", "memberships__queue"))
        for profile in profiles:
            agent_id = str(profile.user_id)
            engine.add_agent(agent_profile(profile, codes))
            if profile.state == AgentStateKind.LOGGED_OUT:
                continue
            engine.agent_login(agent_id)
            if profile.state == AgentStateKind.AWAY:
                engine.agent_pause(agent_id, profile.away_reason or "other")
            elif profile.state in (AgentStateKind.BUSY, AgentStateKind.WRAP_UP):
                engine.agent_pause(agent_id, BUSY_PAUSE)
        waiting = (Call.objects.filter(state__in=[CallState.QUEUED, CallState.RINGING], routed_by_engine=True,
                                       queue__code__in=codes)
                   .select_related("queue", "contact").order_by("queued_at", "id"))
        for call in waiting:
            engine.enqueue(work_item(call))
        # The rebuilt state is long-lived: keep it out of the garbage collector's full passes.
        gc.collect()
        gc.freeze()
        logger.info("routing engine built: %d queues, %d agents, %d waiting", len(queues), len(profiles),
                    len(waiting))
        return engine

    # ------------------------------------------------------------------ timers

    def tick(self, apply) -> None:
        """Run the timers due by now. ``Engine.tick`` hands back the offers it made, so they
        are passed on to ``apply`` with those of any other step."""
        with self._lock:
            engine = self._engine_or_build()
            try:
                offers = engine.tick()
            except Exception:
                self.invalidate("a timer failed")
                raise
            events = engine.take_events()
            offers += engine.take_offers()
            if offers or events:
                try:
                    apply(engine, offers, events)
                except Exception:
                    self.invalidate("storing the engine's decisions failed")
                    raise

    def next_timer_at(self) -> float | None:
        with self._lock:
            return self._engine.next_timer_at() if self._engine is not None else None

    def _start_timer_thread(self) -> None:
        if not self._timer_thread_wanted or self._timer_thread is not None:
            return
        self._timer_thread = threading.Thread(target=self._timer_loop, name="guanxi-routing-timers", daemon=True)
        self._timer_thread.start()

    def _timer_loop(self) -> None:
        from django.db import close_old_connections

        while not self._stopping.wait(TICK_INTERVAL):
            due = self.next_timer_at()
            if due is None or due > self.clock() or self.on_timer is None:
                continue
            try:
                close_old_connections()
                self.on_timer()
            except Exception:  # the thread must survive; the failure is logged and retried
                logger.exception("routing timer tick failed")

    def stop(self) -> None:
        self._stopping.set()


def work_item(call) -> WorkItem:
    attributes = {str(key): str(value) for key, value in (call.ivr_data or {}).items()
                  if isinstance(value, (str, int, float, bool))}
    return WorkItem(item_id=call.engine_item_id or str(call.pk), queue=call.queue.code, media=call.media,
                    priority=call.priority, customer_ref=str(call.contact_id) if call.contact_id else None,
                    attributes=attributes)


def engine_state(status) -> tuple[str, str]:
    """(AgentStateKind, AwayReason) for an engine ``AgentStatus``."""
    from guanxi.contactcenter.models import AgentStateKind, AwayReason

    state = status.state
    if state == AgentState.LOGGED_OUT:
        return AgentStateKind.LOGGED_OUT, ""
    if state == AgentState.PAUSED:
        if status.pause_reason == BUSY_PAUSE:
            return AgentStateKind.BUSY, ""
        if status.pause_reason == "missed offers":
            return AgentStateKind.AWAY, AwayReason.MISSED_OFFERS
        reason = status.pause_reason if status.pause_reason in AwayReason.values else AwayReason.OTHER
        return AgentStateKind.AWAY, reason
    if state == AgentState.RINGING:
        return AgentStateKind.RINGING, ""
    if state == AgentState.WRAP_UP:
        return AgentStateKind.WRAP_UP, ""
    if state == AgentState.BUSY:
        return AgentStateKind.BUSY, ""
    if state == AgentState.NOT_READY:
        return AgentStateKind.AWAY, AwayReason.NOT_READY
    return AgentStateKind.AVAILABLE, ""


_service: RoutingService | None = None
_service_lock = threading.Lock()


def routing_service() -> RoutingService:
    """The process's routing service, created on first use.

    The timer thread runs unless jobs run inline (``HUEY.immediate``: tests and one-off
    commands), where nothing should happen behind the caller's back.
    """
    global _service
    with _service_lock:
        if _service is None:
            from huey.contrib.djhuey import HUEY

            _service = RoutingService(timer_thread=not HUEY.immediate)
            _connect_services(_service)
        return _service


def _connect_services(service: RoutingService) -> None:
    from guanxi.contactcenter import services

    service.on_timer = services.routing_tick
    service.on_built = services.store_decisions_of_build


def install_routing_service(service: RoutingService | None) -> RoutingService | None:
    """Replace the process's routing service (tests install one with a manual clock);
    returns the previous one."""
    global _service
    with _service_lock:
        previous, _service = _service, service
        if service is not None and service.on_timer is None:
            _connect_services(service)
        if previous is not None:
            previous.stop()
        return previous
