#!/usr/bin/env python
"""Knowledge search latency at 20,000 passages: Ushiro against a char-bigram BM25 baseline.

Synthesises ``--passages`` passages (default 20,000: 200 documents × 100 articles or Q&A
items, ~350 characters each) from the corpora in ``bench/data/docs``: every article or Q&A
item is a template whose numbers (article references, amounts, days, hours) are perturbed
and whose company, place, role, department and system names are swapped per document, all
from one deterministic seed. The documents go through the real ``knowledge.add_document``
into a throw-away database (SQLite, or a fresh PostgreSQL schema with ``--db postgres``);
ingest throughput is printed. Then:

* **index build**: the first ``knowledge.search`` after a change (reading every passage
  from the database + building the BM25 index), measured ``--builds`` times, each followed
  by the search right after it, reported apart from the per-query figures;
* **per query**: ``--queries`` questions (default 2,000) drawn with replacement from the
  question sets in ``bench/data/questions``, after ``--warmup`` uncounted ones, each one
  ``knowledge.search(rt, principal, q, k=10)`` (stamp check, analysis, BM25, the hits) — the
  work a web request does;
* **baseline**, in the same run and interleaved query by query (so both see the same machine
  noise): bm25s over character bigrams of the same passages read back from the database,
  with the hits' rows read from the database. ``--fts5`` adds SQLite FTS5 trigram;
* **Ushiro step by step**, in the same rotation: stamp check, analysis, BM25, building the
  hits, each timed; ``--experiment rows-from-db`` adds the variant that reads the hits'
  rows from the database as Ushiro did before (see :class:`PhasedUshiro`);
* **garbage collector**: every collection during the measured queries (generation, pause),
  and how many Ushiro queries had a full (generation 2) collection inside them.

Targets (issue item 9): p50 ≤ 5 ms and p99 ≤ 20 ms at 20,000 passages on 2 cores. Not a test:
it prints figures. See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from retrieval import (
    DATA,
    BigramBM25,
    Env,
    FTS5Trigram,
    add_files,
    environment,
    load_questions,
    note,
    stored_passages,
)

TARGET_P50_MS, TARGET_P99_MS = 5.0, 20.0
K = 10
ARTICLES_PER_DOCUMENT = 100
MAX_BODY = 700   # below passages.MAX_CHARS (800) with the caption: one passage per article
MIN_BODY = 220
KINDS = ["就業規則", "旅費規程", "経費精算規程", "賃金規程", "育児介護休業規程", "社内FAQ"]
SWAPS = [  # per document, every occurrence of a group's words becomes one word of the group
    ["株式会社さくら商事", "株式会社あおば精機", "みなと物流株式会社", "株式会社ひかり電子",
     "北星フーズ株式会社", "株式会社つばさ建設"],
    ["東京２３区", "大阪市", "名古屋市", "福岡市", "札幌市", "仙台市", "広島市"],
    ["部長", "課長", "係長", "主任", "マネージャー"],
    ["人事部", "総務部", "管理部", "労務課", "人事総務部"],
    ["経理部", "財務部", "経理課", "会計課"],
    ["勤怠管理システム", "人事システム", "ワークフローシステム", "勤務管理システム"],
    ["経費精算システム", "精算システム", "経費申請システム"],
    ["所属長", "上長", "部門長", "所属部門長"],
    ["新幹線", "特急列車", "在来線特急"],
    ["取締役会", "経営会議", "役員会"],
]
_NUMBER = re.compile(r"[0-9０-９]{1,3}(?:[,，][0-9０-９]{3})+|[0-9０-９]+")
_LEAD = re.compile(r"^\s*(?:第\s*[0-9０-９〇一二三四五六七八九十百千]+\s*条"
                   r"(?:\s*の\s*[0-9０-９〇一二三四五六七八九十百千]+)*|(?:Q|Ｑ|問)\s*[0-9０-９]+\s*[.．]?)\s*")
_FACTORS = [0.5, 0.8, 1, 1, 1, 1.2, 1.5, 2, 3]


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Template:
    caption: str
    body: str


def templates() -> list[Template]:
    """Every article and Q&A item of the benchmark corpora, without its number."""
    from ushiro.knowledge.ingest.extract import extract
    from ushiro.knowledge.ingest.passages import split

    out: list[Template] = []
    for path in sorted((DATA / "docs").rglob("*.*")):
        for draft in split(extract(path.name, path.read_bytes(), max_bytes=10**8), path.stem):
            if not draft.section.startswith(("第", "Q")):
                continue
            lines = [line for line in draft.text.split("\n") if line.strip()]
            if lines and re.match(r"^[（(【].*[）)】]$", lines[0].strip()):
                lines = lines[1:]  # the caption line above the article
            body = _LEAD.sub("", "\n".join(lines), count=1).strip()
            caption = re.sub(r"^(第[0-9]+条(?:の[0-9]+)*|Q[0-9]+)\s*", "", draft.section)
            # A caption line is （…） without brackets inside, up to 40 characters.
            caption = re.sub(r"[()（）【】]", "", caption)[:30].strip()
            if body:
                out.append(Template(caption or "雑則", body))
    return out


def _number(match: re.Match[str], rng: random.Random) -> str:
    raw = match.group(0)
    wide = any("０" <= ch <= "９" for ch in raw)
    value = int(unicodedata.normalize("NFKC", raw).replace(",", ""))
    new = max(1, round(value * rng.choice(_FACTORS))) if value else 0
    text = f"{new:,}" if "," in raw or "，" in raw else str(new)
    if wide:
        text = text.translate(str.maketrans("0123456789,", "０１２３４５６７８９，"))
    return text


def mutate(text: str, rng: random.Random, swaps: dict[str, str]) -> str:
    text = _NUMBER.sub(lambda m: _number(m, rng), text)
    for old, new in swaps.items():
        text = text.replace(old, new)
    return text


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = head.rfind("。")
    return head[:end + 1] if end > limit // 3 else head


def body_for(pool: Sequence[Template], rng: random.Random, swaps: dict[str, str]
             ) -> tuple[str, str]:
    """(caption, body) of one synthetic article: 220–700 characters."""
    first = rng.choice(pool)
    body = mutate(first.body, rng, swaps)
    while len(body) < MIN_BODY:
        body += "\n" + mutate(rng.choice(pool).body, rng, swaps)
    return first.caption, _cut(body, MAX_BODY)


def document(index: int, pool: Sequence[Template], seed: int) -> tuple[str, bytes]:
    rng = random.Random(seed * 100_003 + index)
    kind = KINDS[index % len(KINDS)]
    swaps = {word: rng.choice(group) for group in SWAPS for word in group}
    company = swaps["株式会社さくら商事"]
    lines = [f"{company}　{kind}（第{index + 1:03d}版）", ""]
    for n in range(1, ARTICLES_PER_DOCUMENT + 1):
        caption, body = body_for(pool, rng, swaps)
        if n % 10 == 1:
            lines += [f"第{n // 10 + 1}章　{caption}", ""]
        if kind == "社内FAQ":
            lines += [f"Q{n}. {caption}について教えてください。", f"A. {body}", ""]
        else:
            lines += [f"（{caption}）", f"第{n}条　{body}", ""]
    suffix = ".md" if kind == "社内FAQ" else ".txt"
    return f"{kind}_{index + 1:03d}{suffix}", "\n".join(lines).encode()


# --------------------------------------------------------------------------- measuring


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def figures(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": pct(ms, 50), "p90": pct(ms, 90), "p99": pct(ms, 99),
            "max": max(ms), "mean": statistics.fmean(ms)}


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def ingest(env: Env, tenant_id: int, count: int, seed: int) -> dict[str, Any]:
    pool = templates()
    docs = [document(i, pool, seed) for i in range(count // ARTICLES_PER_DOCUMENT)]
    chars = sum(len(data.decode()) for _, data in docs)
    note(f"ingesting {len(docs)} documents ({chars:,} characters) ...")
    started = time.perf_counter()
    passages = add_files(env, tenant_id, docs)
    elapsed = time.perf_counter() - started
    return {"documents": len(docs), "passages": passages, "characters": chars,
            "seconds": elapsed, "passages_per_s": passages / elapsed,
            "chars_per_s": chars / elapsed, "templates": len(pool)}


def index_builds(env: Env, tenant_id: int, times: int) -> tuple[list[float], list[float]]:
    """The first search after a change, ``times`` times (cache emptied before each), and
    the search right after it: (first, next) seconds."""
    from ushiro import knowledge
    from ushiro.identity import command_line
    from ushiro.knowledge.retrieval import index as service

    first, after = [], []
    for _ in range(times):
        service._indexes.clear()
        for out in (first, after):
            started = time.perf_counter()
            knowledge.search(env.rt, command_line(tenant_id), "年次有給休暇", k=K)
            out.append(time.perf_counter() - started)
    return first, after


class Baseline:
    """A baseline searcher plus reading its hits' rows from the database (as Ushiro did
    before it kept them with its index)."""

    def __init__(self, env: Env, tenant_id: int, search: Callable[[str, int], list[int]]):
        self.env, self.tenant_id, self.search = env, tenant_id, search

    def __call__(self, question: str) -> int:
        from ushiro.knowledge import repository

        with self.env.rt.db.reading() as session:
            rows = repository.passages_by_ids(session, self.tenant_id, self.search(question, K))
        return len(rows)


def build_baselines(env: Env, tenant_id: int, fts5: bool
                    ) -> tuple[dict[str, Callable[[str], Any]], dict[str, float]]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    passages = stored_passages(env, tenant_id)
    timings["read_passages_s"] = time.perf_counter() - started
    started = time.perf_counter()
    bigram = BigramBM25(passages)
    timings["bigram_build_s"] = time.perf_counter() - started
    out: dict[str, Callable[[str], Any]] = {
        "bigram_bm25": Baseline(env, tenant_id, bigram.search)}
    if fts5:
        started = time.perf_counter()
        trigram = FTS5Trigram(passages)
        timings["fts5_build_s"] = time.perf_counter() - started
        out["fts5_trigram"] = Baseline(env, tenant_id, trigram.search)
    return out, timings


@contextmanager
def counting_builds() -> Iterator[list[float]]:
    """Index builds while inside (none expected: nothing changes during the queries, so
    every measured query uses the index built before)."""
    from ushiro.knowledge.retrieval import index as service

    builds: list[float] = []
    build = service._build_index

    # Whatever the caller passes (today ``current_index`` passes the embedder and a
    # progress callback too): a rebuild during the queries is counted, never refused.
    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append(time.perf_counter())
        return build(*args, **kwargs)

    service._build_index = counted
    try:
        yield builds
    finally:
        service._build_index = build


class GcPauses:
    """The cyclic garbage collector's runs while installed: (generation, seconds), and a
    count of full collections so a caller can tell whether one ran inside a query."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.pauses.append((info["generation"], time.perf_counter() - self._started))
        self.full += info["generation"] == 2

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for generation in range(3):
            ms = [s * 1000 for g, s in self.pauses if g == generation]
            out[f"gen{generation}"] = {"n": len(ms), "max_ms": max(ms, default=0.0),
                                       "total_ms": sum(ms)}
        return out


