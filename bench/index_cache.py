#!/usr/bin/env python
"""Persisted search indexes and the index cache: cold load vs rebuild, memory per cached
index, full garbage-collection pauses; today's code (commit ``--base``, default 7271ce2)
beside this tree.

Creates ``--tenants`` tenants (default 120) of ``--passages`` passages each (default 450,
synthetic rule documents from bench/knowledge_latency.py) in a SQLite database (or a
PostgreSQL schema with ``--db postgres``), kept in ``--dir`` for a rerun. Then, each phase
in a process of its own (so its memory is its own):

* **base**: today's code (``git archive`` of ``--base`` into the work directory): the first
  search of every tenant builds its index in memory; everything kept (cache capacity raised
  to hold them all);
* **build**: this tree, persistence on, nothing on disk: every first search builds and saves;
* **load**: this tree, a new process (a restart): every first search loads the saved index
  memory-mapped;
* **memory**: this tree with ``USHIRO_SEARCH_PERSIST=false`` (built in memory, not mapped);
* **shared** (with ``--phases …,shared``): as **load**, with one analyser per synonym set
  (a preview of issue 14 item 1, :func:`share_analyzers`): what an index costs on its own.

Per phase: the first search per tenant (p50 / p90 / max, ms), the process's RSS growth per
cached index (and its anonymous part: what is private to the process; file-backed pages of
mapped indexes are shared between processes), and the full collection pause
(``gc.collect()``, median of 5) with every index cached, measured in the same process
unfrozen and after ``gc.freeze()``. ``--big N`` adds one tenant of N passages (20,000:
rebuild vs load). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
QUESTION = "年次有給休暇は入社後いつから何日付与されますか"


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- setup


def setup(args: argparse.Namespace) -> dict[str, Any]:
    """The database with its tenants (made once, then reused from ``--dir``)."""
    info_file = Path(args.dir) / "tenants.json"
    if info_file.exists():
        return dict(json.loads(info_file.read_text()))
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(TREE / "src"))
    import knowledge_latency as corpus

    from ushiro import knowledge
    from ushiro.audit import SYSTEM
    from ushiro.core.runtime import Runtime
    from ushiro.core.settings import Settings
    from ushiro.identity import command_line
    from ushiro.identity import service as identity_service
    from ushiro.migrations import upgrade

    Path(args.dir).mkdir(parents=True, exist_ok=True)
    url = args.url or f"sqlite:///{Path(args.dir).resolve() / 'ushiro.db'}"
    upgrade(url)
    rt = Runtime.from_settings(Settings(data_dir=Path(args.dir) / "setup", database_url=url,
                                        secret_key="bench", search_persist=False))
    pool = corpus.templates()
    tenants, started = [], time.perf_counter()

    def make(slug: str, passages: int) -> int:
        tenant = identity_service.create_tenant(rt.db, SYSTEM, slug, f"{slug} 株式会社")
        per_doc = 90
        for i in range(max(1, round(passages / per_doc))):
            corpus.ARTICLES_PER_DOCUMENT = per_doc
            name, data = corpus.document(i + tenant.id * 7, pool, seed=tenant.id)
            knowledge.add_document(rt, command_line(tenant.id), knowledge.DocumentIn(name, data))
        return int(tenant.id)

    for n in range(args.tenants):
        tenants.append(make(f"bench{n:04d}", args.passages))
        if n % 10 == 9:
            note(f"  {n + 1} tenants ({time.perf_counter() - started:.0f} s)")
    big = make("big", args.big) if args.big else None
    info = {"url": url, "tenants": tenants, "big": big}
    info_file.write_text(json.dumps(info))
    rt.db.dispose()
    return info


# --------------------------------------------------------------------------- one phase


def rss() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) * 1024
    return out


def gc_pause() -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def child(phase: str, info: dict[str, Any], data_dir: str) -> dict[str, Any]:
    """Runs in its own process, with ``ushiro`` from the tree the phase measures."""
    from ushiro import knowledge
    from ushiro.core.runtime import Runtime
    from ushiro.core.settings import Settings
    from ushiro.identity import command_line
    from ushiro.knowledge.retrieval import index as kb_index

    settings = Settings(data_dir=Path(data_dir), database_url=info["url"], secret_key="bench",
                        db_pool_size=2)
    rt = Runtime.from_settings(settings)
    if phase == "shared":
        share_analyzers(kb_index)
    kb_index._indexes.capacity = 10**6  # the base's count limit: keep every index
    knowledge.search(rt, command_line(info["tenants"][0]), QUESTION)  # imports, Sudachi
    kb_index._indexes.clear()
    gc.collect()
    before, pause_empty = rss(), gc_pause()
    first = []
    for tenant in info["tenants"]:
        started = time.perf_counter()
        knowledge.search(rt, command_line(tenant), QUESTION)
        first.append((time.perf_counter() - started) * 1000)
    gc.collect()
    after = rss()
    result: dict[str, Any] = {"phase": phase, "first_ms": first, "cached": len(info["tenants"]),
                              "rss_per_index": {k: (after[k] - before[k]) / len(first)
                                                for k in after},
                              "rss_total": after, "gc_empty_ms": pause_empty}
    if hasattr(gc, "unfreeze"):
        gc.unfreeze()  # what a full collection walks without freezing
    result["gc_unfrozen_ms"] = gc_pause()
    gc.freeze()
    result["gc_frozen_ms"] = gc_pause()
    for tenant in info["tenants"] * 2:  # steady state: searches on cached indexes since
        knowledge.search(rt, command_line(tenant), QUESTION)
    result["gc_after_searches_ms"] = gc_pause()
    if hasattr(kb_index._indexes, "bytes"):  # what the cache budget counts
        from ushiro.knowledge.retrieval.footprint import footprint

        result["budgeted_mb"] = kb_index._indexes.bytes / len(kb_index._indexes) / 2**20
        result["budgeted_analyzer_mb"] = statistics.median(
            footprint(kb_index.current_index(rt, tenant).analyzer)
            for tenant in info["tenants"][:20]) / 2**20
    result["counts"] = dict(getattr(kb_index, "counts", {}))
    analyzer_of = _analyzer_getter(rt, kb_index)
    if analyzer_of is not None:  # the part of a load that is not the index's
        times = []
        for tenant in info["tenants"][:20]:
            started = time.perf_counter()
            analyzer_of(tenant)
            times.append((time.perf_counter() - started) * 1000)
        result["analyzer_ms"] = statistics.median(times)
    if info.get("big"):
        kb_index._indexes.clear()
        started = time.perf_counter()
        knowledge.search(rt, command_line(info["big"]), QUESTION)
        result["big_first_ms"] = (time.perf_counter() - started) * 1000
    return result


def _analyzer_getter(rt: Any, kb_index: Any) -> Any:
    """How this tree obtains a tenant's analyser (None: the base, which has no seam)."""
    try:
        from ushiro.knowledge.state import current_analyzer

        return lambda tenant: current_analyzer(rt, tenant)
    except ImportError:
        pass
    if hasattr(kb_index, "tenant_analyzer"):
        def of(tenant: int) -> Any:
            with rt.db.reading() as session:
                return kb_index.tenant_analyzer(session, tenant)
        return of
    return None


