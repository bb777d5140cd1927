#!/usr/bin/env python
"""Hostile sweep: about a thousand attacks on a running Ushiro on loopback, counted.

Starts ``ushiro serve`` on a free loopback port with a fresh data directory (or a fresh
PostgreSQL schema with ``--database-url``), loads the sample company with ``ushiro demo
--no-serve`` (two tenants, staff and employees with a known password), and attacks it
through its public surfaces only: HTTP (API tokens and browser sessions), the ``ushiro``
CLI, and direct SQL where the attack itself is tampering with the database (audit).

Every check says what *defended* means; it passes when the product defends and fails when
the attack works. Per category it prints checks run, passed (defended) and failed
(vulnerable), and names each failed check. The categories follow issue 9 (see README.md).

Not a test: it prints counts. Exit status 0 when every check passed, 1 when one failed,
2 when the sweep could not run (the server did not start, PostgreSQL unreachable, …).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import intake  # noqa: E402 - the server and CLI helpers of the intake benchmark

HOST = intake.HOST
CATEGORIES = ("cross-tenant", "csrf", "escaping", "idempotency", "validation", "mail",
              "backup", "audit", "resources", "leaks", "crash")
DEMO_PASSWORD_LINE = re.compile(r"パスワードは全員共通: (\S+?)\)")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def note(message: str) -> None:
    intake.note(message)


# --------------------------------------------------------------------------- results


@dataclass
class Check:
    category: str
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Results:
    checks: list[Check] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, category: str, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append(Check(category, name, bool(passed), detail))
        return bool(passed)

    def note(self, category: str, text: str) -> None:
        self.notes.setdefault(category, []).append(text)

    def by_category(self) -> dict[str, list[Check]]:
        out: dict[str, list[Check]] = {c: [] for c in CATEGORIES}
        for check in self.checks:
            out.setdefault(check.category, []).append(check)
        return out


# --------------------------------------------------------------------------- HTTP


@dataclass
class Answer:
    status: int          # 0: the connection was dropped or timed out
    text: str
    headers: httpx.Headers
    error: str = ""
    seconds: float = 0.0

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def error_format_ok(self) -> bool:
        """The project's error body: {"error": {"code": str, "message": str, "field"?: str}}."""
        body = self.json()
        if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
            return False
        err = body["error"]
        return (isinstance(err.get("code"), str) and bool(err["code"])
                and isinstance(err.get("message"), str) and bool(err["message"])
                and isinstance(err.get("field", ""), str | None))


class Actor:
    """One user on one channel: a bearer token (API) and/or a browser session (pages)."""

    def __init__(self, base_url: str, label: str, email: str) -> None:
        self.label, self.email = label, email
        self.http = httpx.Client(base_url=base_url, trust_env=False, timeout=120.0,
                                 follow_redirects=False)
        self.token: str | None = None
        self.csrf: str | None = None
        self.tenant_id: int | None = None

    def call(self, method: str, path: str, *, api: bool | None = None,
             headers: dict[str, Any] | None = None, **kw: Any) -> Answer:
        api = path.startswith("/api/") if api is None else api
        sent = dict(headers or {})
        if api and self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        began = time.perf_counter()
        for attempt in (1, 2):
            try:
                r = self.http.request(method, path, headers=sent, **kw)
                break
            except httpx.TransportError as exc:
                # After a server error the keep-alive connection may be closed under us:
                # one more try on a new connection, so a check answers for its own request.
                if attempt == 2 or "content" in kw and not isinstance(kw["content"], bytes):
                    return Answer(0, "", httpx.Headers(), f"{type(exc).__name__}: {exc}",
                                  time.perf_counter() - began)
            except httpx.HTTPError as exc:
                return Answer(0, "", httpx.Headers(), f"{type(exc).__name__}: {exc}",
                              time.perf_counter() - began)
        return Answer(r.status_code, r.text, r.headers, seconds=time.perf_counter() - began)

    def form(self, path: str, data: dict[str, Any] | list[tuple[str, Any]] | None = None, *,
             csrf: str | None = "session", files: Any = None,
             headers: dict[str, Any] | None = None) -> Answer:
        """POST a page form; ``csrf`` 'session' sends this session's token, None none."""
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        token = self.csrf if csrf == "session" else csrf
        if token is not None:
            fields.append(("csrf_token", token))
        data_: dict[str, Any] = {}
        for name, value in fields:   # httpx takes repeated fields as a list
            if name in data_:
                old = data_[name]
                data_[name] = [*old, value] if isinstance(old, list) else [old, value]
            else:
                data_[name] = value
        return self.call("POST", path, api=False, data=data_, files=files, headers=headers)

    def login(self, password: str) -> bool:
        page = self.call("GET", "/login")
        match = CSRF_FIELD.search(page.text)
        if not match:
            return False
        done = self.form("/login", {"email": self.email, "password": password},
                         csrf=match.group(1))
        if done.status != 303:
            return False
        return self.refresh_csrf()

    def refresh_csrf(self) -> bool:
        page = self.call("GET", "/portal")
        match = CSRF_FIELD.search(page.text)
        self.csrf = match.group(1) if match else None
        tenant = re.search(r'<option value="(\d+)" selected>', page.text)
        if tenant:
            self.tenant_id = int(tenant.group(1))
        return self.csrf is not None

    def close(self) -> None:
        self.http.close()


