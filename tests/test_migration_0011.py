"""Migration 0011 folds each tenant's copy of the shipped synonyms into its own changes."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import Engine, create_engine, text

from ushiro import knowledge
from ushiro.core.db import Database
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.identity import command_line
from ushiro.migrations import config

Pair = tuple[str, str]
ADDED: list[Pair] = [("ワーケーション", "ワーケーション"), ("ワーケーション", "旅先テレワーク")]


def _edited_copy(shipped: list[Pair]) -> list[Pair]:
    """The shipped copy as an administrator left it: a shipped variant removed
    (年次有給休暇 ← ゆうきゅう), a group changed (賞与 loses ボーナス, which 特別賞与 gets as
    a new group) and a term of its own added (ワーケーション ← 旅先テレワーク)."""
    removed = {("年次有給休暇", "ゆうきゅう"), ("賞与", "ボーナス")}
    assert removed <= set(shipped)
    return ([p for p in shipped if p not in removed]
            + [("特別賞与", "特別賞与"), ("特別賞与", "ボーナス"), *ADDED])


def _old_form(engine: Engine, shipped: list[Pair]) -> dict[str, int]:
    """Tenants at 0010: untouched (a full copy), edited, emptied (every row deleted) and
    new (never used knowledge: no state, no rows)."""
    copies = {"untouched": shipped, "edited": _edited_copy(shipped), "emptied": []}
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for slug in [*copies, "new"]:
            ids[slug] = conn.execute(text(
                "INSERT INTO tenants (slug, name, created_at) VALUES (:s, :s, CURRENT_TIMESTAMP) "
                "RETURNING id"), {"s": slug}).scalar_one()
        for slug, pairs in copies.items():
            conn.execute(text(
                "INSERT INTO kb_state (tenant_id, generation, stamp, synonyms_seeded, updated_at) "
                "VALUES (:t, 1, :stamp, :seeded, CURRENT_TIMESTAMP)"),
                {"t": ids[slug], "stamp": f"stamp-{slug}", "seeded": True})
            if pairs:
                conn.execute(text("INSERT INTO kb_synonyms (tenant_id, canonical, variant) "
                                  "VALUES (:t, :c, :v)"),
                             [{"t": ids[slug], "c": c, "v": v} for c, v in pairs])
    return ids


def _rows(engine: Engine) -> dict[int, set[Pair]]:
    with engine.connect() as conn:
        found: dict[int, set[Pair]] = {}
        for tenant_id, c, v in conn.execute(text(
                "SELECT tenant_id, canonical, variant FROM kb_synonyms")):
            found.setdefault(tenant_id, set()).add((c, v))
    return found


def test_each_tenant_keeps_its_synonyms_and_stores_only_its_changes(
        db_url_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """GIVEN tenants at 0010, each with a full copy of the shipped synonyms: one untouched,
    one edited (a shipped variant removed, a group changed, a term added), one whose rows
    were all deleted, and one that never used knowledge
    WHEN the database is migrated to head
    THEN every tenant's effective synonyms are exactly what it had; the untouched tenant
    (like the new one) has no rows and shares its analyser with it; the edited tenant keeps
    its edits as additions and removals; and migrating down gives every copy back."""
    shipped = list(dict.fromkeys(knowledge.default_pairs()))
    url = db_url_factory.new_url(migrate=False)
    command.upgrade(config(url), "0010_signatures")
    engine = create_engine(url)
    db = Database(url, pool_size=2)
    try:
        ids = _old_form(engine, shipped)
        before = _rows(engine)
        before[ids["new"]] = set(shipped)  # read as the shipped list until its first use
        command.upgrade(config(url), "head")
        rows_after = {tenant_id: len(pairs) for tenant_id, pairs in _rows(engine).items()}
        rt = Runtime(Settings(data_dir=tmp_path / "data", database_url=url,
                              secret_key="test-secret-key", jobs_inline=True,
                              worker_in_process=False), db)
        after = {tid: set(knowledge.synonym_state(rt, tid)[1].pairs) for tid in ids.values()}
        tables = {slug: knowledge.synonyms(rt, command_line(tid)) for slug, tid in ids.items()}
        analyzers = {slug: knowledge.analyzer(rt, command_line(tid)) for slug, tid in ids.items()}
        with engine.connect() as conn:
            stamps = dict(conn.execute(text("SELECT tenant_id, stamp FROM kb_state")).all())
        db.dispose()
        command.downgrade(config(url), "0010_signatures")
        restored = _rows(engine)
    finally:
        db.dispose()
        engine.dispose()
    assert after == {tid: before.get(tid, set()) for tid in ids.values()}
    assert rows_after.get(ids["untouched"], 0) == 0
    assert rows_after[ids["edited"]] == 2 + 2 + 2  # removed: 2, added: 特別賞与 ×2, ワーケーション ×2
    assert rows_after[ids["emptied"]] == len(shipped)  # every shipped pair removed
    assert "ボーナス" not in tables["edited"]["賞与"] and "ゆうきゅう" not in tables["edited"]["年次有給休暇"]
    assert tables["edited"]["特別賞与"] == ["ボーナス"] and tables["edited"]["ワーケーション"] == ["旅先テレワーク"]
    assert tables["untouched"] == tables["new"] and tables["emptied"] == {}
    assert analyzers["untouched"] is analyzers["new"] is not analyzers["edited"]
    # The stored digest names the set the passages were analysed with: nothing re-analysed.
    assert {stamps[ids[s]] for s in ("untouched", "edited", "emptied")} == {
        "stamp-untouched", "stamp-edited", "stamp-emptied"}
    # The new tenant was set up by its first use since: it gets a copy, as 0010 gave one.
    assert restored == {ids[s]: before[ids[s]] for s in ("untouched", "edited", "new")}
