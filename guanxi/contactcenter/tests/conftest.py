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
