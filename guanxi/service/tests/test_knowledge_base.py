"""The knowledge base: articles in English and Chinese, every saved text a version,
full-text search in both languages, and suggestions for a new case from its subject and
description — through the API, with the stored state checked."""

import pytest

from guanxi.core.models import Role
from guanxi.service import services
from guanxi.service.models import CaseEvent, KnowledgeArticle, KnowledgeArticleVersion

pytestmark = pytest.mark.django_db
API = "/api/v1/service"


@pytest.fixture
def articles(admin_user):
    """Three published articles (broadband in both languages, router reset, invoice) and a draft."""
    broadband = services.article_create(actor=admin_user, data={"category": "network", "status": "published",
                                                                "translations": [
        {"language": "zh-hans", "title": "宽带无法连接", "problem": "光猫指示灯红色闪烁，无法上网",
         "solution": "检查光纤接头，重启光猫", "keywords": "断网 掉线"},
        {"language": "en", "title": "Broadband cannot connect", "problem": "The modem light blinks red",
         "solution": "Check the fibre plug and restart the modem", "keywords": "offline outage"}]})
    router = services.article_create(actor=admin_user, data={"category": "technical", "status": "published",
                                                             "translations": [
        {"language": "en", "title": "Reset a Wi-Fi router", "problem": "Forgot the Wi-Fi password",
         "solution": "Hold the reset button for ten seconds"}]})
    invoice = services.article_create(actor=admin_user, data={"category": "billing", "status": "published",
                                                              "translations": [
        {"language": "zh-hans", "title": "账单金额有误", "problem": "本月账单重复扣费",
         "solution": "核对账单明细后申请退款"}]})
    draft = services.article_create(actor=admin_user, data={"translations": [
        {"language": "en", "title": "Broadband outage draft", "solution": "Not reviewed yet"}]})
    return broadband, router, invoice, draft