# --------------------------------------------------------------------------- CLI


@dataclass
class CliRun:
    code: int            # -9: killed at the time cap
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr


def run_cli(args: list[str], env: dict[str, str], *, data_dir: Path, timeout: float = 180.0,
            stdin: str | None = None) -> CliRun:
    """Run ``ushiro ARGS --data-dir D``; its peak RSS comes from wait4, and it is killed
    (code -9) when it runs longer than ``timeout``."""
    cmd = [*intake.ushiro_command(), *args, "--data-dir", str(data_dir)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                start_new_session=True)
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        deadline, killed, rss = time.monotonic() + timeout, False, 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, 0 if killed else os.WNOHANG)
            if pid:
                rss = usage.ru_maxrss / 1024
                break
            if time.monotonic() > deadline:
                killed = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                continue
            time.sleep(0.02)
        seconds = time.perf_counter() - began
        proc.returncode = -9 if killed else os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return CliRun(proc.returncode, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), seconds, rss)


# --------------------------------------------------------------------------- the target


class Target:
    """The server under attack, its sample data, and the actors who attack it."""

    def __init__(self, args: argparse.Namespace) -> None:
        if args.database_url:
            intake.PG_BASE = args.database_url  # Server() makes a fresh schema there
        self.server = intake.Server("postgres" if args.database_url else "sqlite", 1, args.keep)
        self.args = args
        self.env = self.server.env
        self.data_dir = self.server.data_dir
        self.tmp = self.server.tmp
        self.password = ""
        self.actors: dict[str, Actor] = {}
        self.tenants: dict[str, int] = {}
        # Both in every object this sweep creates in sakura: attacks search for the mark
        # (which a page may echo back), leaks are detected by the secret.
        self.mark = f"zq{secrets.token_hex(5)}"
        self.secret = f"zs{secrets.token_hex(5)}"
        self.extra_schemas: list[str] = []

    # CLI ---------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 180.0, stdin: str | None = None,
            data_dir: Path | None = None, env: dict[str, str] | None = None) -> CliRun:
        return run_cli(list(args), env or self.env, data_dir=data_dir or self.data_dir,
                       timeout=timeout, stdin=stdin)

    def fresh_place(self, label: str) -> tuple[Path, dict[str, str]]:
        """An empty data directory (and for PostgreSQL an empty schema) with its env."""
        place = self.tmp / label
        env = dict(self.env)
        env["USHIRO_DATA_DIR"] = str(place)
        if self.server.schema:
            schema = f"{self.server.schema}_{label.replace('-', '_')}"[:60]
            self.server._pg_admin(f'CREATE SCHEMA "{schema}"')
            self.extra_schemas.append(schema)
            sep = "&" if "?" in intake.PG_BASE else "?"
            env["USHIRO_DATABASE_URL"] = f"{intake.PG_BASE}{sep}options=-csearch_path%3D{schema}"
        return place, env

    def db_url(self, env: dict[str, str], place: Path) -> str:
        return env.get("USHIRO_DATABASE_URL") or f"sqlite:///{(place / 'ushiro.db').resolve()}"

    # setup ---------------------------------------------------------------------------

    def load_demo(self, place: Path | None = None, env: dict[str, str] | None = None) -> str:
        run = self.cli("demo", "--no-serve", data_dir=place, env=env, timeout=300)
        if run.code != 0:
            raise RuntimeError(f"ushiro demo failed: {run.stderr[-2000:]}")
        found = DEMO_PASSWORD_LINE.search(run.stdout)
        if not found:
            raise RuntimeError("ushiro demo printed no password")
        return found.group(1)

    def actor(self, key: str) -> Actor:
        return self.actors[key]

    def setup(self) -> None:
        note(f"loading the sample company into {self.data_dir}")
        self.password = self.load_demo()
        self.server.start()
        people = {
            "s_admin": "sato.kenichi@sakura-seiki.example",
            "s_admin2": "ogawa.tomoko@sakura-seiki.example",
            "s_operator": "ito.naoki@sakura-seiki.example",
            "s_it": "nakamura.shota@sakura-seiki.example",
            "s_req": "yamada.hanako@sakura-seiki.example",
            "s_req2": "yoshida.takuya@sakura-seiki.example",
            "m_admin": "okada.osamu@minato-logi.example",
            "m_req": "fujita.ryo@minato-logi.example",
            "bpaas": "kobayashi.mariko@bpaas-partner.example",
        }
        for key, email in people.items():
            actor = Actor(self.server.base_url, key, email)
            if not actor.login(self.password):
                raise RuntimeError(f"could not sign in as {email}")
            self.actors[key] = actor
        bpaas = self.actors["bpaas"]
        choices = {name: int(i) for i, name in re.findall(
            r'<option value="(\d+)"[^>]*>([^<]+)</option>', bpaas.call("GET", "/desk").text)
            if name in ("さくら精機株式会社", "みなと物流株式会社")}
        self.tenants = {"sakura": choices["さくら精機株式会社"], "minato": choices["みなと物流株式会社"]}
        # The BPaaS operator attacks from minato: move that session there.
        bpaas.form("/switch-tenant", {"tenant_id": self.tenants["minato"]})
        bpaas.refresh_csrf()
        for key, actor in self.actors.items():
            admin = "s_admin" if key.startswith("s_") else "m_admin"
            self.actors[key].token = self.token_for(self.actors[admin], actor.email)
        # The minato token of the BPaaS operator was created by minato's admin above.

    def token_for(self, admin: Actor, email: str) -> str:
        page = admin.form("/admin/tokens", {"email": email, "name": "sweep"})
        found = re.search(r'<code id="new-token">([^<]+)</code>', page.text)
        if not found:
            raise RuntimeError(f"no token for {email}: {page.status}")
        return found.group(1)

    def cleanup(self) -> None:
        for actor in self.actors.values():
            actor.close()
        for schema in self.extra_schemas:
            try:
                self.server._pg_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            except Exception as exc:  # noqa: BLE001 - cleanup must not mask the result
                note(f"could not drop schema {schema}: {exc}")
        self.server.cleanup()


