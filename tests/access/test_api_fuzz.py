"""A schema-driven fuzzer over the REST API: schemathesis generates valid and invalid calls
for every operation and method of the OpenAPI document, sends them as an admin of a tenant
with data, and checks that no answer is a server error and that every answer (status code,
content type, body) is one the document declares.

Bounded for the normal suite: ``USHIRO_FUZZ_EXAMPLES`` examples per operation (default 30),
derandomised so that a run is repeatable; raise it and set ``USHIRO_FUZZ_RANDOM=1`` to explore
further when hunting."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ushiro.identity import Role, User

EXAMPLES = int(os.environ.get("USHIRO_FUZZ_EXAMPLES", "30"))
# Set USHIRO_FUZZ_RANDOM=1 to explore new examples on each run instead of the same ones.
DERANDOMIZE = os.environ.get("USHIRO_FUZZ_RANDOM", "") != "1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def fuzz_headers(client: TestClient, make_user: Callable[..., User],
                 api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    """An admin's token in a tenant with requests (ids 1… exist), a reply and drafts."""
    admin = make_user(Role.ADMIN, name="管理 一郎")
    requester = make_user(Role.REQUESTER, name="総務 花子")
    headers, own = api_headers(admin), api_headers(requester)
    for n in range(3):
        created = client.post("/api/v1/requests", headers=own,
                              json={"title": f"備品の購入 {n}", "body": "ボールペンを10本。",
                                    "category": "備品・消耗品", "tags": ["備品"]})
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]
        client.post(f"/api/v1/requests/{request_id}/replies", headers=headers,
                    json={"body": "手配します。"})
        client.post(f"/api/v1/requests/{request_id}/drafts", headers=headers)
    return headers


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation of the OpenAPI document (it needs no database)."""
    from fastapi import FastAPI

    from ushiro.app import _include_routers

    app = FastAPI()
    _include_routers(app)
    return [(method.upper(), path) for path, item in app.openapi()["paths"].items()
            for method in item]


OPERATIONS = _operations()


# schemathesis' own pytest integration (schemathesis.pytest.from_fixture) does not run under
# pytest 9.2 (it sets Node._nodeid); its Python API gives each operation's strategy instead.
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_answers_every_call_as_documented(client: TestClient,
                                                  fuzz_headers: dict[str, str],
                                                  method: str, path: str) -> None:
    """GIVEN the OpenAPI document of /api/v1 and an admin of a tenant with data
    WHEN schemathesis sends generated calls (valid and invalid) to the operation
    THEN no answer is a 5xx, and each answer's status, content type and body are declared."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        case.call_and_validate(headers=fuzz_headers, checks=CHECKS)

    call()