def run_queries(env: Env, tenant_id: int, questions: Sequence[str], warmup: int,
                baselines: dict[str, Callable[[str], Any]]
                ) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Interleaved: every question goes to each system, in an order that rotates. Also
    returns what the garbage collector did during the measured queries."""
    from ushiro import knowledge
    from ushiro.identity import command_line

    principal = command_line(tenant_id)
    systems: dict[str, Callable[[str], Any]] = {
        "ushiro": lambda q: knowledge.search(env.rt, principal, q, k=K), **baselines}
    names = list(systems)
    times: dict[str, list[float]] = {name: [] for name in names}
    gc_hit: list[float] = []  # Ushiro's queries with a full collection inside
    pauses = GcPauses()
    for i, question in enumerate(questions):
        if i == warmup:
            pauses.__enter__()
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            full = pauses.full
            started = time.perf_counter()
            systems[name](question)
            elapsed = time.perf_counter() - started
            if i >= warmup:
                times[name].append(elapsed)
                if name == "ushiro" and pauses.full != full:
                    gc_hit.append(elapsed)
    pauses.__exit__()
    return times, {**pauses.summary(), "ushiro_queries_with_full_gc_ms": [
        round(s * 1000, 2) for s in gc_hit]}


class PhasedUshiro:
    """The steps of ``knowledge.search`` done one by one with the service's internals, each
    timed: the stamp check (and the cached index), analysis (Sudachi + synonyms), BM25
    scoring and top-k, building the hits from what the index keeps. Runs in the same
    rotation as the other systems, so its breakdown is measured under the same conditions;
    its total should match Ushiro's.

    ``rows="db"`` (experiment ``rows-from-db``) does what Ushiro did before it kept the
    hits' text with the index: the hits' ``Passage`` rows are read through the ORM, in the
    session of the stamp check."""

    PARTS = ("stamp", "analyse", "bm25", "hits")

    def __init__(self, env: Env, tenant_id: int, rows: str = "memory") -> None:
        self.env, self.tenant_id, self.rows = env, tenant_id, rows
        self.times: dict[str, list[float]] = {name: [] for name in self.PARTS}

    def __call__(self, question: str) -> None:
        from ushiro.knowledge.retrieval import index as service
        from ushiro.knowledge.retrieval import query

        if self.rows == "db":
            self._from_db(question)
            return
        t0 = time.perf_counter()
        index = service.current_index(self.env.rt, self.tenant_id)
        t1 = time.perf_counter()
        tokens = index.analyzer.query_tokens(question)
        t2 = time.perf_counter()
        hits = index.lexical.search(tokens, question, k=K)
        t3 = time.perf_counter()
        query._shown(index, hits)
        self._record(t0, t1, t2, t3, time.perf_counter())

    def _from_db(self, question: str) -> None:
        from ushiro.knowledge import repository
        from ushiro.knowledge.retrieval import index as service
        from ushiro.knowledge.schemas import SearchHit

        rt, tenant_id = self.env.rt, self.tenant_id
        t0 = time.perf_counter()
        with rt.db.reading() as session:
            stamp = repository.seeded_stamp(session, tenant_id)
            index = service._indexes.get((rt.db.url, tenant_id), str(stamp),
                                         lambda: service._build_index(rt, tenant_id))
            t1 = time.perf_counter()
            tokens = index.analyzer.query_tokens(question)
            t2 = time.perf_counter()
            hits = index.lexical.search(tokens, question, k=K)
            t3 = time.perf_counter()
            rows = repository.passages_by_ids(session, tenant_id, [h.passage_id for h in hits])
            for hit in hits:
                p = rows[hit.passage_id]
                meta = index.documents[p.document_id]
                SearchHit(p.id, meta.title, meta.version, p.section, p.context, p.page,
                          hit.score, p.text)
        self._record(t0, t1, t2, t3, time.perf_counter())

    def _record(self, *marks: float) -> None:
        for name, (a, b) in zip(self.PARTS, itertools.pairwise(marks), strict=True):
            self.times[name].append(b - a)

    def measured(self, warmup: int) -> dict[str, list[float]]:
        return {name: values[warmup:] for name, values in self.times.items()}


EXPERIMENTS = {"rows-from-db": "db"}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    pool = [q.text for name in ("statutes", "company", "faq")
            for q in load_questions(DATA / "questions" / f"{name}.jsonl")]
    questions = rng.choices(pool, k=args.warmup + args.queries)
    result: dict[str, Any] = {"database": args.db, "cpus": os.cpu_count(),
                              "python": platform.python_version(),
                              "sqlite": sqlite3.sqlite_version, "load_before": load_average(),
                              "question_pool": len(pool)}
    with environment(args.db, args.keep) as env:
        tenant_id = env.tenant("latency")
        result["ingest"] = ingest(env, tenant_id, args.passages, args.seed)
        note("building the index ...")
        import bm25s  # noqa: F401  one-time imports are not part of an index build
        import numpy  # noqa: F401
        result["index_build_s"], result["after_build_s"] = index_builds(env, tenant_id,
                                                                        args.builds)
        baselines, result["baseline_build"] = build_baselines(env, tenant_id, args.fts5)
        note(f"running {args.warmup} + {args.queries} queries per system ...")
        gc.collect()
        phased = PhasedUshiro(env, tenant_id)
        variants = {f"x:{name}": PhasedUshiro(env, tenant_id, EXPERIMENTS[name])
                    for name in args.experiment}
        with counting_builds() as builds:
            times, result["gc"] = run_queries(env, tenant_id, questions, args.warmup,
                                              {**baselines, "ushiro_phased": phased,
                                               **variants})
        result["builds_during_queries"] = len(builds)
        parts = phased.measured(args.warmup)
        result["experiment_phases_ms"] = {
            name: {part: figures(values) for part, values in v.measured(args.warmup).items()}
            for name, v in variants.items()}
    result["latency_ms"] = {name: figures(values) for name, values in times.items()}
    result["ushiro_phases_ms"] = {name: figures(values) for name, values in parts.items()}
    result["load_after"] = load_average()
    u = result["latency_ms"]["ushiro"]
    result["targets"] = {"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS,
                         "p50_ok": u["p50"] <= TARGET_P50_MS, "p99_ok": u["p99"] <= TARGET_P99_MS}
    return result


# --------------------------------------------------------------------------- output

LABELS = {"ushiro": "Ushiro knowledge.search", "bigram_bm25": "char-bigram BM25 + rows",
          "fts5_trigram": "FTS5 trigram + rows", "ushiro_phased": "Ushiro, step by step"}


def print_human(r: dict[str, Any]) -> None:
    i = r["ingest"]
    print(f"Knowledge latency, database {r['database']}, {r['cpus']} CPUs, Python {r['python']}, "
          f"SQLite {r['sqlite']}, load average {r['load_before']} → {r['load_after']}")
    print(f"ingest: {i['documents']} documents, {i['passages']:,} passages, "
          f"{i['characters']:,} characters in {i['seconds']:.1f} s = "
          f"{i['passages_per_s']:.0f} passages/s, {i['chars_per_s']:,.0f} chars/s")
    builds = ", ".join(f"{s:.2f}" for s in r["index_build_s"])
    after = ", ".join(f"{s * 1000:.2f}" for s in r["after_build_s"])
    b = r["baseline_build"]
    print(f"index build (first search after a change): {builds} s; baseline: read passages "
          f"{b['read_passages_s']:.2f} s + bigram index {b['bigram_build_s']:.2f} s"
          + (f", FTS5 trigram {b['fts5_build_s']:.2f} s" if "fts5_build_s" in b else ""))
    print(f"the search right after each build: {after} ms")
    print(f"\nper query, k={K}, ms ({r['latency_ms']['ushiro']['n']} queries from "
          f"{r['question_pool']} questions, after warm-up):")
    print(f"{'system':<28}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'mean':>8}")
    for name, f in r["latency_ms"].items():
        print(f"{LABELS.get(name, f'Ushiro [{name[2:]}]'):<28}{f['p50']:>8.2f}{f['p90']:>8.2f}{f['p99']:>8.2f}"
              f"{f['max']:>8.2f}{f['mean']:>8.2f}")
    phases = {"Ushiro, step by step": r["ushiro_phases_ms"],
              **{f"Ushiro [{name[2:]}]": p for name, p in r["experiment_phases_ms"].items()}}
    for label, parts in phases.items():
        print(f"of which ({label}):")
        for name, f in parts.items():
            print(f"  {name:<26}{f['p50']:>8.2f}{f['p90']:>8.2f}{f['p99']:>8.2f}"
                  f"{f['max']:>8.2f}{f['mean']:>8.2f}")
    print(f"index builds during the measured queries: {r['builds_during_queries']}")
    g = r["gc"]
    print("garbage collector during the measured queries: " + ", ".join(
        f"{name} {g[name]['n']}× (max {g[name]['max_ms']:.1f} ms)" for name in
        ("gen0", "gen1", "gen2")) + "; Ushiro queries with a full collection inside: "
        + (", ".join(f"{ms:.1f}" for ms in g["ushiro_queries_with_full_gc_ms"]) + " ms"
           if g["ushiro_queries_with_full_gc_ms"] else "none"))
    t = r["targets"]
    print(f"\ntargets: p50 ≤ {t['p50_ms']:g} ms {'PASS' if t['p50_ok'] else 'FAIL'}, "
          f"p99 ≤ {t['p99_ms']:g} ms {'PASS' if t['p99_ok'] else 'FAIL'}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--passages", type=int, default=20_000,
                   help=f"passages to synthesise (multiple of {ARTICLES_PER_DOCUMENT})")
    p.add_argument("--queries", type=int, default=2_000, help="measured queries per system")
    p.add_argument("--warmup", type=int, default=100, help="uncounted queries first")
    p.add_argument("--builds", type=int, default=3, help="index builds to time")
    p.add_argument("--seed", type=int, default=20250401)
    p.add_argument("--fts5", action="store_true", help="also time SQLite FTS5 trigram")
    p.add_argument("--experiment", action="append", default=[], choices=sorted(EXPERIMENTS),
                   help="also time Ushiro with the hits' rows read from the database")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--keep", action="store_true", help="keep the data directory / schema")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = measure(args)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print_human(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
