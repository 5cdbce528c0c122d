"""The marketing materials library: files with versions (each fingerprinted), tags,
search, download with access checks, and links from campaigns."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guanxi.core.models import Role
from guanxi.marketing import services
from guanxi.marketing.models import Campaign, Material, MaterialVersion

pytestmark = pytest.mark.django_db


def upload(name="brochure.pdf", content=b"%PDF-1.4 5G brochure v1"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_add_search_version_and_download(api_client):
    response = api_client.post("/api/v1/marketing/materials", {
        "title": "5G 商务套餐宣传册", "description": "For enterprise customers", "tags": "5G, brochure",
        "language": "zh-hans", "note": "first print", "file": upload()})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["current_version"], body["tags"]) == (1, ["5G", "brochure"])
    material = Material.objects.get(pk=body["id"])
    [first] = MaterialVersion.objects.filter(material=material)
    assert first.sha256 == hashlib.sha256(b"%PDF-1.4 5G brochure v1").hexdigest() and first.size == 23
    # a new version keeps the old one
    response = api_client.post(f"/api/v1/marketing/materials/{material.pk}/versions", {
        "note": "new prices", "file": upload("brochure-v2.pdf", b"%PDF-1.4 v2")})
    assert response.status_code == 201 and response.json()["number"] == 2
    material.refresh_from_db()
    assert material.current_version == 2 and material.versions.count() == 2
    # search by words of the title, the description or a tag
    for query in ("宣传册", "enterprise", "brochure"):
        found = api_client.get("/api/v1/marketing/materials", {"q": query}).json()["items"]
        assert [item["id"] for item in found] == [material.pk], query
    assert api_client.get("/api/v1/marketing/materials", {"q": "nothing"}).json()["items"] == []
    # each version downloads as uploaded
    download = api_client.get(f"/api/v1/marketing/materials/{material.pk}/versions/1/download")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 5G brochure v1"
    assert "brochure.pdf" in download["Content-Disposition"]


def test_an_upload_without_a_file_or_title_stores_nothing(api_client):
    response = api_client.post("/api/v1/marketing/materials", {"title": "No file"})
    assert response.status_code == 422 and "file" in response.json()["errors"]
    response = api_client.post("/api/v1/marketing/materials", {"title": "", "file": upload()})
    assert response.status_code == 422
    assert not Material.objects.exists() and not MaterialVersion.objects.exists()


def test_campaigns_link_materials_and_keep_them(api_client, admin_user):
    material = services.material_create(actor=admin_user, data={"title": "Price sheet"}, upload=upload())
    campaign = services.campaign_create(actor=admin_user, data={"name": "Spring", "material_ids": [material.pk]})
    assert api_client.get(f"/api/v1/marketing/campaigns/{campaign.pk}").json()["material_ids"] == [material.pk]
    assert api_client.delete(f"/api/v1/marketing/materials/{material.pk}").status_code == 409
    response = api_client.patch(f"/api/v1/marketing/campaigns/{campaign.pk}", {"material_ids": [987654]},
                                content_type="application/json")
    assert response.status_code == 422 and "material_ids" in response.json()["errors"]


def test_materials_pages(client, admin_user, make_user):
    client.force_login(admin_user)
    response = client.post("/marketing/materials/new/", {"title": "Deck", "description": "", "language": "",
                                                         "tags": "sales", "note": "", "file": upload("deck.pdf")})
    assert response.status_code == 302, response.content.decode()[:2000]
    material = Material.objects.get(title="Deck")
    page = client.get(f"/marketing/materials/{material.pk}/").content.decode()
    assert "deck.pdf" in page
    response = client.get(f"/marketing/materials/{material.pk}/v1/download/")
    assert b"".join(response.streaming_content) == b"%PDF-1.4 5G brochure v1"
    # sales reps may read the library, not change it
    client.force_login(make_user("rep", Role.SALES_REP))
    assert client.get("/marketing/materials/", {"q": "Deck"}).status_code == 200
    assert client.get("/marketing/materials/new/").status_code == 403


def test_pages_upload_a_new_version_search_by_tag_and_link_from_a_campaign(client, admin_user):
    client.force_login(admin_user)
    deck = services.material_create(actor=admin_user, data={"title": "5G 宣传册", "tags": ["5G", "brochure"]},
                                    upload=upload())
    services.material_create(actor=admin_user, data={"title": "Fibre price sheet", "tags": ["fibre"]},
                             upload=upload("fibre.pdf", b"%PDF fibre"))
    # a new version through the page; without a file nothing is stored
    response = client.post(f"/marketing/materials/{deck.pk}/", {"note": "no file"})
    assert response.status_code == 400 and MaterialVersion.objects.filter(material=deck).count() == 1
    response = client.post(f"/marketing/materials/{deck.pk}/", {"note": "new prices",
                                                                "file": upload("brochure-v2.pdf", b"%PDF v2")})
    assert response.status_code == 302
    deck.refresh_from_db()
    assert deck.current_version == 2
    assert MaterialVersion.objects.get(material=deck, number=2).note == "new prices"
    page = client.get(f"/marketing/materials/{deck.pk}/").content.decode()
    assert "brochure-v2.pdf" in page and "brochure.pdf" in page
    response = client.get(f"/marketing/materials/{deck.pk}/v2/download/")
    assert b"".join(response.streaming_content) == b"%PDF v2"
    # search by words or by tag lists only what matches
    found = client.get("/marketing/materials/", {"q": "宣传册"}).content.decode()
    assert "5G 宣传册" in found and "Fibre price sheet" not in found
    found = client.get("/marketing/materials/", {"tag": "fibre"}).content.decode()
    assert "Fibre price sheet" in found and "5G 宣传册" not in found
    # the campaign form links materials, and the campaign page shows them
    response = client.post("/marketing/campaigns/new/", {
        "name": "Brochure mailing", "channel": "direct_mail", "material_ids": [deck.pk], "currency": "CNY",
        "budget": "0", "planned_cost": "0", "actual_cost": "0", "expected_revenue": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="Brochure mailing")
    assert list(campaign.materials.values_list("pk", flat=True)) == [deck.pk]
    assert f"/marketing/materials/{deck.pk}/" in client.get(f"/marketing/campaigns/{campaign.pk}/").content.decode()
    response = client.post("/marketing/campaigns/new/", {
        "name": "Bad link", "channel": "email", "material_ids": [987654], "currency": "CNY",
        "budget": "0", "planned_cost": "0", "actual_cost": "0", "expected_revenue": "0"})
    assert response.status_code == 400 and not Campaign.objects.filter(name="Bad link").exists()
