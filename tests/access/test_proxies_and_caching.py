"""Which address a request comes from (X-Forwarded-For only from trusted proxies) and what
browsers and proxies may keep (Cache-Control: no-store on everything private)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ushiro.app import create_app
from ushiro.core.runtime import Runtime
from ushiro.identity import Role, User
from ushiro.identity.models import LoginAttempt
from ushiro.identity.service import IP_FACTOR

Headers = Callable[..., dict[str, str]]


def _csrf(text: str) -> str:
    return text.split('name="csrf_token" value="')[1].split('"')[0]


def _failed_login(c: TestClient, email: str, xff: str | None = None) -> int:
    token = _csrf(c.get("/login").text)
    headers = {"X-Forwarded-For": xff} if xff else {}
    response = c.post("/login", headers=headers, follow_redirects=False,
                      data={"email": email, "password": "wrong", "csrf_token": token})
    return response.status_code


def _ips(rt: Runtime) -> list[str]:
    with rt.db.reading() as session:
        return list(session.scalars(select(LoginAttempt.ip).order_by(LoginAttempt.id)))


def _client(rt: Runtime, peer: str, trusted: str = "") -> TestClient:
    settings = rt.settings.model_copy(update={"trusted_proxies": trusted})
    return TestClient(create_app(rt=Runtime(settings, rt.db)), client=(peer, 40000))


@pytest.mark.parametrize(("trusted", "peer", "xff", "recorded"), [
    ("", "127.0.0.1", "203.0.113.7", "127.0.0.1"),
    ("", "192.0.2.10", "203.0.113.7", "192.0.2.10"),
    ("192.0.2.10", "192.0.2.10", "203.0.113.7", "203.0.113.7"),
    ("192.0.2.0/24", "192.0.2.10", "203.0.113.7, 192.0.2.11", "203.0.113.7"),
    ("192.0.2.10", "192.0.2.10", "198.51.100.1, 203.0.113.7", "203.0.113.7"),
    ("192.0.2.10", "198.51.100.99", "203.0.113.7", "198.51.100.99"),
    ("192.0.2.10", "192.0.2.10", "not-an-address", "192.0.2.10"),
    ("192.0.2.10", "192.0.2.10", "", "192.0.2.10"),
], ids=["none-trusted-loopback", "none-trusted", "trusted-proxy", "trusted-network-chain",
        "spoofed-left-hop-ignored", "untrusted-peer", "garbage", "no-header"])
def test_the_client_address_honours_x_forwarded_for_only_from_trusted_proxies(
        rt: Runtime, trusted: str, peer: str, xff: str, recorded: str) -> None:
    """GIVEN USHIRO_TRUSTED_PROXIES (default: none)
    WHEN a login arrives from ``peer`` with X-Forwarded-For ``xff``
    THEN the address recorded for the attempt (and counted by the per-address lock) is the
    forwarded client only when the peer is a trusted proxy, and then the rightmost hop that
    is not a trusted proxy (a client can prepend anything to the header)."""
    with _client(rt, peer, trusted) as c:
        _failed_login(c, "nobody@example.co.jp", xff or None)
    assert _ips(rt)[-1] == recorded


def test_a_bad_trusted_proxies_setting_is_refused() -> None:
    from pydantic import ValidationError

    from ushiro.core.settings import Settings

    with pytest.raises(ValidationError, match="USHIRO_TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.1, proxy.example")


# --- `ushiro serve`: uvicorn must not trust X-Forwarded-For on its own -----------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ushiro(*args: str, env: dict[str, str], **kwargs: Any) -> Any:
    command = [sys.executable, "-c", "from ushiro.cli import app; app()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          check=True, **kwargs)


@pytest.fixture
def served(tmp_path: Path, db_url_factory: Any) -> Iterator[Callable[[str], str]]:
    """Starts `ushiro serve` (with the given USHIRO_TRUSTED_PROXIES) on a fresh database;
    returns its base URL. The login lock is at its tightest (one failure per account)."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(trusted: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("USHIRO_")}
        env.update({"USHIRO_DATABASE_URL": db_url_factory.new_url(),
                    "USHIRO_LOGIN_MAX_FAILURES": "1", "USHIRO_TRUSTED_PROXIES": trusted,
                    "USHIRO_WORKER_IN_PROCESS": "false"})
        data_dir = tmp_path / f"data{len(processes)}"
        _ushiro("init", "--tenant", "t", "--name", "T", "--data-dir", str(data_dir), env=env)
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-c", "from ushiro.cli import app; app()", "serve", "--data-dir",
             str(data_dir), "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/login", timeout=2).close()
                return base
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        pytest.fail("`ushiro serve` did not start")

    yield start
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def _live_failed_login(base: str, email: str, xff: str) -> int:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    page = opener.open(f"{base}/login", timeout=10).read().decode()
    data = urllib.parse.urlencode({"email": email, "password": "wrong",
                                   "csrf_token": _csrf(page)}).encode()
    request = urllib.request.Request(f"{base}/login", data=data,
                                     headers={"X-Forwarded-For": xff})
    try:
        return int(opener.open(request, timeout=10).status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_serve_does_not_let_a_forged_header_dodge_the_address_lock(
        served: Callable[[str], str]) -> None:
    """GIVEN `ushiro serve` with no trusted proxies
    WHEN one address tries many accounts, each attempt with another X-Forwarded-For
    THEN the per-address lock still counts them as one address and locks it (429); uvicorn
    trusted the header from loopback by default."""
    base = served("")
    codes = [_live_failed_login(base, f"u{n}@example.co.jp", f"198.51.100.{n}")
             for n in range(IP_FACTOR + 1)]
    assert codes[:IP_FACTOR] == [401] * IP_FACTOR
    assert codes[-1] == 429


def test_serve_honours_a_configured_proxy(served: Callable[[str], str],
                                          db_url_factory: Any) -> None:
    """GIVEN `ushiro serve` behind a proxy on loopback listed in USHIRO_TRUSTED_PROXIES
    WHEN different clients fail to log in through it
    THEN each is its own address: none is locked for the others' failures."""
    base = served("127.0.0.1")
    codes = [_live_failed_login(base, f"u{n}@example.co.jp", f"198.51.100.{n}")
             for n in range(IP_FACTOR + 1)]
    assert codes == [401] * (IP_FACTOR + 1)


# --- Cache-Control ---------------------------------------------------------------------------


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name="管理 一郎")


def test_private_pages_and_api_answers_are_not_stored(client: TestClient, admin: User,
                                                      login: Callable[[str], str],
                                                      api_headers: Headers) -> None:
    """GIVEN a signed-in admin and an API token
    WHEN pages behind the login, the login page, API answers (also errors) are fetched
    THEN each says Cache-Control: no-store; the public static files stay cacheable."""
    headers = api_headers(admin)
    api = [client.get("/api/v1/requests", headers=headers),
           client.get("/api/v1/requests/999999", headers=headers),
           client.get("/api/v1/requests")]
    login(admin.email)
    pages = [client.get(path) for path in ("/portal", "/desk", "/admin/users", "/admin/audit",
                                           "/login", "/no-such-page")]
    for response in api + pages:
        assert response.headers.get("cache-control") == "no-store", response.url
    static = client.get("/static/style.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("cache-control", "")
