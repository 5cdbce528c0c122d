"""The sales knowledge board: posts with tags, search in any script, comments; authors
change their own posts."""

from __future__ import annotations

import pytest

from guanxi.sales.models import KnowledgeComment, KnowledgePost

pytestmark = pytest.mark.django_db


def post(client, path, body=None):
    return client.post(path, body or {}, content_type="application/json")


@pytest.fixture
def posts(rep_client):
    first = post(rep_client, "/api/v1/sales/knowledge", {"title": "5G 商务套餐报价技巧", "kind": "tip",
                                                          "body": "先确认员工人数和流量需求。", "tags": ["5G", "报价"]})
    second = post(rep_client, "/api/v1/sales/knowledge", {"title": "Hospital playbook", "kind": "playbook",
                                                           "body": "Ask about uptime first.", "tags": ["healthcare"]})
    assert first.status_code == second.status_code == 201
    return first.json(), second.json()


def test_search_finds_words_in_titles_bodies_and_tags(rep_client, posts):
    def titles(**query):
        return [item["title"] for item in rep_client.get("/api/v1/sales/knowledge", query).json()["items"]]

    assert titles(q="流量") == ["5G 商务套餐报价技巧"]
    assert titles(q="uptime") == ["Hospital playbook"]
    assert titles(q="healthcare") == ["Hospital playbook"]
    assert titles(tag="报价") == ["5G 商务套餐报价技巧"]
    assert titles(kind="playbook") == ["Hospital playbook"]
    assert titles(q="nothing-like-this") == []


def test_colleagues_comment_but_only_the_author_edits(rep_client, client_for, make_user, posts):
    colleague = client_for(make_user("rep.li", "sales_rep"))
    tip = posts[0]
    assert post(colleague, f"/api/v1/sales/knowledge/{tip['id']}/comments", {"body": "很有用！"}).status_code == 201
    assert post(colleague, f"/api/v1/sales/knowledge/{tip['id']}/comments", {"body": ""}).status_code == 422
    refused = colleague.patch(f"/api/v1/sales/knowledge/{tip['id']}", {"title": "Mine now"},
                              content_type="application/json")
    assert refused.status_code == 403
    assert KnowledgePost.objects.get(pk=tip["id"]).title == "5G 商务套餐报价技巧"
    detail = colleague.get(f"/api/v1/sales/knowledge/{tip['id']}").json()
    assert [comment["body"] for comment in detail["comments"]] == ["很有用！"]
    assert KnowledgeComment.objects.count() == 1


def test_retagging_updates_search(rep_client, posts):
    playbook = posts[1]
    rep_client.patch(f"/api/v1/sales/knowledge/{playbook['id']}", {"tags": ["hospitals", "医疗"]},
                     content_type="application/json")
    found = rep_client.get("/api/v1/sales/knowledge", {"q": "医疗"}).json()["items"]
    assert [item["id"] for item in found] == [playbook["id"]]
    assert rep_client.get("/api/v1/sales/knowledge", {"tag": "healthcare"}).json()["items"] == []


def test_a_post_needs_a_title_and_text(rep_client):
    response = post(rep_client, "/api/v1/sales/knowledge", {"kind": "tip"})
    assert response.status_code == 422 and {"title", "body"} <= set(response.json()["errors"])
    assert not KnowledgePost.objects.exists()


def test_the_board_pages(client, rep, posts):
    client.force_login(rep)
    listing = client.get("/sales/knowledge/", {"q": "流量"})
    assert listing.status_code == 200 and "5G 商务套餐报价技巧" in listing.content.decode()
    response = client.post(f"/sales/knowledge/{posts[0]['id']}/", {"body": "补充：带案例"})
    assert response.status_code == 302
    assert KnowledgeComment.objects.filter(body="补充：带案例").exists()
