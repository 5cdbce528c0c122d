"""Small builders for routing-engine scenarios: a manual clock and a staffed engine."""

from __future__ import annotations

import pytest

from guanxi.contactcenter.acd import Agent, Engine, ManualClock, QueueConfig, WorkItem


class Scenario:
    """An engine on a manual clock, with shortcuts that read like the test's story."""

    def __init__(self, *, seed: int = 0) -> None:
        self.clock = ManualClock()
        self.engine = Engine(self.clock, rng_seed=seed)

    def queue(self, name: str = "support", **settings) -> QueueConfig:
        settings.setdefault("required_skills", {name: 1})
        config = QueueConfig(name, **settings)
        self.engine.add_queue(config)
        return config

    def agents(self, *agent_ids: str, skills: dict[str, int] | None = None, login: bool = True, **settings) -> None:
        for agent_id in agent_ids:
            self.engine.add_agent(Agent(agent_id, skills=dict(skills or {"support": 5}), **settings))
            if login:
                self.engine.agent_login(agent_id)

    def agent(self, agent: Agent, *, login: bool = True) -> None:
        self.engine.add_agent(agent)
        if login:
            self.engine.agent_login(agent.agent_id)

    def call(self, item_id: str, queue: str = "support", **settings):
        return self.engine.enqueue(WorkItem(item_id, queue, **settings))

    def offers(self):
        return self.engine.take_offers()

    def offered_agent(self, item_id: str, queue: str = "support", **settings) -> str:
        """Enqueue an item and return the single agent it was offered to at once."""
        self.engine.take_offers()
        result = self.call(item_id, queue, **settings)
        self.engine.take_offers()
        assert result.offer is not None, f"{item_id} was not offered at once"
        assert len(result.offer.agent_ids) == 1
        return result.offer.agent_ids[0]

    def answer_all(self) -> list[str]:
        answered = []
        for offer in self.engine.take_offers():
            self.engine.offer_accepted(offer.offer_id, offer.agent_ids[0])
            answered.append(offer.item_id)
        return answered

    def handle(self, item_id: str, queue: str = "support", *, seconds: float = 0.0, **settings) -> str:
        """An item arrives, is answered at once by the chosen agent, and handled for ``seconds``."""
        result = self.call(item_id, queue, **settings)
        assert result.offer is not None
        self.engine.take_offers()
        agent_id = result.offer.agent_ids[0]
        self.engine.offer_accepted(result.offer.offer_id, agent_id)
        if seconds:
            self.clock.advance(seconds)
            self.engine.work_completed(item_id)
        return agent_id

    def advance(self, seconds: float):
        self.clock.advance(seconds)
        return self.engine.tick()

    def event_kinds(self, item_id: str | None = None) -> list[str]:
        return [str(event.kind) for event in self.engine.take_events() if item_id is None or event.item_id == item_id]


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()


# ======================================================================================
# Django side: a routing service on a manual clock and a small contact center
# ======================================================================================
@pytest.fixture(autouse=True)
def _fresh_routing_service():
    """Each test starts with no routing engine: the engine mirrors the database, which
    every test rolls back."""
    from guanxi.contactcenter.routing import install_routing_service

    install_routing_service(None)
    yield
    install_routing_service(None)


@pytest.fixture
def routing(db):
    """A routing service whose clock moves only when the test says (``routing.clock.advance``)."""
    import time

    from guanxi.contactcenter.routing import RoutingService, install_routing_service

    service = RoutingService(ManualClock(time.time()))
    install_routing_service(service)
    return service


class ContactCenter:
    """Builders that read like the test's story: queues, agents, calls, time passing."""

    def __init__(self, routing, make_user) -> None:
        self.routing = routing
        self.make_user = make_user

    @property
    def clock(self):
        return self.routing.clock

    def skill(self, code: str):
        from guanxi.contactcenter import services
        from guanxi.contactcenter.models import Skill

        return Skill.objects.filter(code=code).first() or services.skill_create(
            actor=None, data={"code": code, "name": code.title()})

    def queue(self, code: str = "billing", *, skills: dict | None = None, **data):
        from guanxi.contactcenter import services

        skills = {code: 1} if skills is None else skills
        for skill in skills:
            self.skill(skill)
        data.setdefault("name", code.title())
        data.setdefault("numbers", [])
        return services.queue_create(actor=None, data={"code": code, "required_skills": skills, **data})

    def agent(self, username: str, *, skills: dict | None = None, available: bool = True, **data):
        from guanxi.contactcenter import services
        from guanxi.core.models import Role

        skills = {"billing": 5} if skills is None else skills
        for skill in skills:
            self.skill(skill)
        user = self.make_user(username, Role.CONTACT_CENTER_AGENT, **data.pop("user", {}))
        profile = services.agent_profile_create(actor=None, data={"user_id": user.pk, "skills": skills, **data})
        if available:
            services.agent_state_set(actor=user, agent_id=profile.pk, state="available")
        user.agent_profile_id = profile.pk
        return user

    def call(self, ani: str = "+8613800138000", dnis: str = "95555", *, ref: str | None = None):
        """A caller dials ``dnis`` through the built-in simulator."""
        from guanxi.contactcenter import services
        from guanxi.contactcenter.models import Call

        self._calls = getattr(self, "_calls", 0) + 1
        ref = ref or f"sim-{self._calls}"
        log = services.cti_event_apply(adapter="simulator", routes_calls=True,
                                       report=services.CallReport(kind="offered", call_ref=ref, ani=ani, dnis=dnis))
        assert log.call_id, log.reason
        return Call.objects.get(pk=log.call_id)

    def advance(self, seconds: float) -> None:
        from guanxi.contactcenter import services

        self.clock.advance(seconds)
        services.routing_tick()

    def state_of(self, user) -> str:
        from guanxi.contactcenter.models import AgentProfile

        return AgentProfile.objects.get(user=user).state


@pytest.fixture
def center(routing, make_user):
    return ContactCenter(routing, make_user)
