"""Authentication of the REST API: bearer tokens, the browser session with CSRF, tokens
issued and revoked through the API, the rate limit, the OpenAPI document and docs page."""

import json

import pytest
from django.test import Client

from guanxi.core.models import ApiToken, AuditLog, Contact, Role

pytestmark = pytest.mark.django_db

CSRF_SECRET = "k" * 32


def test_unauthenticated_request_is_refused_with_401(admin_user):
    # given no credentials at all
    response = Client().get("/api/v1/contacts")
    # then the API says authentication is required, as JSON, and names the scheme
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication required."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bad_token_is_refused_with_401_and_writes_nothing(admin_user):
    # given a token that was never issued
    client = Client(HTTP_AUTHORIZATION="Bearer gx_not-a-real-token")
    # when it reads and writes
    read = client.get("/api/v1/contacts")
    write = client.post("/api/v1/contacts", {"full_name": "Intruder"}, content_type="application/json")
    # then both are 401 (not a CSRF error) and nothing is stored
    assert read.status_code == 401 and write.status_code == 401
    assert write.json()["detail"] == "Authentication required."
    assert Contact.objects.count() == 0


def test_token_of_a_deactivated_user_stops_working(make_user, client_for):
    # given a user with a working token
    rep = make_user("rep", Role.SALES_REP)
    client = client_for(rep)
    assert client.get("/api/v1/users/me").status_code == 200
    # when the user is deactivated
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    # then the token is refused
    assert client.get("/api/v1/users/me").status_code == 401


def test_session_auth_works_after_login(make_user):
    # given a user signed in through the session
    make_user("fang", Role.SALES_REP, display_name="王芳")
    client = Client()
    assert client.login(username="fang", password="correct-horse-42")
    # when the browser calls the API with its session cookie
    response = client.get("/api/v1/users/me")
    # then the API knows who it is
    assert response.status_code == 200
    assert response.json()["username"] == "fang"
    assert response.json()["display_name"] == "王芳"
    assert response.json()["role"] == "sales_rep"


def test_session_write_without_csrf_token_is_refused_and_changes_nothing(make_user):
    # given a signed-in browser that enforces CSRF like a real one
    make_user("fang", Role.SALES_REP)
    client = Client(enforce_csrf_checks=True)
    client.login(username="fang", password="correct-horse-42")
    client.cookies["csrftoken"] = CSRF_SECRET
    # when a page on another site makes it POST without the X-CSRFToken header
    response = client.post("/api/v1/contacts", {"full_name": "Forged"}, content_type="application/json")
    # then the write is refused and nothing is stored
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert Contact.objects.count() == 0


def test_session_write_with_csrf_token_succeeds(make_user):
    # given a signed-in browser that sends the CSRF cookie's value in the header
    rep = make_user("fang", Role.SALES_REP)
    client = Client(enforce_csrf_checks=True)
    client.login(username="fang", password="correct-horse-42")
    client.cookies["csrftoken"] = CSRF_SECRET
    # when it creates a contact
    response = client.post("/api/v1/contacts", {"full_name": "Li Lei"}, content_type="application/json",
                           HTTP_X_CSRFTOKEN=CSRF_SECRET)
    # then the contact is stored and owned by the signed-in user
    assert response.status_code == 201, response.content
    contact = Contact.objects.get(pk=response.json()["id"])
    assert contact.full_name == "Li Lei" and contact.owner_id == rep.pk


def test_session_reads_need_no_csrf_token(make_user):
    make_user("fang", Role.SALES_REP)
    client = Client(enforce_csrf_checks=True)
    client.login(username="fang", password="correct-horse-42")
    assert client.get("/api/v1/contacts").status_code == 200


def test_token_issued_through_the_api_is_shown_once_and_works(make_user, client_for):
    # given a signed-in user
    rep = make_user("rep", Role.SALES_REP)
    client = Client()
    client.force_login(rep)
    # when they issue a token
    response = client.post("/api/v1/tokens", {"name": "reporting script"}, content_type="application/json")
    # then the clear token is in the answer, only its digest is stored, and it authenticates
    assert response.status_code == 201
    body = response.json()
    token = ApiToken.objects.get(pk=body["id"])
    assert body["token"].startswith("gx_") and body["token"] not in (token.digest, token.prefix)
    assert body["user_id"] == rep.pk and token.user_id == rep.pk and token.name == "reporting script"
    assert Client(HTTP_AUTHORIZATION=f"Bearer {body['token']}").get("/api/v1/users/me").json()["id"] == rep.pk
    # and the token list never shows the clear token again
    listed = client.get("/api/v1/tokens").json()["items"]
    assert [item["id"] for item in listed] == [token.pk]
    assert "token" not in listed[0]
    assert AuditLog.objects.filter(object_type="apitoken", object_id=str(token.pk), action="create").exists()


def test_token_without_a_name_is_refused(make_user, client_for):
    rep = make_user("rep", Role.SALES_REP)
    response = client_for(rep).post("/api/v1/tokens", {"name": ""}, content_type="application/json")
    assert response.status_code == 422
    assert "name" in response.json()["errors"]
    assert ApiToken.objects.filter(user=rep).count() == 1  # only the client's own token