def share_analyzers(kb_index: Any) -> None:
    """A preview of issue 14 item 1 (not this tree's code): one analyser per synonym set,
    here by the digest of the pairs read from the database, so the figures show an index's
    own cost. The pairs are still read per load."""
    import hashlib

    from ushiro.knowledge import repository
    from ushiro.knowledge.retrieval.tokenize import Analyzer

    if not hasattr(kb_index, "tenant_analyzer"):
        return  # the tree shares analysers itself (state.current_analyzer)
    shared: dict[str, Any] = {}

    def analyzer(session: Any, tenant_id: int) -> Any:
        pairs = repository.synonym_pairs(session, tenant_id)
        key = hashlib.sha256(repr(pairs).encode()).hexdigest()
        if key not in shared:
            shared[key] = Analyzer(pairs)
        return shared[key]

    kb_index.tenant_analyzer = analyzer


def run_phase(phase: str, info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    src = Path(args.dir) / "base" / "src" if phase == "base" else TREE / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    env["USHIRO_SEARCH_PERSIST"] = "false" if phase == "memory" else "true"
    env["USHIRO_SEARCH_CACHE_MB"] = "100000"
    data_dir = Path(args.dir) / ("data-" + ("persist" if phase in ("build", "load", "shared") else phase))
    if phase == "build":
        shutil.rmtree(data_dir, ignore_errors=True)  # nothing saved yet: every search builds
    note(f"phase {phase} ...")
    done = subprocess.run([sys.executable, __file__, "--child", phase, "--dir", args.dir,
                           "--data-dir", str(data_dir)], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout))


