"""The sweep's attacks through the CLI and on the data directory: mail, backup round-trip,
audit tampering, resource exhaustion, crash durability, secrets and files at rest.
See sweep.py and README.md."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import intake
from sweep import BENCH, Actor, CliRun, Results, Target, note

PHRASE = "経費精算の締め日を教えてください。領収書は総務部へ提出します。"


def _found(target: Target, text: str) -> list[dict[str, Any]]:
    """Requests of sakura (any status) whose title, body or messages hold ``text``."""
    admin = target.actor("s_admin")
    items: list[dict[str, Any]] = []
    for status in ("new", "triaged", "in_progress", "waiting", "resolved", "closed"):
        r = admin.call("GET", "/api/v1/requests", params={"q": text, "status": status,
                                                           "per_page": 50})
        items += (r.json() or {}).get("items", [])
    return items


def _mail(sender: str, subject: str, body: str, *, charset: str = "utf-8",
          extra: dict[str, str] | None = None, html: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "desk@sakura-seiki.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<sweep-{secrets.token_hex(8)}@sweep.example>"
    for k, v in (extra or {}).items():
        del msg[k]
        msg[k] = v
    msg.set_content(body, subtype="html" if html else "plain", charset=charset, cte="8bit"
                    if charset == "utf-8" else "base64")
    return msg.as_bytes()


def _raw_mail(headers: dict[str, str], payload: bytes, content_type: str) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + payload


def _nested(depth: int, marker: str) -> bytes:
    lines = [f"From: Nest <nest-{marker}@example.co.jp>", f"Subject: {marker} nested",
             f"Message-ID: <{marker}-nested@sweep.example>", "MIME-Version: 1.0",
             'Content-Type: multipart/mixed; boundary="b0"', ""]
    for level in range(depth):
        lines += [f"--b{level}", f'Content-Type: multipart/mixed; boundary="b{level + 1}"', ""]
    lines += [f"--b{depth}", "Content-Type: text/plain", "", "deep", f"--b{depth}--"]
    for level in reversed(range(depth)):
        lines += [f"--b{level}--"]
    return "\r\n".join(lines).encode()


def _write(target: Target, name: str, data: bytes) -> Path:
    path = target.tmp / "mails" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def _import(target: Target, *paths: Path, timeout: float = 180.0) -> CliRun:
    return target.cli("mail", "import", *map(str, paths), "--tenant", "sakura", "--json",
                      timeout=timeout)


# --------------------------------------------------------------------------- mail


def mail(target: Target, results: Results) -> None:
    """Defended: one bad mail never blocks the others (a 1,000-level multipart is
    quarantined or refused cleanly, the mails after it are stored, poll exits 0); a reply is
    threaded only from the requester or a participant; the body-length limit applies to
    mail; a 20 MB HTML-only mail is converted in bounded time and memory; a mislabelled
    charset is decoded correctly or the mail flagged, never silent mojibake."""
    from sweep_web import seed

    cat = "mail"
    seed(target)
    h = secrets.token_hex(3)
    yamada = "山田 花子 <yamada.hanako@sakura-seiki.example>"
    a = _write(target, "a.eml", _mail(yamada, f"mla{h} 住所変更", f"mla{h} 住所が変わりました。"))
    nested = _write(target, "nested.eml", _nested(1000, f"mln{h}"))
    b = _write(target, "b.eml", _mail(yamada, f"mlb{h} 扶養の追加", f"mlb{h} 子が生まれました。"))
    run = _import(target, a, nested, b)
    target.mail_base_rss = run.peak_rss_mb  # type: ignore[attr-defined]
    results.add(cat, "mail import a.eml nested.eml b.eml stores a.eml",
                bool(_found(target, f"mla{h}")))
    results.add(cat, "mail import a.eml nested.eml b.eml stores b.eml after the nested one",
                bool(_found(target, f"mlb{h}")), f"exit {run.code}")
    results.add(cat, "the 1,000-level nested mail is reported, not a traceback",
                not run.traceback, run.stderr.strip().splitlines()[-1][:120]
                if run.stderr.strip() else "")
    _poll(target, results, cat, h)
    # One import for the small mails (each CLI start costs seconds), checked afterwards.
    batches = [_forged(target, results, cat, h), _charsets(target, results, cat, h),
               _mail_escaping(target, results, h)]
    _import(target, *[p for paths, _check in batches for p in paths])
    for _paths, check in batches:
        check()
    _big_body(target, results, cat, h)
    _html_only(target, results, cat, h)


def _poll(target: Target, results: Results, cat: str, h: str) -> None:
    sys.path.insert(0, str(BENCH.parent))
    try:
        from tests.servers.mail import ImapServer, dovecot_available
    except ImportError as exc:
        results.note(cat, f"mail poll not checked: {exc}")
        return
    imap_pw, smtp_pw = f"imap-pw-{secrets.token_hex(6)}", f"smtp-pw-{secrets.token_hex(6)}"
    target.mail_passwords = [imap_pw, smtp_pw]  # type: ignore[attr-defined]
    if not dovecot_available():
        target.cli("mail", "configure", "--address", "desk@sakura-seiki.example",
                   "--imap-host", "127.0.0.1", "--imap-user", "desk", "--smtp-host",
                   "127.0.0.1", "--smtp-user", "desk", "--password-stdin", "--tenant",
                   "sakura", stdin=f"{imap_pw}\n{smtp_pw}\n")
        results.note(cat, "mail poll not checked: Dovecot is not installed")
        return
    yamada = "山田 花子 <yamada.hanako@sakura-seiki.example>"
    with ImapServer(password=imap_pw, tls=False) as imap:
        target.cli("mail", "configure", "--address", "desk@sakura-seiki.example",
                   "--imap-host", imap.host, "--imap-port", str(imap.port),
                   "--imap-security", "none", "--imap-user", imap.user, "--smtp-host",
                   "127.0.0.1", "--smtp-user", "desk", "--password-stdin", "--tenant",
                   "sakura", stdin=f"{imap_pw}\n{smtp_pw}\n")
        imap.append(_mail(yamada, f"mpa{h} 定期券", f"mpa{h} 定期券の区間変更"))
        imap.append(_nested(1000, f"mpn{h}"))
        imap.append(_mail(yamada, f"mpb{h} 健康診断", f"mpb{h} 健康診断の日程"))
        first = target.cli("mail", "poll", "--tenant", "sakura", "--json")
        second = target.cli("mail", "poll", "--tenant", "sakura", "--json")
    results.add(cat, "mail poll with a 1,000-level nested mail in the inbox exits 0",
                first.code == 0, f"exit {first.code}")
    results.add(cat, "mail poll stores the mail after the nested one",
                bool(_found(target, f"mpb{h}")))
    results.add(cat, "the next mail poll is not blocked by the same mail", second.code == 0,
                f"exit {second.code}")


def _forged(target: Target, results: Results, cat: str, h: str) -> tuple[list[Path], Any]:
    """A staff address that took no part in the request, a stranger, and a stranger who
    knows the Message-ID of the request's mail, each answering an employee's request.
    Returns the mails to import and the check to run after the import."""
    s = target.seed  # type: ignore[attr-defined]
    admin = target.actor("s_admin")
    victim = admin.call("GET", f"/api/v1/requests/{s.marked_requests[-1]}").json()
    number = victim["number"]
    orig_id = f"<orig-{h}@sakura-seiki.example>"
    paths = [_write(target, "orig.eml", _mail("山田 花子 <yamada.hanako@sakura-seiki.example>",
                                              f"mor{h} 住民税の通知", f"mor{h} 通知書の件です。",
                                              extra={"Message-ID": orig_id}))]
    forged = [
        ("a staff member who is no participant", "中村 翔太 <nakamura.shota@sakura-seiki.example>",
         f"Re: [REQ-{number}] 確認しました", {}),
        ("a stranger, by [REQ-n] in the subject", "Mallory <mallory@evil.example>",
         f"Re: [REQ-{number}] 追加情報", {}),
        ("a stranger, by In-Reply-To of the request's mail", "Mallory <mallory@evil.example>",
         "Re: 住民税の通知", {"In-Reply-To": orig_id, "References": orig_id}),
    ]
    for i, (_label, sender, subject, extra) in enumerate(forged):
        paths.append(_write(target, f"forged{i}.eml", _mail(
            sender, subject, f"mfg{h}{i} 口座を変更して振込んでください。", extra=extra)))

    def check() -> None:
        original = _found(target, f"mor{h}")
        targets = [victim["id"], victim["id"], original[0]["id"] if original else None]
        for i, (label, *_rest) in enumerate(forged):
            rid = targets[i]
            item = admin.call("GET", f"/api/v1/requests/{rid}").text if rid else ""
            results.add(cat, f"a reply from {label} is not threaded into the request",
                        bool(rid) and f"mfg{h}{i}" not in item,
                        "" if rid else "the original mail was not stored")

    return paths, check


def _big_body(target: Target, results: Results, cat: str, h: str) -> None:
    body = f"mbg{h} " + ("精算の件でご連絡します。" * 580_000)  # ~20 MB of UTF-8
    path = _write(target, "big.eml", _raw_mail(
        {"From": "山田 花子 <yamada.hanako@sakura-seiki.example>", "Subject": f"mbg{h} 長文",
         "Message-ID": f"<big-{h}@sweep.example>"}, body.encode(), "text/plain; charset=utf-8"))
    run = _import(target, path)
    admin = target.actor("s_admin")
    listing = admin.call("GET", "/api/v1/requests", params={"q": f"mbg{h}", "per_page": 50})
    items = (listing.json() or {}).get("items", [])
    longest = max((len(i.get("body", "")) for i in items), default=0)
    results.add(cat, "a 20 MB mail body is held to the body-length limit (100,000 characters)",
                longest <= 100_000 and not run.traceback,
                f"{path.stat().st_size / 1e6:.1f} MB mail, stored body {longest:,} characters")
    results.add(cat, "a list call stays small after the 20 MB mail",
                len(listing.text) < 2_000_000, f"{len(listing.text) / 1e6:.1f} MB answer")


def _html_only(target: Target, results: Results, cat: str, h: str) -> None:
    unit = "<div class=\"row\"><p>交通費の<b>精算</b>について</p><table><tr><td>1</td></tr></table></div>"
    html = f"<html><body><p>mht{h}</p>" + unit * (20_000_000 // len(unit.encode())) + "</body></html>"
    path = _write(target, "html.eml", _raw_mail(
        {"From": "山田 花子 <yamada.hanako@sakura-seiki.example>", "Subject": f"mht{h} HTML",
         "Message-ID": f"<html-{h}@sweep.example>"}, html.encode(), "text/html; charset=utf-8"))
    run = _import(target, path, timeout=20)
    base = getattr(target, "mail_base_rss", 150.0)
    ok = run.code != -9 and run.seconds <= 10 and run.peak_rss_mb <= base + 400
    results.add(cat, "a 20 MB HTML-only mail is imported in ≤ 10 s and ≤ 400 MB above a "
                     "small import", ok,
                f"{run.seconds:.1f} s{' (killed at 20 s)' if run.code == -9 else ''}, peak "
                f"{run.peak_rss_mb:.0f} MB (small import {base:.0f} MB)")


def _charsets(target: Target, results: Results, cat: str, h: str) -> tuple[list[Path], Any]:
    cases = [("UTF-8 labelled iso-8859-1", "utf-8", "iso-8859-1"),
             ("EUC-JP labelled Shift_JIS", "euc-jp", "shift_jis"),
             ("CP932 labelled koi8-r", "cp932", "koi8-r")]
    paths = []
    for i, (_label, real, said) in enumerate(cases):
        paths.append(_write(target, f"charset{i}.eml", _raw_mail(
            {"From": "山田 花子 <yamada.hanako@sakura-seiki.example>",
             "Subject": f"mcs{h}{i} 締め日", "Message-ID": f"<cs{i}-{h}@sweep.example>"},
            f"mcs{h}{i}\n{PHRASE}".encode(real), f"text/plain; charset={said}")))

    def check() -> None:
        admin = target.actor("s_admin")
        for i, (label, _real, _said) in enumerate(cases):
            items = _found(target, f"mcs{h}{i}")
            # The flag may be in the API answer or only on the operator's page (whose
            # <meta charset> does not count).
            detail = admin.call("GET", f"/api/v1/requests/{items[0]['id']}").text \
                if items else ""
            page = admin.call("GET", f"/desk/requests/{items[0]['id']}").text \
                if items else ""
            flagged = any(w in detail for w in ("charset", "文字コード", "文字化け", "mojibake")) \
                or any(w in page for w in ("文字コード", "文字化け", "mojibake"))
            ok = not items or PHRASE in detail or flagged
            results.add(cat, f"{label}: decoded correctly or flagged", ok,
                        "stored as: " + (items[0]["body"][:40].replace("\n", " ")
                                         if items else "(not stored)"))

    return paths, check


def _mail_escaping(target: Target, results: Results, h: str) -> tuple[list[Path], Any]:
    tag = f"xm{h}"
    path = _write(target, "xss.eml", _mail(f'"<b>{tag}n</b>" <yamada.hanako@sakura-seiki.example>',
                                           f"<b>{tag}s</b> 件名", f"<b>{tag}b</b> 本文"))

    def check() -> None:
        admin = target.actor("s_admin")
        items = _found(target, f"{tag}b")
        for where in ("desk", "desk/requests"):
            page = admin.call("GET", "/desk" if where == "desk" else
                              f"/desk/requests/{items[0]['id']}").text if items else ""
            raw = [p for p in (f"<b>{tag}n</b>", f"<b>{tag}s</b>", f"<b>{tag}b</b>") if p in page]
            results.add("escaping", f"mail sender name, subject and body on {where}",
                        bool(items) and not raw,
                        f"raw {raw}" if raw else ("" if items else "the mail was not stored"))

    return [path], check


# --------------------------------------------------------------------------- backup


SPECIALS = {"U+2028": "\u2028", "U+2029": "\u2029", "U+0085": "\x85", "U+001C": "\x1c",
            "U+001D": "\x1d", "U+001E": "\x1e", "U+000B": "\x0b", "U+000C": "\x0c",
            "CR": "\r", "astral 😀": "😀", "RLO U+202E": "\u202e", "BOM U+FEFF": "\ufeff"}


def ensure_backup(target: Target) -> Path:
    if getattr(target, "backup_dir", None):
        return target.backup_dir  # type: ignore[no-any-return]
    place = target.tmp / "backup"
    run = target.cli("backup", str(place))
    target.backup_dir = place  # type: ignore[attr-defined]
    target.backup_run = run  # type: ignore[attr-defined]
    return place


def backup(target: Target, results: Results) -> None:
    """Bodies with every kind of line separator and odd code point, sent by API; then
    ``ushiro backup`` → ``ushiro restore`` into a fresh data directory → a second server.
    Defended: both commands succeed and every request reads back the same."""
    cat = "backup"
    req, admin = target.actor("s_req"), target.actor("s_admin")
    h = secrets.token_hex(3)
    made: dict[str, int] = {}
    for label, ch in SPECIALS.items():
        r = req.call("POST", "/api/v1/requests", json={
            "title": f"bk{h} {label} 件名{ch}", "body": f"bk{h} 前{ch}後\n次の行{ch}{ch}終わり"})
        if r.status == 201:
            made[label] = r.json()["id"]
        else:
            results.note(cat, f"{label}: the API refused the body ({r.status})")
    place = ensure_backup(target)
    run: CliRun = target.backup_run  # type: ignore[attr-defined]
    results.add(cat, "ushiro backup succeeds while the server runs", run.code == 0,
                run.stderr.strip()[-120:])
    fresh, env = target.fresh_place("restored")
    restore = target.cli("restore", str(place), data_dir=fresh, env=env)
    results.add(cat, "ushiro restore into a fresh data directory succeeds",
                restore.code == 0 and not restore.traceback,
                restore.stderr.strip().splitlines()[-1][:140] if restore.stderr.strip() else "")
    copy = _second_server(target, fresh, env) if restore.code == 0 else None
    try:
        twin = Actor(copy.base_url, "restored", admin.email) if copy else None
        if twin:
            twin.token = admin.token
        for label, rid in made.items():
            ok = False
            if twin:
                a = admin.call("GET", f"/api/v1/requests/{rid}").json() or {}
                b = twin.call("GET", f"/api/v1/requests/{rid}").json() or {}
                ok = bool(a) and all(a.get(k) == b.get(k) for k in ("title", "body", "tags",
                                                                     "messages"))
            results.add(cat, f"a request with {label} reads back the same after restore", ok,
                        "" if twin else "nothing restored")
        totals = []
        for actor in (admin, twin):
            if actor is None:
                continue
            totals.append(sum((actor.call("GET", "/api/v1/requests", params={
                "status": st, "per_page": 1}).json() or {}).get("total", -1)
                for st in ("new", "triaged", "in_progress", "waiting", "resolved", "closed")))
        results.add(cat, "the restored instance has every request", len(totals) == 2
                    and totals[0] == totals[1], f"totals {totals}")
        verify = target.cli("audit", "verify", data_dir=fresh, env=env) if copy else None
        results.add(cat, "the restored audit chain verifies", bool(verify and verify.code == 0),
                    verify.stdout.strip()[-120:] if verify else "nothing restored")
        if twin:
            twin.close()
    finally:
        if copy:
            copy.cleanup()


def _second_server(target: Target, place: Path, env: dict[str, str]) -> intake.Server | None:
    srv = intake.Server("sqlite", 1, False)   # its own tmp dir holds only the log
    srv.data_dir, srv.env = place, env
    try:
        srv.start()
    except RuntimeError as exc:
        note(f"the restored server did not start: {exc}")
        srv.cleanup()
        return None
    return srv


# --------------------------------------------------------------------------- audit


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def forged_digest(event: dict[str, Any]) -> str:
    """The chain hash as published at 4b25b55 (unkeyed SHA-256 of the canonical JSON):
    what an attacker with write access to the database computes."""
    payload = {k: event[k] for k in ("chain", "seq", "actor_id", "actor", "action",
                                     "object_type", "object_id", "before", "after")}
    payload["at"] = _as_utc(event["at"]).isoformat(timespec="microseconds")
    payload["prev"] = event["prev_hash"]
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Tamper:
    """Direct SQL on one copy of the database: the attacker's side of the audit checks."""

    COLUMNS = ("chain", "seq", "at", "actor_id", "actor", "action", "object_type",
               "object_id", "before", "after", "prev_hash", "hash")

    def __init__(self, url: str) -> None:
        from ushiro.core.db import Database

        self.db = Database(url, pool_size=1)

    def events(self, session: Any, chain: int) -> list[Any]:
        from sqlalchemy import select

        from ushiro.audit.models import AuditEvent

        stmt = select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
        return list(session.scalars(stmt))

    def set_head(self, session: Any, chain: int, seq: int, digest: str) -> None:
        from sqlalchemy import update

        from ushiro.audit.models import AuditHead

        session.execute(update(AuditHead).where(AuditHead.chain == chain)
                        .values(seq=seq, hash=digest))

    def run(self, form: str, chain: int) -> str:
        from sqlalchemy import delete

        from ushiro.audit.models import AuditEvent, AuditHead

        with self.db.transaction() as session:
            events = self.events(session, chain)
            mid = events[len(events) // 2]
            if form == "truncate":
                keep = events[:-3]
                for ev in events[-3:]:
                    session.delete(ev)
                self.set_head(session, chain, keep[-1].seq, keep[-1].hash)
            elif form == "drop-chain":
                session.execute(delete(AuditEvent).where(AuditEvent.chain == chain))
                session.execute(delete(AuditHead).where(AuditHead.chain == chain))
            elif form == "rehash":
                mid.actor = "改ざん者"
                prev = events[events.index(mid) - 1].hash
                for ev in events[events.index(mid):]:
                    row = {c: getattr(ev, c) for c in self.COLUMNS}
                    row["prev_hash"] = prev
                    ev.prev_hash, ev.hash = prev, forged_digest(row)
                    prev = ev.hash
                self.set_head(session, chain, events[-1].seq, prev)
            elif form == "edit":
                mid.after = {"tampered": True}
            elif form == "delete-middle":
                session.delete(mid)
            session.flush()
        return f"chain {chain}, {len(events)} events"

    def reproduces(self, chain: int) -> bool:
        with self.db.reading() as session:
            events = self.events(session, chain)
            return all(forged_digest({c: getattr(e, c) for c in self.COLUMNS}) == e.hash
                       for e in events[:20])

    def close(self) -> None:
        self.db.dispose()


def _schema_of(url: str) -> str:
    return url.rsplit("search_path%3D", 1)[1]


def _copy_schema(source_url: str, target_url: str) -> None:
    """Every table of one PostgreSQL schema copied into another (empty) one."""
    import psycopg

    src, dst = _schema_of(source_url), _schema_of(target_url)
    with psycopg.connect(intake.PG_BASE.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE'", (src,)).fetchall()]
        for table in tables:
            conn.execute(f'CREATE TABLE "{dst}"."{table}" (LIKE "{src}"."{table}" '
                         "INCLUDING ALL)".encode())
            conn.execute(f'INSERT INTO "{dst}"."{table}" SELECT * FROM "{src}"."{table}"'
                         .encode())


FORMS = {"truncate": "deleting the newest events and setting audit_heads back",
         "drop-chain": "dropping a tenant's chain with its head",
         "rehash": "editing an event and recomputing every later hash",
         "edit": "editing an event",
         "delete-middle": "deleting a middle event"}


def audit(target: Target, results: Results) -> None:
    """Each of the five tampering forms on its own copy of a sample database, then
    ``ushiro audit verify``. Defended: verify exits non-zero (and the untouched copy 0)."""
    cat = "audit"
    helps = target.cli("audit", "--help").stdout
    checkpoint = "checkpoint" in helps
    fixture, env = target.fresh_place("audit-fixture")
    target.load_demo(fixture, env)
    sqlite = not target.server.schema
    places: dict[str, tuple[Path, dict[str, str]]] = {}
    for form in ("control", *FORMS):
        # A copy of the data directory (key and any checkpoint file included), and on
        # PostgreSQL a copy of the schema.
        copy = target.tmp / f"audit-{form}"
        shutil.copytree(fixture, copy)
        penv = {**env, "USHIRO_DATA_DIR": str(copy)}
        if not sqlite:
            penv = target.fresh_place(f"audit-{form}")[1]
            penv["USHIRO_DATA_DIR"] = str(copy)
            _copy_schema(env["USHIRO_DATABASE_URL"], penv["USHIRO_DATABASE_URL"])
        places[form] = (copy, penv)
    control = places["control"]
    if checkpoint:
        for place, penv in places.values():
            target.cli("audit", "checkpoint", data_dir=place, env=penv)
        results.note(cat, "`ushiro audit checkpoint` exists and was run before tampering")
    tenant_chain = {"truncate": 1, "drop-chain": 2, "rehash": 1, "edit": 1, "delete-middle": 2}
    first = Tamper(target.db_url(control[1], control[0]))
    results.note(cat, "the attacker's unkeyed hash reproduces the stored hashes: "
                 + ("yes" if first.reproduces(1) else "no"))
    first.close()
    ok = target.cli("audit", "verify", data_dir=control[0], env=control[1])
    results.add(cat, "the untouched copy verifies (so a failing verify means something)",
                ok.code == 0, ok.stdout.strip()[-100:])
    for form, label in FORMS.items():
        place, penv = places[form]
        tamper = Tamper(target.db_url(penv, place))
        try:
            what = tamper.run(form, tenant_chain[form])
        finally:
            tamper.close()
        run = target.cli("audit", "verify", data_dir=place, env=penv)
        results.add(cat, f"audit verify reports {label}", run.code not in (0, -9)
                    and not run.traceback, f"{what}; exit {run.code}")


# --------------------------------------------------------------------------- resources


def _docx_bomb(path: Path, inflated: int) -> None:
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    para = "<w:p><w:r><w:t>" + "社内規程の本文です。" * 20 + "</w:t></w:r></w:p>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType'
            '="application/xml"/><Override PartName="/word/document.xml" ContentType="applicati'
            'on/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'))
        z.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxml'
            'formats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schem'
            'as.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="wo'
            'rd/document.xml"/></Relationships>'))
        with z.open("word/document.xml", "w", force_zip64=True) as out:
            out.write(f'<?xml version="1.0" encoding="UTF-8"?><w:document {ns}><w:body>'.encode())
            chunk = (para * 200).encode()
            for _ in range(inflated // len(chunk)):
                out.write(chunk)
            out.write(b"</w:body></w:document>")


def _big_markdown(path: Path, size: int) -> None:
    parts, total, i = ["# 旅費規程(大)\n\n"], 0, 0
    while total < size:
        i += 1
        s = (f"## 第{i}条(出張旅費 {i})\n社員が業務のため出張するときは、第{i % 50 + 1}条に定める"
             f"手続により旅費を請求する。日当は{1000 + i % 7 * 500}円とし、宿泊料は実費とする。\n\n")
        parts.append(s)
        total += len(s.encode())
    path.write_text("".join(parts), encoding="utf-8")


def resources(target: Target, results: Results) -> None:
    """Defended: a DOCX bomb is refused (or read in bounded memory) in bounded time; a
    large ``kb add`` does not stall intake; oversized mail and bodies are refused."""
    cat = "resources"
    small = target.tmp / "small.md"
    small.write_text("# 小さな規程\n\n## 第1条\n本文です。\n", encoding="utf-8")
    base = target.cli("kb", "add", str(small), "--tenant", "sakura")
    bomb = target.tmp / "bomb.docx"
    _docx_bomb(bomb, 150 * 1024 * 1024)
    run = target.cli("kb", "add", str(bomb), "--tenant", "sakura", timeout=20)
    ok = run.code != -9 and run.peak_rss_mb <= base.peak_rss_mb + 400 and not run.traceback
    results.add(cat, "kb add of a DOCX bomb (150 MB of XML) ends in ≤ 20 s and ≤ 400 MB above "
                     "a small kb add", ok,
                f"{bomb.stat().st_size / 1e3:.0f} KB file, {run.seconds:.1f} s"
                f"{' (killed)' if run.code == -9 else ''}, peak {run.peak_rss_mb:.0f} MB "
                f"(small {base.peak_rss_mb:.0f} MB), exit {run.code}")
    _stall(target, results, cat)
    huge = _write(target, "huge.eml", _raw_mail(
        {"From": "yamada.hanako@sakura-seiki.example", "Subject": "huge"},
        b"x" * (26 * 1024 * 1024), "text/plain; charset=us-ascii"))
    run = _import(target, huge, timeout=60)
    held = _quarantined_for_size(run.stdout)
    results.add(cat, "a 26 MB mail (over max_mail_bytes) is refused with a clear error",
                (run.code not in (0, -9) or (run.code == 0 and held)) and not run.traceback
                and run.seconds < 20,
                f"exit {run.code}, {run.seconds:.1f} s"
                + (", quarantined as mail_too_large" if held else ""))
    admin = target.actor("s_admin")
    r = admin.call("POST", "/api/v1/requests", content=b"x" * (120 * 1024 * 1024),
                   headers={"Content-Type": "application/json"})
    results.add(cat, "a 120 MB API body is refused with 413", r.status == 413,
                f"status {r.status}")

    def chunks() -> Any:
        for _ in range(120):
            yield b"y" * (1024 * 1024)

    r = admin.call("POST", "/api/v1/requests", content=chunks(),
                   headers={"Content-Type": "application/json"})
    results.add(cat, "a 120 MB chunked API body (no Content-Length) is refused with 413",
                r.status == 413, f"status {r.status}")


def _stall(target: Target, results: Results, cat: str) -> None:
    """Intake (one client, sequential POSTs) beside a 5 MB kb add; longest wait compared."""
    doc = target.tmp / "big-rules.md"
    _big_markdown(doc, 5 * 1024 * 1024)
    client = target.actor("s_req2")
    waits: list[float] = []
    stop = threading.Event()

    def load() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            r = client.call("POST", "/api/v1/requests",
                            json={"title": f"stall {i}", "body": "交通費の精算をお願いします。"})
            waits.append(r.seconds if r.status == 201 else 99.0)
            time.sleep(0.02)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    time.sleep(2)
    quiet = max(waits, default=0.0)
    before = len(waits)
    run = target.cli("kb", "add", str(doc), "--tenant", "sakura", timeout=240)
    stop.set()
    worker.join(timeout=30)
    during = max(waits[before:], default=0.0)
    results.add(cat, "intake during a 5 MB kb add waits ≤ 1 s per request", during <= 1.0,
                f"longest {during:.2f} s during ({len(waits) - before} requests, kb add "
                f"{run.seconds:.1f} s, exit {run.code}); {quiet:.2f} s before")


# --------------------------------------------------------------------------- at rest


def stored_secrets(target: Target, results: Results, cat: str) -> None:
    passwords: list[str] = getattr(target, "mail_passwords", [])
    if not passwords:
        pw = [f"imap-pw-{secrets.token_hex(6)}", f"smtp-pw-{secrets.token_hex(6)}"]
        target.cli("mail", "configure", "--address", "desk@sakura-seiki.example",
                   "--imap-host", "127.0.0.1", "--imap-user", "desk", "--smtp-host",
                   "127.0.0.1", "--smtp-user", "desk", "--password-stdin", "--tenant",
                   "sakura", stdin=f"{pw[0]}\n{pw[1]}\n")
        passwords = pw
        target.backup_dir = None  # type: ignore[attr-defined]
    if target.server.schema:
        import psycopg

        with psycopg.connect(intake.PG_BASE.replace("postgresql+psycopg", "postgresql")) as c:
            c.execute(f'SET search_path TO "{target.server.schema}"')
            blob = str(c.execute("SELECT * FROM mail_accounts").fetchall()).encode()
    else:
        blob = b"".join(p.read_bytes() for p in target.data_dir.glob("ushiro.db*"))
    found = [p for p in passwords if p.encode() in blob]
    results.add(cat, "IMAP/SMTP passwords are not stored in plain text in the database",
                not found, f"{len(found)} of 2 found")
    place = ensure_backup(target)
    blob = b"".join(p.read_bytes() for p in place.rglob("*") if p.is_file())
    found = [p for p in passwords if p.encode() in blob]
    results.add(cat, "IMAP/SMTP passwords are not in plain text in the backup", not found,
                f"{len(found)} of 2 found")
    page = target.actor("s_admin").call("GET", "/admin/mail").text
    results.add(cat, "the mail settings page does not show the passwords",
                not any(p in page for p in passwords))


def _mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


def file_modes(target: Target, results: Results, cat: str) -> None:
    place = ensure_backup(target)
    checks = [("the data directory", target.data_dir, 0o077)]
    if not target.server.schema:
        checks.append(("the database file", target.data_dir / "ushiro.db", 0o077))
    checks.append(("the backup directory", place, 0o077))
    files = [p for p in place.rglob("*") if p.is_file()]
    if files:
        open_files = [p for p in files if p.stat().st_mode & 0o077]
        results.add(cat, "every backup file is private (no group/other access)",
                    not open_files, f"{len(open_files)} of {len(files)} open, e.g. "
                    + (f"{open_files[0].relative_to(place)} {_mode(open_files[0])}"
                       if open_files else "-"))
    for label, path, forbidden in checks:
        results.add(cat, f"{label} is private (no group/other access)",
                    path.exists() and not path.stat().st_mode & forbidden,
                    _mode(path) if path.exists() else "missing")


def _quarantined_for_size(stdout: str) -> bool:
    """``mail import --json`` prints one row per file; exit 0 means each was imported or
    quarantined (the mailbox goes on), so a refusal is a quarantine row naming the size
    limit, with no request made from the mail."""
    for line in stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "request_id" not in row:
            held = row.get("quarantined")
            if isinstance(held, dict) and held.get("code") == "mail_too_large":
                return True
    return False


def _has_command(target: Target, *words: str) -> bool:
    """``ushiro WORDS --help``: the leaf command itself, because the CLI always gets
    ``--data-dir``, which a command group refuses (exit 2)."""
    known: dict[tuple[str, ...], bool] = target.__dict__.setdefault("commands", {})
    if words not in known:
        run = target.cli(*words, "--help")
        known[words] = run.code == 0 and "Usage" in run.stdout
    return known[words]


def _gc_files(target: Target, *leftovers: Path) -> str:
    """``ushiro files gc --delete``. It keeps files younger than its grace period (they
    may belong to a transaction still running), so the leftovers are first dated two
    hours back, as if the period had passed; any file it should not remove stays."""
    if _has_command(target, "files", "gc"):
        old = time.time() - 2 * 3600
        for path in leftovers:
            if path.exists():
                os.utime(path, (old, old))
        run = target.cli("files", "gc", "--delete")
        return f"ushiro files gc --delete exit {run.code}"
    return "no `ushiro files gc`"


def _file_of(target: Target, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return target.data_dir / "files" / digest[:2] / digest[2:]


def orphan_after_rollback(target: Target, results: Results, cat: str) -> None:
    """A reply with an attachment that the service refuses after storing the file (an
    invalid status step). Defended: no file of a refused upload is left, or the product's
    file collection (``ushiro files gc``) removes it."""
    s = target.seed  # type: ignore[attr-defined]
    admin = target.actor("s_admin")
    rid = s.marked_requests[1]
    admin.call("PATCH", f"/api/v1/requests/{rid}", json={"status": "in_progress"})
    data = os.urandom(200_000)
    r = admin.form(f"/desk/requests/{rid}/reply", {"body": "添付します", "kind": "note",
                                                   "status": "new"},
                   files=[("files", ("orphan.bin", data, "application/octet-stream"))])
    left = _file_of(target, data).exists()
    how = _gc_files(target, _file_of(target, data)) if left else ""
    left = _file_of(target, data).exists()
    results.add(cat, "a refused upload leaves no orphaned file in the file store", not left,
                f"reply answered {r.status}; " + (how or "no file written"))


def killed_upload(target: Target, results: Results, cat: str) -> None:
    """SIGKILL the server while it writes an 8 MB upload. Defended: after the restart no
    partial temp file and no file without its row is left (after ``ushiro files gc``)."""
    req = target.actor("s_req")
    outcome = "the upload finished before it could be killed"
    for _attempt in range(3):
        data = os.urandom(8 * 1024 * 1024)
        final = _file_of(target, data)
        folder = final.parent
        marker = f"kup{secrets.token_hex(3)}"
        done = threading.Event()

        def upload(payload: bytes = data, mark: str = marker,
                   finished: threading.Event = done) -> None:
            req.form("/portal/new", {"title": mark, "body": mark},
                     files=[("files", ("big.bin", payload, "application/octet-stream"))])
            finished.set()

        thread = threading.Thread(target=upload, daemon=True)
        thread.start()
        killed = False
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                names = []
            if any(n.startswith(".tmp-") for n in names) or final.name in names:
                assert target.server.proc is not None
                os.killpg(target.server.proc.pid, signal.SIGKILL)
                killed = True
                break
        thread.join(timeout=30)
        if not killed:
            continue
        target.server.proc.wait(timeout=15)  # type: ignore[union-attr]
        target.server.start()
        stored = bool(_found(target, marker))
        partial = [n for n in os.listdir(folder) if n.startswith(".tmp-")]
        orphan = final.exists() and not stored
        how = (_gc_files(target, final, *(folder / n for n in partial))
               if partial or orphan else "")
        partial = [n for n in os.listdir(folder) if n.startswith(".tmp-")]
        orphan = final.exists() and not stored
        results.add(cat, "an upload killed mid-way leaves no partial or orphaned file",
                    not partial and not orphan,
                    f"partial temp files {len(partial)}, orphan {orphan}, request stored "
                    f"{stored}; {how or 'nothing to collect'}")
        return
    results.note(cat, f"killed upload not checked: {outcome}")


# --------------------------------------------------------------------------- crash


def crash(target: Target, results: Results) -> None:
    """bench/intake.py's crash mode, smaller: 8 clients, 800 requests with idempotency
    keys, SIGKILL at 30 % and 65 %, restart, retries. Defended: 0 lost, 0 duplicated,
    replays answer the same request, and the audit chain verifies after the kills."""
    cat = "crash"
    server = target.server
    token = target.actor("s_req").token
    assert token
    run_id = f"sweep{secrets.token_hex(4)}"
    record: dict[str, Any] = {"kills": 0, "downtime_s": []}
    load = intake.Load(server, token, run_id, clients=8, count=800, duration=None,
                       retry=True, client_kind="raw")
    phase = intake.arun(load.run(intake.killer(server, [0.3, 0.65], record)))
    found = intake.verify(server, run_id, phase.acked)
    results.note(cat, f"{found['acknowledged']} acknowledged, {record['kills']} kills, "
                 f"{phase.retries} retries, {phase.replayed} replayed, downtime "
                 f"{record['downtime_s']} s")
    results.add(cat, "no acknowledged request lost", found["acknowledged"] > 0
                and found["lost"] == 0, f"{found['lost']} lost")
    results.add(cat, "no request stored twice", found["duplicated"] == 0,
                f"{found['duplicated']} duplicated")
    results.add(cat, "each stored request has the id and key its client was told",
                found["wrong_id_or_key"] == 0, f"{found['wrong_id_or_key']} wrong")
    results.add(cat, "a replayed key answers the same request", phase.mismatched == 0,
                f"{phase.mismatched} mismatched")
    results.add(cat, "the audit chain verifies after the kills", intake.audit_ok(server))
    killed_upload(target, results, "leaks")