# --------------------------------------------------------------------------- helpers


def sample(values: list[Any], n: int) -> list[Any]:
    """Up to n values spread over the list (first, last and between), stable."""
    if len(values) <= n:
        return list(values)
    step = (len(values) - 1) / (n - 1)
    return [values[round(i * step)] for i in range(n)]


def ids_in(html: str, pattern: str) -> list[int]:
    return sorted({int(x) for x in re.findall(pattern, html)})


def strip_volatile(html: str) -> str:
    """A page without what changes on every view (tokens, times), to compare snapshots."""
    html = CSRF_FIELD.sub("", html)
    html = re.sub(r'"X-CSRF-Token": "[^"]*"', "", html)
    return re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?", "", html)


def timed(label: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        def run(*a: Any, **kw: Any) -> None:
            began = time.perf_counter()
            note(f"[{label}] …")
            fn(*a, **kw)
            note(f"[{label}] done in {time.perf_counter() - began:.1f} s")
        return run
    return wrap


# --------------------------------------------------------------------------- report


def report(results: Results, only: Iterable[str], seconds: float, db: str) -> None:
    grouped = results.by_category()
    total = passed = 0
    print(f"hostile sweep  db {db}  {seconds:.0f} s")
    print(f"{'category':<14} {'run':>5} {'passed':>7} {'failed':>7}")
    for category in only:
        checks = grouped.get(category, [])
        ok = sum(c.passed for c in checks)
        total += len(checks)
        passed += ok
        print(f"{category:<14} {len(checks):>5} {ok:>7} {len(checks) - ok:>7}")
    print(f"{'total':<14} {total:>5} {passed:>7} {total - passed:>7}")
    for category in only:
        failed = [c for c in grouped.get(category, []) if not c.passed]
        notes = results.notes.get(category, [])
        if failed or notes:
            print(f"\n{category}: {len(failed)} failed")
        for c in failed:
            print(f"  FAIL {c.name}" + (f"  ({c.detail})" if c.detail else ""))
        for text in notes:
            print(f"  note: {text}")


def as_json(results: Results, only: Iterable[str], seconds: float, db: str) -> dict[str, Any]:
    grouped = results.by_category()
    return {"db": db, "seconds": round(seconds, 1), "categories": {
        c: {"run": len(grouped.get(c, [])), "passed": sum(x.passed for x in grouped.get(c, [])),
            "failed": [{"name": x.name, "detail": x.detail}
                       for x in grouped.get(c, []) if not x.passed],
            "notes": results.notes.get(c, [])} for c in only}}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", default=None,
                   help="PostgreSQL server URL (postgresql+psycopg://…); a fresh schema is "
                        "made there and dropped afterwards. SQLite in the data dir if unset")
    p.add_argument("--only", action="append", choices=CATEGORIES, default=None,
                   help="run only this category (repeatable)")
    p.add_argument("--skip", action="append", choices=CATEGORIES, default=[],
                   help="leave this category out (repeatable)")
    p.add_argument("--verbose", action="store_true", help="print every check, passed too")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--keep", action="store_true", help="keep the temp dir / schema")
    return p.parse_args(argv)


