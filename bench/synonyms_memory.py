#!/usr/bin/env python
"""Synonyms per tenant, before and after migration 0011 (issue 14 item 1), in one process.

A throw-away database (SQLite in a temporary directory, or a fresh PostgreSQL schema with
``--db postgres``) is migrated to 0010, the schema of before, and ``--tenants`` tenants
(default 200) are given what their first use of knowledge gave them then: a full copy of the
shipped dictionary in ``kb_synonyms``. Then:

* **rows**: ``kb_synonyms`` rows (and on PostgreSQL the table's size; after the migration,
  once ``VACUUM FULL`` returned the space) in that form, the time migration 0011 takes to fold the copies into each tenant's changes, and the rows after;
* **analyser memory per tenant** (tracemalloc, for ``--measured`` tenants): before, each
  tenant's analyser built from its own copy as read from the database (what the index build
  did); after, each tenant's analyser as search obtains it now (its synonym set, then the
  process's analyser of that set's digest) — distinct analysers, traced bytes per tenant and
  the time per tenant.

Not a test: it prints figures. See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

PG_BASE = os.environ.get("USHIRO_BENCH_PG_URL",
                         "postgresql+psycopg://postgres@127.0.0.1:5432/test")
Pair = tuple[str, str]


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.encode())


def _old_form(url: str, tenants: int) -> list[int]:
    """Tenants at 0010, each set up as its first use did then: the shipped list copied in."""
    from sqlalchemy import create_engine, text

    from ushiro.knowledge import default_pairs

    pairs = list(default_pairs())
    engine = create_engine(url)
    ids = []
    with engine.begin() as conn:
        for n in range(tenants):
            tenant_id = conn.execute(text(
                "INSERT INTO tenants (slug, name, created_at) VALUES (:s, :s, CURRENT_TIMESTAMP) "
                "RETURNING id"), {"s": f"client-{n:04d}"}).scalar_one()
            conn.execute(text(
                "INSERT INTO kb_state (tenant_id, generation, stamp, synonyms_seeded, updated_at) "
                "VALUES (:t, 1, :s, :seeded, CURRENT_TIMESTAMP)"),
                {"t": tenant_id, "s": secrets.token_hex(16), "seeded": True})
            conn.execute(text("INSERT INTO kb_synonyms (tenant_id, canonical, variant) "
                              "VALUES (:t, :c, :v)"),
                         [{"t": tenant_id, "c": c, "v": v} for c, v in pairs])
            ids.append(int(tenant_id))
    engine.dispose()
    return ids


def _table(url: str) -> tuple[int, int | None]:
    """kb_synonyms: rows, and bytes on PostgreSQL (with its indexes)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = int(conn.execute(text("SELECT count(*) FROM kb_synonyms")).scalar_one())
        size = (int(conn.execute(text("SELECT pg_total_relation_size('kb_synonyms')")).scalar_one())
                if engine.dialect.name == "postgresql" else None)
    engine.dispose()
    return rows, size


def _copies(url: str, ids: list[int]) -> list[list[Pair]]:
    """Each tenant's copy read back as the index build read it (fresh strings per tenant)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        copies = [[(c, v) for c, v in conn.execute(text(
            "SELECT canonical, variant FROM kb_synonyms WHERE tenant_id = :t ORDER BY id"),
            {"t": tenant_id})] for tenant_id in ids]
    engine.dispose()
    return copies


def _traced(build: Callable[[int], Any], count: int) -> tuple[list[Any], int, float]:
    """Objects built for ``count`` tenants and kept, the bytes they hold, seconds taken."""
    gc.collect()
    tracemalloc.start()
    start_bytes = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    kept = [build(i) for i in range(count)]
    elapsed = time.perf_counter() - started
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - start_bytes
    tracemalloc.stop()
    return kept, held, elapsed


def run(db: str, tenants: int, measured: int) -> None:
    from alembic import command

    from ushiro import knowledge
    from ushiro.core.runtime import Runtime
    from ushiro.core.settings import Settings
    from ushiro.migrations import config

    tmp = Path(tempfile.mkdtemp(prefix="ushiro-synonyms-bench-"))
    schema = f"synbench_{secrets.token_hex(6)}" if db == "postgres" else None
    if schema:
        _pg(f'CREATE SCHEMA "{schema}"')
    url = (f"{PG_BASE}?options=-csearch_path%3D{schema}" if schema
           else f"sqlite:///{tmp / 'ushiro.db'}")
    try:
        command.upgrade(config(url), "0010_signatures")
        ids = _old_form(url, tenants)
        rows_before, size_before = _table(url)
        copies = _copies(url, ids[:measured])
        started = time.perf_counter()
        command.upgrade(config(url), "head")
        migration = time.perf_counter() - started
        if schema:  # what a DELETE frees is returned to the system only by VACUUM FULL
            _pg(f'VACUUM FULL "{schema}".kb_synonyms')
        rows_after, size_after = _table(url)
        knowledge.Analyzer(copies[0])  # Sudachi and the normalised-term cache, warm for both
        old, old_bytes, old_time = _traced(lambda i: knowledge.Analyzer(copies[i]), measured)
        del old
        rt = Runtime.from_settings(Settings(data_dir=tmp, database_url=url, secret_key="bench",
                                            jobs_inline=True, worker_in_process=False,
                                            db_pool_size=2))
        knowledge.synonym_state(rt, ids[-1])  # the connection and the statements, warm
        new, new_bytes, new_time = _traced(
            lambda i: knowledge.analyzer_for(knowledge.synonym_state(rt, ids[i])[1]), measured)
        rt.db.dispose()
    finally:
        if schema:
            _pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(tmp, ignore_errors=True)

    def size(value: int | None) -> str:
        return "" if value is None else f"  ({value / 1e6:.1f} MB with indexes)"

    print(f"{db}, {tenants} tenants, shipped list {len(knowledge.default_pairs())} pairs")
    print(f"kb_synonyms rows   before {rows_before:>9,}{size(size_before)}")
    print(f"                   after  {rows_after:>9,}{size(size_after)}"
          f"   (migration 0011: {migration:.1f} s)")
    print(f"analyser, {measured} tenants measured (tracemalloc):")
    print(f"  before  {measured} analysers  {old_bytes / measured / 1e6:7.2f} MB per tenant  "
          f"{old_time / measured * 1e3:7.1f} ms per tenant")
    print(f"  after   {len({id(a) for a in new})} analyser{'s' if len({id(a) for a in new}) > 1 else ''}"
          f"   {new_bytes / measured / 1e6:7.2f} MB per tenant  "
          f"{new_time / measured * 1e3:7.1f} ms per tenant  ({new_bytes / 1e6:.2f} MB in all)")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--tenants", type=int, default=200)
    p.add_argument("--measured", type=int, default=20,
                   help="tenants whose analysers are built and traced (default 20)")
    args = p.parse_args(argv)
    run(args.db, args.tenants, min(args.measured, args.tenants))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
