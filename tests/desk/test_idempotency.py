"""Idempotency keys (POST /api/v1/requests): the whole key counts, a key belongs to the user
who sent it, and a key replayed with another payload is refused rather than answered with a
request the caller did not send."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ushiro.audit import AuditEvent
from ushiro.core.runtime import Runtime
from ushiro.desk.models import Request
from ushiro.identity import Role, User

Headers = Callable[..., dict[str, str]]
PAYLOAD = {"title": "名刺の発注", "body": "100枚お願いします。"}


@pytest.fixture
def requester(make_user: Callable[..., User]) -> User:
    return make_user(Role.REQUESTER, name="経理 次郎")


def _count(rt: Runtime, model: type) -> int:
    with rt.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _post(client: TestClient, headers: dict[str, str], key: str,
          payload: dict[str, object] | None = None) -> object:
    return client.post("/api/v1/requests", headers={**headers, "Idempotency-Key": key},
                       json=payload or PAYLOAD)


def test_keys_sharing_a_long_prefix_are_different_keys(client: TestClient, rt: Runtime,
                                                        requester: User,
                                                        api_headers: Headers) -> None:
    """GIVEN two keys whose first 200 characters are equal
    WHEN each is sent with its own request
    THEN both requests are stored (the key was once cut to 200 characters)."""
    headers, prefix = api_headers(requester), "k" * 200
    before = _count(rt, Request)
    first = _post(client, headers, prefix + "-1", {"title": "一件目", "body": "一件目の本文"})
    second = _post(client, headers, prefix + "-2", {"title": "二件目", "body": "二件目の本文"})
    assert first.status_code == second.status_code == 201, second.text
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["title"] == "二件目"
    assert _count(rt, Request) == before + 2


def test_a_long_key_replays(client: TestClient, rt: Runtime, requester: User,
                            api_headers: Headers) -> None:
    """GIVEN a key of the longest accepted length (1,000 characters)
    WHEN it is sent twice with the same payload
    THEN one request is stored and both answers name it."""
    headers, key = api_headers(requester), "x" * 1000
    before = _count(rt, Request)
    first, again = _post(client, headers, key), _post(client, headers, key)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["id"] == again.json()["id"]
    assert _count(rt, Request) == before + 1


def test_a_too_long_key_is_refused(client: TestClient, rt: Runtime, requester: User,
                                   api_headers: Headers) -> None:
    """GIVEN a key over 1,000 characters
    WHEN it is sent
    THEN 422 with code validation_error naming the header, and nothing is stored."""
    before = _count(rt, Request)
    response = _post(client, api_headers(requester), "x" * 1001)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == "Idempotency-Key"
    assert "1,000" in error["message"] and "Idempotency-Key" in error["message"]
    assert _count(rt, Request) == before


def test_an_empty_key_is_refused(client: TestClient, requester: User,
                                 api_headers: Headers) -> None:
    """GIVEN a key of spaces only
    WHEN it is sent
    THEN 422 naming the header (it would otherwise silently mean no key)."""
    response = _post(client, api_headers(requester), "   ")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "Idempotency-Key"


def test_the_same_key_from_another_user_is_their_own(client: TestClient, rt: Runtime,
                                                     requester: User,
                                                     make_user: Callable[..., User],
                                                     api_headers: Headers) -> None:
    """GIVEN a request created by user A with a key
    WHEN user B of the same tenant (a requester, and an admin) sends the same key
    THEN each gets a new request of their own, never A's and never a 404."""
    mine = _post(client, api_headers(requester), "shared-key")
    colleague = make_user(Role.REQUESTER, name="人事 三郎")
    admin = make_user(Role.ADMIN, name="管理 一郎")
    theirs = _post(client, api_headers(colleague), "shared-key",
                   {"title": "同僚の件", "body": "同僚の本文"})
    admins = _post(client, api_headers(admin), "shared-key",
                   {"title": "管理者の件", "body": "管理者の本文"})
    assert mine.status_code == theirs.status_code == admins.status_code == 201, theirs.text
    assert len({mine.json()["id"], theirs.json()["id"], admins.json()["id"]}) == 3
    assert theirs.json()["title"] == "同僚の件"
    assert admins.json()["title"] == "管理者の件"


def test_a_key_is_the_users_across_their_tokens(client: TestClient, requester: User,
                                                api_headers: Headers) -> None:
    """GIVEN a request created with one of a user's tokens
    WHEN the user retries with the same key through another of their tokens
    THEN the first request is returned (the key belongs to the user)."""
    first = _post(client, api_headers(requester), "retry-1")
    again = _post(client, api_headers(requester), "retry-1")
    assert first.json()["id"] == again.json()["id"]


def test_a_replay_with_another_payload_is_422(client: TestClient, rt: Runtime,
                                              requester: User, api_headers: Headers) -> None:
    """GIVEN a request created with a key
    WHEN the same key comes with a different title
    THEN 422 idempotency_key_reused naming the header; nothing else is stored."""
    headers = api_headers(requester)
    first = _post(client, headers, "order-1")
    before = (_count(rt, Request), _count(rt, AuditEvent))
    changed = _post(client, headers, "order-1", {"title": "別件", "body": "100枚お願いします。"})
    assert changed.status_code == 422, changed.text
    error = changed.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["field"] == "Idempotency-Key"
    assert (_count(rt, Request), _count(rt, AuditEvent)) == before
    again = _post(client, headers, "order-1")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