def test_revoked_token_stops_working_and_others_cannot_revoke_it(make_user, client_for):
    # given two users, each with a token
    rep = make_user("rep", Role.SALES_REP)
    other = make_user("other", Role.SALES_REP)
    rep_client, other_client = client_for(rep), client_for(other)
    rep_token = ApiToken.objects.get(user=rep)
    # when someone else tries to revoke the rep's token
    refused = other_client.delete(f"/api/v1/tokens/{rep_token.pk}")
    # then it is not found for them and still works
    assert refused.status_code == 404
    assert rep_client.get("/api/v1/users/me").status_code == 200
    # when the rep revokes it
    assert rep_client.delete(f"/api/v1/tokens/{rep_token.pk}").status_code == 204
    # then it is gone, refused, and the revocation is audited
    assert not ApiToken.objects.filter(pk=rep_token.pk).exists()
    assert rep_client.get("/api/v1/users/me").status_code == 401
    assert AuditLog.objects.filter(object_type="apitoken", object_id=str(rep_token.pk), action="delete").exists()


def test_only_administrators_issue_tokens_for_others(admin_user, make_user, client_for):
    rep = make_user("rep", Role.SALES_REP)
    other = make_user("other", Role.SALES_REP)
    # a sales rep may not
    refused = client_for(rep).post("/api/v1/tokens", {"name": "x", "user_id": other.pk},
                                   content_type="application/json")
    assert refused.status_code == 403
    assert not ApiToken.objects.filter(user=other).exists()
    # an administrator may
    granted = client_for(admin_user).post("/api/v1/tokens", {"name": "integration", "user_id": other.pk},
                                          content_type="application/json")
    assert granted.status_code == 201 and granted.json()["user_id"] == other.pk
    assert ApiToken.objects.filter(user=other, name="integration").count() == 1


def test_rate_limit_answers_429_with_retry_after(make_user, client_for, settings):
    # given a limit of three calls a minute
    settings.GUANXI_API_RATE_LIMIT = "3/m"
    rep = make_user("rep", Role.SALES_REP)
    client = client_for(rep)
    # when a fourth call arrives within the minute
    answers = [client.get("/api/v1/users/me") for _ in range(4)]
    # then the first three pass and the fourth is told when to retry
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[3].json() == {"detail": "Too many requests; slow down."}
    assert 1 <= int(answers[3]["Retry-After"]) <= 60


def test_rate_limit_refuses_writes_without_storing_them(make_user, client_for, settings):
    settings.GUANXI_API_RATE_LIMIT = "1/m"
    rep = make_user("rep", Role.SALES_REP)
    client = client_for(rep)
    assert client.get("/api/v1/users/me").status_code == 200
    response = client.post("/api/v1/contacts", {"full_name": "Too Fast"}, content_type="application/json")
    assert response.status_code == 429 and response["Retry-After"]
    assert Contact.objects.count() == 0


def test_rate_limit_counts_each_user_separately(make_user, client_for, settings):
    settings.GUANXI_API_RATE_LIMIT = "2/m"
    busy, calm = make_user("busy", Role.SALES_REP), make_user("calm", Role.SALES_REP)
    busy_client, calm_client = client_for(busy), client_for(calm)
    assert [busy_client.get("/api/v1/users/me").status_code for _ in range(3)] == [200, 200, 429]
    assert calm_client.get("/api/v1/users/me").status_code == 200


def test_openapi_document_is_valid_json_and_lists_the_contact_paths(db):
    # when anyone fetches the schema
    response = Client().get("/api/v1/openapi.json")
    # then it is an OpenAPI 3 document listing the contact routes with their methods
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert set(paths["/api/v1/contacts"]) == {"get", "post"}
    assert set(paths["/api/v1/contacts/{contact_id}"]) == {"get", "patch", "delete"}
    assert "get" in paths["/api/v1/contacts/{contact_id}/timeline"]
    for path in ("/api/v1/accounts", "/api/v1/search", "/api/v1/lookup/phone", "/api/v1/custom-fields",
                 "/api/v1/audit-log", "/api/v1/users/me", "/api/v1/tokens", "/api/v1/interactions", "/api/v1/jobs"):
        assert path in paths, path
    # and lists declare their pagination parameters and both auth schemes are documented
    parameters = {parameter["name"] for parameter in paths["/api/v1/contacts"]["get"]["parameters"]}
    assert {"limit", "offset", "count", "q", "lifecycle_stage", "tag", "sort"} <= parameters
    assert set(document["components"]["securitySchemes"]) == {"TokenAuth", "SessionAuth"}
    # and schema fields carry descriptions
    contact_schema = document["components"]["schemas"]["ContactOut"]["properties"]
    assert contact_schema["phones"]["description"]
    assert contact_schema["version"]["description"]


def test_docs_page_is_served_without_a_cdn(db):
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/v1/openapi.json" in page
    assert "swagger-ui-bundle.js" in page and "cdn." not in page
