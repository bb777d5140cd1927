"""The harness itself: the app answers, the database rolls back between tests."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ushiro import identity
from ushiro.core.runtime import Runtime
from ushiro.identity import Role


def test_login_page_is_japanese(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "ログイン" in page.text


def test_api_request_roundtrip(client: TestClient, make_user, api_headers) -> None:
    user = make_user(Role.REQUESTER)
    headers = api_headers(user)
    created = client.post("/api/v1/requests", headers=headers,
                          json={"title": "有給休暇の残日数", "body": "残り何日か教えてください。",
                                "category": "勤怠・休暇"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "new" and body["category"] == "勤怠・休暇"
    fetched = client.get(f"/api/v1/requests/{body['id']}", headers=headers)
    assert fetched.json()["title"] == "有給休暇の残日数"


def test_each_test_starts_empty(rt: Runtime) -> None:
    with rt.db.reading() as session:
        assert identity.first_tenant(session) is None
