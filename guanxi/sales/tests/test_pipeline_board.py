"""The kanban pipeline page: columns per stage, drag-and-drop posts to the stage-change
endpoint (JSON), the keyboard move control (plain form), closed stages need a reason."""

from __future__ import annotations

import pytest

from guanxi.sales.models import Opportunity, Pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def stages():
    return {stage.name: stage for stage in Pipeline.objects.get(is_default=True).stages.all()}


@pytest.fixture
def browser(client, rep):
    client.force_login(rep)
    return client


def test_the_board_shows_every_stage_and_the_deal(browser, deal, stages):
    response = browser.get("/sales/pipeline/")
    html = response.content.decode()
    assert response.status_code == 200
    for name in stages:
        assert f'data-stage-name="{name}"' in html
    assert f'data-opportunity-id="{deal.pk}"' in html and 'draggable="true"' in html
    assert f'<label class="visually-hidden" for="move-{deal.pk}">' in html  # the keyboard move control


def test_dropping_a_card_moves_the_deal(browser, deal, stages):
    response = browser.post(f"/sales/opportunities/{deal.pk}/move/",
                            {"stage": stages["Negotiation"].pk, "version": deal.version},
                            HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["stage"] == "Negotiation" and response.json()["probability"] == 80
    stored = Opportunity.objects.get(pk=deal.pk)
    assert stored.stage_id == stages["Negotiation"].pk and stored.stage_changes.count() == 2


def test_dropping_on_a_closed_stage_without_a_reason_changes_nothing(browser, deal, stages):
    response = browser.post(f"/sales/opportunities/{deal.pk}/move/", {"stage": stages["Closed won"].pk},
                            HTTP_ACCEPT="application/json")
    assert response.status_code == 422 and "close_reason" in response.json()["errors"]
    assert Opportunity.objects.get(pk=deal.pk).stage_id == stages["Prospecting"].pk
    won = browser.post(f"/sales/opportunities/{deal.pk}/move/",
                       {"stage": stages["Closed won"].pk, "close_reason": "relationship"},
                       HTTP_ACCEPT="application/json")
    assert won.status_code == 200 and Opportunity.objects.get(pk=deal.pk).is_won


def test_a_stale_card_is_refused(browser, deal, stages):
    response = browser.post(f"/sales/opportunities/{deal.pk}/move/",
                            {"stage": stages["Proposal"].pk, "version": deal.version + 3},
                            HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert Opportunity.objects.get(pk=deal.pk).stage_id == stages["Prospecting"].pk


def test_the_move_control_posts_a_plain_form_and_comes_back(browser, deal, stages):
    response = browser.post(f"/sales/opportunities/{deal.pk}/move/",
                            {"stage": stages["Proposal"].pk, "next": "/sales/pipeline/"})
    assert response.status_code == 302 and response["Location"] == "/sales/pipeline/"
    assert Opportunity.objects.get(pk=deal.pk).stage_id == stages["Proposal"].pk


def test_someone_elses_deal_cannot_be_moved(client, make_user, deal, stages):
    client.force_login(make_user("other.rep", "sales_rep"))
    response = client.post(f"/sales/opportunities/{deal.pk}/move/", {"stage": stages["Proposal"].pk},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert Opportunity.objects.get(pk=deal.pk).stage_id == stages["Prospecting"].pk
