"""Users through the REST API: who am I, the user list, and administrators changing roles
and removing access, with the stored state and the audit log checked."""

import pytest

from guanxi.core.models import AuditLog, Role, Team, User

pytestmark = pytest.mark.django_db


def patch(client, path, body):
    return client.patch(path, body, content_type="application/json")


def test_me_describes_the_caller(make_user, client_for):
    team = Team.objects.create(name="South sales")
    rep = make_user("rep", Role.SALES_REP, display_name="李雷", team=team)
    body = client_for(rep).get("/api/v1/users/me").json()
    assert (body["id"], body["username"], body["display_name"], body["role"]) == (rep.pk, "rep", "李雷", "sales_rep")
    assert body["team"] == {"id": team.pk, "name": "South sales"}


def test_user_list_shows_active_users_only(admin_user, make_user, client_for):
    rep = make_user("rep", Role.SALES_REP)
    gone = make_user("gone", Role.SALES_REP)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    names = [item["username"] for item in client_for(rep).get("/api/v1/users").json()["items"]]
    assert names == ["admin", "rep"]
    assert client_for(rep).get(f"/api/v1/users/{gone.pk}").status_code == 404


def test_admin_changes_a_users_role_and_team(api_client, admin_user, make_user):
    rep = make_user("rep", Role.SALES_REP)
    team = Team.objects.create(name="North sales")
    response = patch(api_client, f"/api/v1/users/{rep.pk}", {"role": "sales_manager", "team_id": team.pk})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "sales_manager"
    rep.refresh_from_db()
    assert (rep.role, rep.team_id) == ("sales_manager", team.pk)
    entry = AuditLog.objects.get(action="update", object_type="user", object_id=str(rep.pk))
    assert entry.changes["role"] == ["sales_rep", "sales_manager"]


def test_bad_role_and_unknown_team_change_nothing(api_client, make_user):
    rep = make_user("rep", Role.SALES_REP)
    response = patch(api_client, f"/api/v1/users/{rep.pk}", {"role": "emperor", "team_id": 999999})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"role", "team_id"}
    rep.refresh_from_db()
    assert (rep.role, rep.team_id) == ("sales_rep", None)


def test_non_admins_may_not_change_or_remove_users(make_user, client_for):
    manager, rep = make_user("manager", Role.SALES_MANAGER), make_user("rep", Role.SALES_REP)
    client = client_for(manager)
    assert patch(client, f"/api/v1/users/{rep.pk}", {"role": "admin"}).status_code == 403
    assert client.delete(f"/api/v1/users/{rep.pk}").status_code == 403
    rep.refresh_from_db()
    assert rep.role == "sales_rep" and rep.is_active


def test_removing_a_user_deactivates_them_and_their_tokens(api_client, admin_user, make_user, client_for):
    rep = make_user("rep", Role.SALES_REP)
    rep_client = client_for(rep)
    response = api_client.delete(f"/api/v1/users/{rep.pk}")
    assert response.status_code == 204
    rep.refresh_from_db()
    assert not rep.is_active and User.objects.filter(pk=rep.pk).exists()
    assert rep_client.get("/api/v1/users/me").status_code == 401
    assert AuditLog.objects.filter(action="delete", object_type="user", object_id=str(rep.pk)).exists()
    assert api_client.delete(f"/api/v1/users/{rep.pk}").status_code == 404


def test_admin_cannot_remove_themselves(api_client, admin_user):
    response = api_client.delete(f"/api/v1/users/{admin_user.pk}")
    assert response.status_code == 409
    admin_user.refresh_from_db()
    assert admin_user.is_active
