"""`ushiro audit verify` notices every kind of tampering with the audit chain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from ushiro.audit.models import AuditEvent, AuditHead
from ushiro.audit.service import legacy_digest, stored
from ushiro.core.db import Database


def _prepare(ushiro) -> None:
    ushiro("init", "--tenant", "sakura")
    for i in range(4):
        ushiro("user", "add", f"user{i}@example.co.jp", "--name", f"社員 {i}", "--role",
               "requester")


def _sql(cli_env: dict[str, str], statement: str) -> None:
    engine = create_engine(cli_env["USHIRO_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_intact_chain_verifies(ushiro) -> None:
    _prepare(ushiro)
    result = ushiro("audit", "verify", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["ok"] is True and report["events"] >= 5


@pytest.mark.parametrize(("tamper", "kind"), [
    ("UPDATE audit_events SET after = '{\"role\": \"admin\"}' "
     "WHERE seq = 3 AND chain = (SELECT MAX(chain) FROM audit_events)", "altered"),
    ("UPDATE audit_events SET actor = 'someone-else' "
     "WHERE seq = 2 AND chain = (SELECT MAX(chain) FROM audit_events)", "altered"),
    ("DELETE FROM audit_events WHERE seq = 3 AND chain = (SELECT MAX(chain) FROM audit_events)",
     "missing"),
    ("DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events WHERE chain = "
     "(SELECT MAX(chain) FROM audit_events)) AND chain = (SELECT MAX(chain) FROM audit_events)",
     "head_mismatch"),
    ("UPDATE audit_events SET prev_hash = hash "
     "WHERE seq = 4 AND chain = (SELECT MAX(chain) FROM audit_events)", "broken_link"),
])
def test_tampering_is_reported(ushiro, cli_env, tamper: str, kind: str) -> None:
    """GIVEN a valid chain WHEN one event is altered, removed or relinked by hand in the
    database THEN verify exits 1 and names the kind of damage."""
    _prepare(ushiro)
    _sql(cli_env, tamper)
    result = ushiro("audit", "verify", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert kind in {p["kind"] for p in report["problems"]}


def test_inserted_event_is_reported(ushiro, cli_env) -> None:
    """An event slipped in by renumbering the rest breaks the hashes of all that follow."""
    _prepare(ushiro)
    _sql(cli_env, "UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 3 AND chain = "
                  "(SELECT MAX(chain) FROM audit_events)")
    _sql(cli_env, "UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1003 AND chain = "
                  "(SELECT MAX(chain) FROM audit_events)")
    _sql(cli_env, "INSERT INTO audit_events (chain, seq, at, actor_id, actor, action, "
                  "object_type, object_id, prev_hash, hash) SELECT MAX(chain), 3, "
                  "CURRENT_TIMESTAMP, NULL, 'forger', 'user.add', 'user', '99', "
                  "'x', 'y' FROM audit_events")
    result = ushiro("audit", "verify")
    assert result.exit_code == 1
    assert "改ざん" in result.stdout or "連結" in result.stdout


# ----------------------------------------------------------------- keys and checkpoints

def _db(cli_env: dict[str, str]) -> Database:
    return Database(cli_env["USHIRO_DATABASE_URL"], pool_size=1)


def _tenant_chain(cli_env: dict[str, str]) -> tuple[int, int]:
    """(chain, last seq) of the tenant's chain."""
    db = _db(cli_env)
    try:
        with db.reading() as session:
            chain = session.scalar(select(func.max(AuditEvent.chain)))
            last = session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.chain == chain))
        return int(chain or 0), int(last or 0)
    finally:
        db.dispose()


def _rehash(cli_env: dict[str, str], chain: int, from_seq: int,
            edit: Callable[[AuditEvent], None] = lambda e: None) -> None:
    """What someone with database access but without the audit key can do: edit event
    ``from_seq`` and recompute every later hash, unkeyed (the old algorithm), and the head."""
    db = _db(cli_env)
    try:
        with db.transaction() as session:
            prev = None
            for event in session.scalars(select(AuditEvent).where(
                    AuditEvent.chain == chain).order_by(AuditEvent.seq)):
                if event.seq == from_seq:
                    edit(event)
                if event.seq >= from_seq:
                    event.prev_hash = prev if prev is not None else event.prev_hash
                    event.hash = legacy_digest(stored(event))
                prev = event.hash
                session.flush()
            head = session.get(AuditHead, chain)
            if head is not None and prev is not None:
                head.hash = prev
    finally:
        db.dispose()


