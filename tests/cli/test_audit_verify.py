"""`ushiro audit verify` notices every kind of tampering with the audit chain."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text


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