def run(args: argparse.Namespace, target: Target, results: Results,
        only: list[str]) -> None:
    import sweep_attacks
    import sweep_web

    target.setup()
    # Order matters: attacks that damage the instance (tampering, kills, the login lock)
    # run after the ones that need it intact.
    steps: list[tuple[str, Callable[[Target, Results], None]]] = [
        ("cross-tenant", sweep_web.cross_tenant),
        ("csrf", sweep_web.csrf),
        ("escaping", sweep_web.escaping),
        ("idempotency", sweep_web.idempotency),
        ("validation", sweep_web.validation),
        ("mail", sweep_attacks.mail),
        ("backup", sweep_attacks.backup),
        ("audit", sweep_attacks.audit),
        ("resources", sweep_attacks.resources),
        ("leaks", sweep_web.leaks),
        ("crash", sweep_attacks.crash),
        ("leaks", sweep_web.login_lock),   # last: it locks loopback logins for 15 minutes
    ]
    for category, step in steps:
        if category in only:
            timed(f"{category}: {step.__name__}")(step)(target, results)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = [c for c in (args.only or CATEGORIES) if c not in args.skip]
    os.umask(0o022)  # the usual default, so file modes below are the product's choice
    try:
        target = Target(args)
    except Exception as exc:  # noqa: BLE001 - e.g. PostgreSQL unreachable
        note(f"setup failed: {exc}")
        return 2
    atexit.register(target.cleanup)
    results = Results()
    began = time.perf_counter()

    def on_sigterm(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        run(args, target, results, only)
    except KeyboardInterrupt:
        note("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - a broken run is no verdict
        import traceback

        traceback.print_exc()
        note(f"sweep failed: {type(exc).__name__}: {exc}\n{target.server.log_tail()}")
        return 2
    finally:
        target.cleanup()
    seconds = time.perf_counter() - began
    db = "postgres" if args.database_url else "sqlite"
    if args.json:
        print(json.dumps(as_json(results, only, seconds, db), ensure_ascii=False, indent=1))
    else:
        if args.verbose:
            for c in results.checks:
                print(f"{'ok  ' if c.passed else 'FAIL'} {c.category:<13} {c.name}"
                      + (f"  ({c.detail})" if c.detail else ""))
            print()
        report(results, only, seconds, db)
    return 0 if all(c.passed for c in results.checks) else 1


if __name__ == "__main__":
    # Run as the module ``sweep`` that sweep_web and sweep_attacks import, not __main__.
    from sweep import main as sweep_main

    sys.exit(sweep_main())