def test_an_article_is_written_in_two_languages_as_first_versions(api_client, admin_user):
    response = api_client.post(f"{API}/articles", {"category": "network", "translations": [
        {"language": "en", "title": "No signal", "solution": "Move closer to the window"},
        {"language": "zh-hans", "title": "没有信号", "solution": "靠近窗户"}]}, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert [item["language"] for item in body["translations"]] == ["en", "zh-hans"]
    assert body["status"] == "draft"
    stored = KnowledgeArticleVersion.objects.filter(article_id=body["id"])
    assert sorted(stored.values_list("language", "number", "is_current")) == [("en", 1, True), ("zh-hans", 1, True)]


def test_editing_keeps_every_version_and_restore_brings_an_old_text_back(api_client, articles):
    broadband = articles[0]
    response = api_client.patch(f"{API}/articles/{broadband.pk}", {"translations": [
        {"language": "en", "solution": "Replace the fibre cable", "change_note": "Cable fault is commoner"}]},
        content_type="application/json")
    assert response.status_code == 200
    english = KnowledgeArticleVersion.objects.filter(article=broadband, language="en").order_by("number")
    assert [(version.number, version.is_current) for version in english] == [(1, False), (2, True)]
    assert english[1].title == "Broadband cannot connect"  # unchanged fields carried over
    versions = api_client.get(f"{API}/articles/{broadband.pk}/versions", {"language": "en"}).json()
    assert [item["number"] for item in versions] == [2, 1]
    restored = api_client.post(f"{API}/articles/{broadband.pk}/restore", {"version_id": english[0].pk},
                               content_type="application/json")
    assert restored.status_code == 201 and restored.json()["number"] == 3
    current = KnowledgeArticleVersion.objects.get(article=broadband, language="en", is_current=True)
    assert current.solution == "Check the fibre plug and restart the modem"
    # the Chinese text was not touched
    assert KnowledgeArticleVersion.objects.filter(article=broadband, language="zh-hans").count() == 1


def test_saving_the_same_text_again_makes_no_new_version(api_client, articles):
    router = articles[1]
    api_client.patch(f"{API}/articles/{router.pk}", {"translations": [
        {"language": "en", "title": "Reset a Wi-Fi router"}]}, content_type="application/json")
    assert KnowledgeArticleVersion.objects.filter(article=router).count() == 1


@pytest.mark.parametrize(("query", "expected_titles"), [
    ("宽带", {"宽带无法连接"}),
    ("光猫 重启", {"宽带无法连接"}),
    ("扣费", {"账单金额有误"}),
    ("modem", {"Broadband cannot connect"}),
    ("reset button", {"Reset a Wi-Fi router"}),
    ("broadband", {"Broadband cannot connect", "Broadband outage draft"}),
])
def test_full_text_search_finds_chinese_and_english(api_client, articles, query, expected_titles):
    response = api_client.get(f"{API}/articles", {"q": query})
    assert response.status_code == 200
    assert {item["title"] for item in response.json()["items"]} == expected_titles


def test_search_can_be_narrowed_to_a_language_and_status(api_client, articles):
    response = api_client.get(f"{API}/articles", {"q": "broadband", "status": "published", "language": "en"})
    assert [item["title"] for item in response.json()["items"]] == ["Broadband cannot connect"]


def test_suggestions_for_a_new_chinese_case(api_client, articles, agent, customer):
    case = services.case_open(actor=agent, data={"subject": "家里宽带连不上", "contact_id": customer.pk,
                                                 "description": "光猫的灯一直红色闪烁"})
    response = api_client.get(f"{API}/cases/{case.pk}/suggestions")
    assert response.status_code == 200
    suggested = response.json()
    assert suggested[0]["article_id"] == articles[0].pk  # the broadband article, best first
    assert articles[3].pk not in {item["article_id"] for item in suggested}  # drafts are never suggested


def test_suggestions_from_english_text_prefer_the_requested_language(api_client, articles):
    response = api_client.get(f"{API}/articles/suggestions", {"text": "My modem blinks red and I am offline",
                                                              "language": "en"})
    top = response.json()[0]
    assert (top["article_id"], top["language"]) == (articles[0].pk, "en")


def test_marking_an_article_helpful_counts_and_notes_it_on_the_case(api_client, articles, agent, customer):
    case = services.case_open(actor=agent, data={"subject": "Wi-Fi password", "contact_id": customer.pk})
    response = api_client.post(f"{API}/articles/{articles[1].pk}/helpful", {"case_id": case.pk},
                               content_type="application/json")
    assert response.status_code == 200 and response.json()["helpful_count"] == 1
    assert CaseEvent.objects.filter(case=case, kind="knowledge", to_value=f"KB-{articles[1].pk}").exists()


def test_bad_articles_are_refused_and_nothing_is_stored(api_client):
    before = KnowledgeArticle.objects.count()
    missing = api_client.post(f"{API}/articles", {"translations": []}, content_type="application/json")
    assert missing.status_code == 422 and "translations" in missing.json()["errors"]
    twice = api_client.post(f"{API}/articles", {"translations": [
        {"language": "en", "title": "A", "solution": "B"}, {"language": "en", "title": "C", "solution": "D"}]},
        content_type="application/json")
    assert twice.status_code == 422
    no_solution = api_client.post(f"{API}/articles", {"translations": [{"language": "en", "title": "A"}]},
                                  content_type="application/json")
    assert no_solution.status_code == 422 and "translations.0.solution" in no_solution.json()["errors"]
    assert KnowledgeArticle.objects.count() == before


def test_authors_change_their_own_articles_only(articles, make_user, client_for):
    author = make_user("kb-author", Role.SERVICE_AGENT)
    client = client_for(author)
    created = client.post(f"{API}/articles", {"translations": [{"language": "en", "title": "Mine",
                                                                "solution": "Do it"}]},
                          content_type="application/json")
    own = client.patch(f"{API}/articles/{created.json()['id']}", {"status": "published"},
                       content_type="application/json")
    other = client.patch(f"{API}/articles/{articles[1].pk}", {"status": "archived"}, content_type="application/json")
    assert (own.status_code, other.status_code) == (200, 403)
    articles[1].refresh_from_db()
    assert articles[1].status == "published"
