"""No input produces a server error: integers beyond what the database holds, extreme
dates, lone surrogates, bodies that are not UTF-8 JSON and unknown URLs all get the
project's one error format, with a stable code and a Japanese message."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic.fields import FieldInfo

from ushiro.identity import Role, User

Headers = Callable[..., dict[str, str]]
HUGE = "99999999999999999999"  # above int64
ABOVE_INT32 = "2147483648"  # ids are INTEGER columns: int4 on PostgreSQL
VALID = {"title": "備品の購入", "body": "ボールペンを10本お願いします。"}


def _routes(app: FastAPI) -> Iterator[APIRoute]:
    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # an included router
                yield from walk(route.original_router.routes)

    return walk(app.router.routes)


def _int_path_routes() -> list[tuple[str, str]]:
    from ushiro.app import _include_routers

    app = FastAPI()
    _include_routers(app)
    found = []
    for route in _routes(app):
        if any(p.field_info.annotation is int for p in route.dependant.path_params):
            found.extend((method, route.path) for method in sorted(route.methods))
    return found


INT_PATH_ROUTES = _int_path_routes()


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name="管理 一郎")


def _assert_api_error(response: Any, statuses: tuple[int, ...] = (404, 422)) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] and error["message"]
    assert re.search(r"[ぁ-んァ-ン一-龥]", error["message"]), error["message"]
    return error


@pytest.mark.parametrize("value", [HUGE, ABOVE_INT32, "-" + HUGE, "0"])
@pytest.mark.parametrize(("method", "path"), INT_PATH_ROUTES,
                         ids=[f"{m} {p}" for m, p in INT_PATH_ROUTES])
def test_an_id_out_of_range_in_any_path_is_refused(client: TestClient, admin: User,
                                                   api_headers: Headers,
                                                   login: Callable[[str], str], method: str,
                                                   path: str, value: str) -> None:
    """GIVEN any route with an integer in its path (found from the app's routes)
    WHEN it is called with an integer the database cannot hold (or zero)
    THEN the answer is 404 or 422 in the project's error format (a page for pages),
    never a server error."""
    url = re.sub(r"\{[a-z_]+\}", value, path)
    if path.startswith("/api/"):
        response = client.request(method, url, headers=api_headers(admin), json={})
        _assert_api_error(response)
        return
    csrf = login(admin.email)
    response = client.request(method, url, headers={"X-CSRF-Token": csrf},
                              follow_redirects=False)
    assert response.status_code in (404, 422), (response.status_code, response.text[:500])
    assert "<code>" in response.text


@pytest.mark.parametrize("params", [{"page": HUGE}, {"page": ABOVE_INT32},
                                    {"department_id": HUGE}, {"category_id": HUGE},
                                    {"assignee_id": HUGE}, {"assignee_id": ABOVE_INT32}],
                         ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_api_list_parameters_out_of_range_are_422(client: TestClient, admin: User,
                                                  api_headers: Headers,
                                                  params: dict[str, str]) -> None:
    response = client.get("/api/v1/requests", headers=api_headers(admin), params=params)
    error = _assert_api_error(response, (422,))
    assert error["field"] == next(iter(params))


@pytest.mark.parametrize("params", [{"page": HUGE}, {"department_id": HUGE},
                                    {"category_id": ABOVE_INT32}, {"assignee": HUGE},
                                    {"category_id": "²"}],
                         ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_desk_queue_parameters_out_of_range_are_refused(client: TestClient, admin: User,
                                                        login: Callable[[str], str],
                                                        params: dict[str, str]) -> None:
    login(admin.email)
    response = client.get("/desk", params=params)
    assert response.status_code in (200, 422), (response.status_code, response.text[:300])


@pytest.mark.parametrize("payload", [{"category_id": int(HUGE)}, {"assignee_id": int(HUGE)},
                                     {"category_id": int(ABOVE_INT32)}],
                         ids=["category-huge", "assignee-huge", "category-int32"])
def test_api_change_ids_out_of_range_are_422(client: TestClient, admin: User,
                                             api_headers: Headers,
                                             payload: dict[str, int]) -> None:
    headers = api_headers(admin)
    created = client.post("/api/v1/requests", headers=headers, json=VALID).json()
    response = client.patch(f"/api/v1/requests/{created['id']}", headers=headers, json=payload)
    assert _assert_api_error(response, (422,))["field"] == next(iter(payload))


@pytest.mark.parametrize("category", [HUGE, ABOVE_INT32, "²"])
def test_a_category_given_as_an_impossible_number_is_422(client: TestClient, admin: User,
                                                        api_headers: Headers,
                                                        category: str) -> None:
    response = client.post("/api/v1/requests", headers=api_headers(admin),
                           json={**VALID, "category": category})
    assert _assert_api_error(response, (422,))["field"] == "category"


@pytest.mark.parametrize("due_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00",
                                    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                                    "1900-01-01T00:00:00Z"])
def test_an_extreme_due_date_is_422(client: TestClient, admin: User, api_headers: Headers,
                                    due_at: str) -> None:
    """GIVEN a request
    WHEN its due date is set outside 2000–2199 (or beyond what a timestamp holds)
    THEN 422 naming due_at; the request keeps its due date."""
    headers = api_headers(admin)
    created = client.post("/api/v1/requests", headers=headers, json=VALID).json()
    response = client.patch(f"/api/v1/requests/{created['id']}", headers=headers,
                            json={"due_at": due_at})
    assert _assert_api_error(response, (422,))["field"] == "due_at"
    after = client.get(f"/api/v1/requests/{created['id']}", headers=headers).json()
    assert after["due_at"] == created["due_at"]


def test_a_plausible_due_date_is_stored(client: TestClient, admin: User,
                                        api_headers: Headers) -> None:
    headers = api_headers(admin)
    created = client.post("/api/v1/requests", headers=headers, json=VALID).json()
    response = client.patch(f"/api/v1/requests/{created['id']}", headers=headers,
                            json={"due_at": "2027-03-31T17:00:00+09:00"})
    assert response.status_code == 200, response.text
    assert response.json()["due_at"].startswith("2027-03-31T08:00:00")


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/requests", '{"title": "件名", "body": "本文", "tags": ["\\ud800"]}'),
    ("/api/v1/requests", '{"title": "\\udfff件名", "body": "本文"}'),
    ("/api/v1/requests", '{"title": "件名", "body": "本文\\ud83d"}'),
], ids=["tag", "title", "body-half-pair"])
def test_a_lone_surrogate_is_422(client: TestClient, admin: User, api_headers: Headers,
                                 path: str, body: str) -> None:
    response = client.post(path, headers={**api_headers(admin),
                                          "Content-Type": "application/json"},
                           content=body.encode())
    error = _assert_api_error(response, (422,))
    assert error["code"] == "validation_error"


def test_an_escaped_surrogate_pair_is_one_character(client: TestClient, admin: User,
                                                    api_headers: Headers) -> None:
    """A valid pair (😀 as \\ud83d\\ude00) is not a lone surrogate and is stored."""
    response = client.post("/api/v1/requests",
                           headers={**api_headers(admin), "Content-Type": "application/json"},
                           content=b'{"title": "\\ud83d\\ude00", "body": "\\\\ud800 is text"}')
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "😀"
    assert response.json()["body"] == "\\ud800 is text"


@pytest.mark.parametrize("raw", [b'{"title": "\x8c\x8f", "body": "x"}',
                                 "{\"title\": \"件名\", \"body\": \"本文\"}".encode("shift_jis"),
                                 b'{"title": ', b"\xff\xfe{", b"[1, 2", b"null"],
                         ids=["latin1", "shift-jis", "truncated", "bom-garbage", "array",
                              "null"])
def test_a_body_that_is_not_utf8_json_is_a_japanese_error(client: TestClient, admin: User,
                                                          api_headers: Headers,
                                                          raw: bytes) -> None:
    response = client.post("/api/v1/requests",
                           headers={**api_headers(admin), "Content-Type": "application/json"},
                           content=raw)
    error = _assert_api_error(response, (400, 422))
    assert error["code"] == "validation_error"
    assert error["field"] == "body"


@pytest.mark.parametrize(("method", "url", "status", "code"), [
    ("GET", "/api/v1/nothing-here", 404, "not_found"),
    ("GET", "/api/v2/requests", 404, "not_found"),
    ("DELETE", "/api/v1/requests", 405, "method_not_allowed"),
    ("PUT", "/api/v1/requests/1", 405, "method_not_allowed"),
])
def test_unknown_api_urls_and_methods_use_the_error_format(client: TestClient, admin: User,
                                                           api_headers: Headers, method: str,
                                                           url: str, status: int,
                                                           code: str) -> None:
    response = client.request(method, url, headers=api_headers(admin))
    assert _assert_api_error(response, (status,))["code"] == code


def test_an_unknown_page_is_a_japanese_page(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "<code>not_found</code>" in response.text
    assert "ページが見つかりません" in response.text


def _int_metadata(annotation: Any, metadata: list[Any]) -> list[Any] | None:
    """The constraints of an integer annotation (``int``, ``Id``, ``Id | None``…); None when
    it is no integer."""
    if annotation is int:
        return list(metadata)
    if get_origin(annotation) is Annotated:
        inner, *extra = get_args(annotation)
        flat = [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
        return _int_metadata(inner, [*metadata, *flat])
    for arg in get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ():
        found = _int_metadata(arg, metadata)
        if found is not None:
            return found
    return None


def _int_params(route: APIRoute) -> Iterator[tuple[str, list[Any]]]:
    """(name, constraints) of every integer parameter of a route: path, query, header,
    form field, and every integer field of its JSON body models."""
    from pydantic import BaseModel

    dependant = route.dependant
    for param in (dependant.path_params + dependant.query_params + dependant.header_params
                  + dependant.body_params):
        annotation = param.field_info.annotation
        for arg in (annotation, *get_args(annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                for name, field in arg.model_fields.items():
                    found = _int_metadata(field.annotation, field.metadata)
                    if found is not None:
                        yield f"{param.name}.{name}", found
        found = _int_metadata(annotation, param.field_info.metadata)
        if found is not None:
            yield param.name, found


def test_every_integer_input_is_bounded_and_every_api_route_reads_json_strictly() -> None:
    """GIVEN the app's routes
    WHEN their integer inputs and their route classes are inspected
    THEN every integer has an upper bound (core.limits) and every /api route reads its JSON
    strictly (web.strict_json): a new route cannot reopen either hole unnoticed."""
    from ushiro.app import _include_routers
    from ushiro.web.strict_json import ApiRoute

    app = FastAPI()
    _include_routers(app)
    unbounded, lax = [], []
    for route in _routes(app):
        if route.path.startswith("/api/") and not isinstance(route, ApiRoute):
            lax.append(route.path)
        for name, constraints in _int_params(route):
            if not any(hasattr(m, "le") or hasattr(m, "lt") for m in constraints):
                unbounded.append(f"{route.path} {name}")
    assert unbounded == []
    assert lax == []