def _kinds(ushiro) -> tuple[int, set[str]]:
    result = ushiro("audit", "verify", "--json")
    return result.exit_code, {p["kind"] for p in json.loads(result.stdout)["problems"]}


def _checkpointed(ushiro) -> None:
    _prepare(ushiro)
    done = ushiro("audit", "checkpoint")
    assert done.exit_code == 0, done.output


def test_truncating_the_newest_events_and_the_head_is_reported(ushiro, cli_env) -> None:
    """GIVEN a checkpointed chain WHEN its two newest events are deleted and audit_heads
    is set back to the event left last THEN verify reports truncation (it passed before:
    the head agreed with the events)."""
    _checkpointed(ushiro)
    chain, last = _tenant_chain(cli_env)
    _sql(cli_env, f"DELETE FROM audit_events WHERE chain = {chain} AND seq > {last - 2}")
    _sql(cli_env, f"UPDATE audit_heads SET seq = {last - 2}, hash = (SELECT hash FROM "
                  f"audit_events WHERE chain = {chain} AND seq = {last - 2}) WHERE chain = {chain}")
    assert _kinds(ushiro) == (1, {"truncated"})


def test_dropping_a_whole_chain_with_its_head_is_reported(ushiro, cli_env) -> None:
    """GIVEN a checkpointed tenant chain WHEN all its events and its head are deleted
    THEN verify reports the chain missing."""
    _checkpointed(ushiro)
    chain, _ = _tenant_chain(cli_env)
    _sql(cli_env, f"DELETE FROM audit_events WHERE chain = {chain}")
    _sql(cli_env, f"DELETE FROM audit_heads WHERE chain = {chain}")
    assert _kinds(ushiro) == (1, {"chain_missing"})


def test_recomputing_the_hashes_after_an_edit_is_reported(ushiro, cli_env) -> None:
    """GIVEN a chain WHEN event 3 is edited and it and every later hash recomputed, with the
    head moved along THEN verify reports the events rewritten without the key (it passed
    before: the hash was unkeyed)."""
    _prepare(ushiro)
    chain, _ = _tenant_chain(cli_env)

    def promote(event: AuditEvent) -> None:
        event.after = {"role": "admin"}

    _rehash(cli_env, chain, 3, promote)
    code, kinds = _kinds(ushiro)
    assert code == 1 and "unkeyed" in kinds and "altered" not in kinds


def test_unkeyed_chains_from_before_the_key_still_verify(ushiro, cli_env) -> None:
    """GIVEN a database written before audit keys (every hash the plain SHA-256, no
    checkpoint file) WHEN it is verified, sealed by `ushiro init` and written to again
    THEN it verifies each time; an event rewritten unkeyed after the seal is reported."""
    _prepare(ushiro)
    for chain in (0, _tenant_chain(cli_env)[0]):
        _rehash(cli_env, chain, 1)
    (Path(cli_env["USHIRO_DATA_DIR"]) / "audit-checkpoints.jsonl").unlink()
    assert _kinds(ushiro) == (0, set())
    assert ushiro("init").exit_code == 0
    added = ushiro("user", "add", "late@example.co.jp", "--name", "後任", "--role", "requester")
    assert added.exit_code == 0, added.output
    assert _kinds(ushiro) == (0, set())
    chain, last = _tenant_chain(cli_env)
    _rehash(cli_env, chain, last)
    assert _kinds(ushiro) == (1, {"unkeyed"})


def test_checkpoint_prints_heads_and_refuses_a_damaged_chain(ushiro, cli_env) -> None:
    """GIVEN a chain WHEN `audit checkpoint --print` runs THEN it prints each chain's
    head; after tampering it writes nothing and exits 1; an edited checkpoint line is
    reported by verify."""
    _prepare(ushiro)
    chain, last = _tenant_chain(cli_env)
    printed = ushiro("audit", "checkpoint", "--print")
    assert printed.exit_code == 0 and f"chain={chain} seq={last} hash=" in printed.stdout
    path = Path(cli_env["USHIRO_DATA_DIR"]) / "audit-checkpoints.jsonl"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    _sql(cli_env, f"UPDATE audit_events SET actor = 'x' WHERE chain = {chain} AND seq = 2")
    size = path.stat().st_size
    refused = ushiro("audit", "checkpoint")
    assert refused.exit_code == 1 and "書きませんでした" in refused.stdout
    assert path.stat().st_size == size
    path.write_text(path.read_text().replace(f'"seq": {last}', f'"seq": {last + 5}'))
    assert "checkpoint_invalid" in _kinds(ushiro)[1]