def base_tree(args: argparse.Namespace) -> None:
    target = Path(args.dir) / "base"
    if (target / "src" / "ushiro").is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(TREE), "archive", args.base, "src"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


# --------------------------------------------------------------------------- report


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def report(results: list[dict[str, Any]], info: dict[str, Any]) -> None:
    mb = 2**20
    rows = [
        ("first search p50 (ms)", lambda r: f"{pct(r['first_ms'], 50):.1f}"),
        ("first search p90 (ms)", lambda r: f"{pct(r['first_ms'], 90):.1f}"),
        ("first search max (ms)", lambda r: f"{max(r['first_ms']):.1f}"),
        ("  of it the analyser (ms)", lambda r: f"{r['analyzer_ms']:.1f}"
                                               if "analyzer_ms" in r else "-"),
        ("RSS per cached index (MB)", lambda r: f"{r['rss_per_index']['VmRSS'] / mb:.2f}"),
        ("  of it anonymous (MB)", lambda r: f"{r['rss_per_index']['RssAnon'] / mb:.2f}"),
        ("  of it file-backed (MB)", lambda r: f"{r['rss_per_index']['RssFile'] / mb:.2f}"),
        ("process RSS (MB)", lambda r: f"{r['rss_total']['VmRSS'] / mb:.0f}"),
        ("full GC, no index (ms)", lambda r: f"{r['gc_empty_ms']:.1f}"),
        ("full GC, all cached (ms)", lambda r: f"{r['gc_unfrozen_ms']:.1f}"),
        ("  after gc.freeze() (ms)", lambda r: f"{r['gc_frozen_ms']:.1f}"),
        ("  then 2 searches/tenant (ms)", lambda r: f"{r['gc_after_searches_ms']:.1f}"),
        ("budget spent per index (MB)", lambda r: f"{r['budgeted_mb']:.2f}"
                                                  if "budgeted_mb" in r else "-"),
        ("an analyser's size (MB)", lambda r: f"{r['budgeted_analyzer_mb']:.2f}"
                                                if "budgeted_mb" in r else "-"),
        ("builds / loads", lambda r: f"{r['counts'].get('built', '-')} / "
                                     f"{r['counts'].get('loaded', '-')}"),
    ]
    if info.get("big"):
        rows.append(("big tenant first search (ms)", lambda r: f"{r.get('big_first_ms', 0):.0f}"))
    names = [r["phase"] for r in results]
    print(f"{len(info['tenants'])} tenants cached in one process "
          f"(python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"{'':32}" + "".join(f"{n:>12}" for n in names))
    for label, cell in rows:
        print(f"{label:32}" + "".join(f"{cell(r):>12}" for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=120)
    parser.add_argument("--passages", type=int, default=450)
    parser.add_argument("--big", type=int, default=0, help="add one tenant of N passages")
    parser.add_argument("--db-url", dest="url", default=None,
                        help="SQLAlchemy URL of an empty migrated-or-new database; "
                             "SQLite in --dir if unset")
    parser.add_argument("--dir", default="/tmp/ushiro-index-bench")
    parser.add_argument("--base", default="7271ce2")
    parser.add_argument("--phases", default="base,build,load,memory")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        info = json.loads((Path(args.dir) / "tenants.json").read_text())
        print(json.dumps(child(args.child, info, args.data_dir)))
        return
    info = setup(args)
    base_tree(args)
    results = [run_phase(phase, info, args) for phase in args.phases.split(",")]
    if args.json:
        print(json.dumps(results))
    report(results, info)


if __name__ == "__main__":
    main()
