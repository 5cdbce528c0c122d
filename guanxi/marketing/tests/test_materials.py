"""The marketing materials library: files with versions (each fingerprinted), tags,
search, download with access checks, and links from campaigns."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guanxi.core.models import Role
from guanxi.marketing import services
from guanxi.marketing.models import Material, MaterialVersion

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
