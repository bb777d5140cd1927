#!/usr/bin/env python
"""Retrieval-quality benchmark: Ushiro search against two baselines on Japanese Q&A sets.

For each question set in ``bench/data/sets.json`` the set's documents are added through the
real ``knowledge.add_document`` into a fresh tenant of a throw-away database (SQLite in a
temporary data directory, or a fresh PostgreSQL schema with ``--db postgres``). Every
question then goes through ``knowledge.search_many`` (k=10), and, in the same run, through
two baselines built over the SAME passages read back from the database:

* **FTS5 trigram**: an in-memory SQLite FTS5 table (``tokenize='trigram'``) over
  NFKC+casefolded ``section + "\\n" + text``; the query is every 3-character window of the
  NFKC+casefolded question inside runs of letters/digits/kana/kanji (punctuation and spaces
  split runs), each quoted, deduplicated and OR-ed, ranked by ``bm25()``. A run shorter than
  3 characters contributes nothing: FTS5 trigram cannot match terms of 1–2 characters
  (有給, 残業, 日当, 育休 on their own never match).
* **char-bigram BM25**: bm25s (Lucene BM25, k1=1.2, b=0.75, the same parameters as Ushiro)
  over overlapping character bigrams of the same NFKC+casefolded text (a run of one kana or
  kanji is kept as a unigram, a run of ASCII letters/digits is one token).

With ``--embedding-model-dir DIR`` (a sentence-transformers model directory, as for
``USHIRO_EMBEDDING_MODEL_DIR``) the set's documents are also added to one more tenant searched
by a runtime with that model configured: **Ushiro hybrid**, BM25 and dense rankings fused by
reciprocal rank fusion. The first search embeds every passage; the time it took is printed.

A hit counts when its (document, section) matches a gold label: documents by name, sections
by article number (第39条(年次有給休暇) ≡ 第39条, 第32条の3 ≠ 第32条) or Q&A number
(Q12 …  ≡ Q12). Figures: R@1 and R@5 (share of questions with a gold passage in the top 1 /
top 5) and MRR@10, and Ushiro minus each other system on R@5 and MRR@10 with 95% paired-
bootstrap intervals over the questions. Sets marked ``"heldout": true`` in sets.json are the
final check and run only with ``--heldout``. Not a test: it prints figures. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
PG_BASE = os.environ.get("USHIRO_BENCH_PG_URL",
                         "postgresql+psycopg://postgres@127.0.0.1:5432/test")
K = 10
RESAMPLES, SEED = 2000, 9  # paired bootstrap of the differences
SYSTEMS = ("ushiro", "fts5_trigram", "bigram_bm25")
LABELS = {"ushiro": "Ushiro (words + trigrams, BM25)", "fts5_trigram": "SQLite FTS5 trigram",
          "bigram_bm25": "char-bigram BM25 (bm25s)",
          "ushiro_hybrid": "Ushiro hybrid (BM25 + dense, RRF)"}


def note(message: str) -> None:
    """Progress goes to stderr so stdout carries only the figures (or the JSON)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- environment


class Env:
    """A throw-away Ushiro runtime: SQLite in a temp data dir, or a fresh PostgreSQL schema."""

    def __init__(self, db: str, keep: bool = False) -> None:
        from ushiro.core.runtime import Runtime
        from ushiro.core.settings import Settings
        from ushiro.migrations import upgrade

        self.db, self.keep = db, keep
        self.tmp = Path(tempfile.mkdtemp(prefix="ushiro-kb-bench-"))
        self.schema: str | None = None
        if db == "postgres":
            self.schema = f"kbbench_{secrets.token_hex(6)}"
            self._pg(f'CREATE SCHEMA "{self.schema}"')
            url = f"{PG_BASE}?options=-csearch_path%3D{self.schema}"
        else:
            url = f"sqlite:///{self.tmp / 'ushiro.db'}"
        upgrade(url)
        settings = Settings(data_dir=self.tmp, database_url=url, secret_key="bench",
                            jobs_inline=True, worker_in_process=False, db_pool_size=2)
        self.rt = Runtime.from_settings(settings)

    def _pg(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_BASE.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.encode())

    def tenant(self, slug: str) -> int:
        from ushiro.audit import SYSTEM
        from ushiro.identity import service

        return int(service.create_tenant(self.rt.db, SYSTEM, slug, slug,
                                         seed_taxonomy=False).id)

    def close(self) -> None:
        self.rt.db.dispose()
        if self.keep:
            note(f"kept: {self.tmp}" + (f" (schema {self.schema})" if self.schema else ""))
            return
        if self.schema:
            self._pg(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def environment(db: str, keep: bool = False) -> Iterator[Env]:
    env = Env(db, keep)
    try:
        yield env
    finally:
        env.close()


def add_files(env: Env, tenant_id: int, files: Sequence[tuple[str, bytes]]) -> int:
    """Add documents through the real service; returns the number of passages stored."""
    from ushiro import knowledge
    from ushiro.identity import command_line

    total = 0
    for filename, data in files:
        total += knowledge.add_document(env.rt, command_line(tenant_id),
                                        knowledge.DocumentIn(filename, data)).passages
    return total


@dataclass(frozen=True)
class StoredPassage:
    id: int
    document: str
    section: str
    text: str

    @property
    def body(self) -> str:
        """What the baselines index: the label and the text, as Ushiro indexes them."""
        return f"{self.section}\n{self.text}"


def stored_passages(env: Env, tenant_id: int) -> list[StoredPassage]:
    """The tenant's current passages, read back from the database."""
    from sqlalchemy import select

    from ushiro.knowledge.models import Document, DocumentVersion, Passage

    stmt = (select(Passage.id, Document.name, Passage.section, Passage.text)
            .join(DocumentVersion, DocumentVersion.id == Passage.version_id)
            .join(Document, Document.id == Passage.document_id)
            .where(Passage.tenant_id == tenant_id, DocumentVersion.is_current.is_(True))
            .order_by(Passage.id))
    with env.rt.db.reading() as session:
        return [StoredPassage(*row) for row in session.execute(stmt)]


# --------------------------------------------------------------------------- baselines

_RUN = re.compile(r"[\w\u3005\u3040-\u30ff\u4e00-\u9fff\u30fc]+")
_CJK = re.compile(r"[\u3005\u3040-\u30ff\u30fc\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z_]+")


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def trigram_query(question: str) -> str | None:
    """The FTS5 MATCH expression: every trigram of the question, quoted and OR-ed."""
    grams: dict[str, None] = {}
    for run in _RUN.findall(fold(question)):
        for i in range(len(run) - 2):
            grams[run[i:i + 3]] = None
    if not grams:
        return None
    return " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)


class FTS5Trigram:
    def __init__(self, passages: Sequence[StoredPassage]) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute("CREATE VIRTUAL TABLE p USING fts5(body, tokenize='trigram')")
        self.conn.executemany("INSERT INTO p(rowid, body) VALUES (?, ?)",
                              [(p.id, fold(p.body)) for p in passages])
        self.conn.commit()

    def search(self, question: str, k: int = K) -> list[int]:
        query = trigram_query(question)
        if query is None:
            return []
        rows = self.conn.execute("SELECT rowid FROM p WHERE p MATCH ? "
                                 "ORDER BY bm25(p), rowid LIMIT ?", (query, k))
        return [int(r[0]) for r in rows]


def bigrams(text: str) -> list[str]:
    """Overlapping character bigrams inside kana/kanji runs; ASCII words whole."""
    out: list[str] = []
    for run in _CJK.findall(fold(text)):
        if run.isascii() or len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


class BigramBM25:
    """bm25s over character bigrams, same BM25 variant and parameters as Ushiro."""

    def __init__(self, passages: Sequence[StoredPassage]) -> None:
        import bm25s
        import numpy as np

        self.ids = np.array([p.id for p in passages], dtype=np.int64)
        self.bm25 = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        self.bm25.index([bigrams(p.body) for p in passages], show_progress=False)
        self.vocab: dict[str, int] = self.bm25.vocab_dict

    def search(self, question: str, k: int = K) -> list[int]:
        import numpy as np

        ids = [self.vocab[t] for t in bigrams(question) if t in self.vocab]
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:  # top k by partition first, as Ushiro's backend does
            kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[scores[candidates] >= kth]
        order = np.lexsort((self.ids[candidates], -scores[candidates]))
        return [int(self.ids[i]) for i in candidates[order][:k]]


# --------------------------------------------------------------------------- scoring

_ARTICLE = re.compile(r"^第\s*([0-9]+)\s*条((?:\s*の\s*[0-9]+)*)")
_QA = re.compile(r"^(?:Q|問)\s*([0-9]+)")


def section_key(section: str) -> str:
    """第39条(年次有給休暇) → 第39条, 第32条の3 → 第32条の3, Q12 … → Q12, else the label."""
    text = unicodedata.normalize("NFKC", section).strip()
    if m := _ARTICLE.match(text):
        return f"第{int(m.group(1))}条" + re.sub(r"\s+", "", m.group(2))
    if m := _QA.match(text):
        return f"Q{int(m.group(1))}"
    return text


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    gold: frozenset[tuple[str, str]]


def load_questions(path: Path) -> list[Question]:
    out = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            gold = frozenset((g["document"], section_key(g["section"])) for g in row["gold"])
            out.append(Question(row["id"], row["question"], gold))
    return out


def first_correct(ranked: Sequence[tuple[str, str]], gold: frozenset[tuple[str, str]]) -> int:
    """1-based rank of the first correct hit, 0 when none in the list."""
    for rank, (document, section) in enumerate(ranked, start=1):
        if (document, section_key(section)) in gold:
            return rank
    return 0


def metrics(ranks: Sequence[int]) -> dict[str, float]:
    n = len(ranks) or 1
    return {"r@1": sum(1 for r in ranks if r == 1) / n,
            "r@5": sum(1 for r in ranks if 1 <= r <= 5) / n,
            "mrr@10": sum(1 / r for r in ranks if 1 <= r <= K) / n}


# --------------------------------------------------------------------------- run


@dataclass
class SetResult:
    name: str
    documents: list[str]
    passages: int
    questions: list[Question]
    ranked: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)

    def ranks(self, system: str) -> list[int]:
        return [first_correct(r, q.gold) for r, q in zip(self.ranked[system], self.questions,
                                                        strict=True)]


def set_files(spec: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [(Path(p).name, (DATA / p).read_bytes()) for p in spec["documents"]]


def ushiro_ranked(rt: Any, tenant_id: int, questions: Sequence[Question]
                  ) -> list[list[tuple[str, str]]]:
    from ushiro import knowledge
    from ushiro.identity import command_line

    hits = knowledge.search_many(rt, command_line(tenant_id), [q.text for q in questions], k=K)
    return [[(h.document, h.section) for h in found] for _, found in hits]


def baseline_ranked(search: Callable[[str], list[int]], by_id: dict[int, StoredPassage],
                    questions: Sequence[Question]) -> list[list[tuple[str, str]]]:
    return [[(by_id[i].document, by_id[i].section) for i in search(q.text)] for q in questions]


def hybrid_ranked(env: Env, name: str, files: Sequence[tuple[str, bytes]],
                  questions: Sequence[Question], model_dir: Path
                  ) -> list[list[tuple[str, str]]]:
    """Ushiro with dense retrieval: the same database, a runtime whose settings name the
    model, its own tenant (so the passages are embedded once, on its first search)."""
    from ushiro.core.runtime import Runtime

    rt = Runtime(env.rt.settings.model_copy(update={"embedding_model_dir": model_dir}),
                 env.rt.db)
    tenant_id = env.tenant(f"{name}-hybrid")
    count = add_files(env, tenant_id, files)
    started = time.perf_counter()
    ranked = ushiro_ranked(rt, tenant_id, questions[:1])
    note(f"{name}: hybrid index of {count} passages (embedding included) in "
         f"{time.perf_counter() - started:.1f} s")
    return ranked + ushiro_ranked(rt, tenant_id, questions[1:])


def run_set(env: Env, name: str, spec: dict[str, Any], experiments: Sequence[str],
            model_dir: Path | None = None) -> SetResult:
    questions = load_questions(DATA / spec["questions"])
    files = set_files(spec)
    tenant_id = env.tenant(name)
    count = add_files(env, tenant_id, files)
    result = SetResult(name, [Path(f).stem for f, _ in files], count, questions)
    result.ranked["ushiro"] = ushiro_ranked(env.rt, tenant_id, questions)
    passages = stored_passages(env, tenant_id)
    by_id = {p.id: p for p in passages}
    present = {(p.document, section_key(p.section)) for p in passages}
    missing = sorted({g for q in questions for g in q.gold} - present)
    if missing:
        raise SystemExit(f"{name}: gold labels with no passage: {missing}")
    result.ranked["fts5_trigram"] = baseline_ranked(FTS5Trigram(passages).search, by_id,
                                                    questions)
    result.ranked["bigram_bm25"] = baseline_ranked(BigramBM25(passages).search, by_id,
                                                   questions)
    for experiment in experiments:
        with EXPERIMENTS[experiment][1]():
            x_tenant = env.tenant(f"{name}-x{len(result.ranked)}")
            add_files(env, x_tenant, files)
            result.ranked[f"x:{experiment}"] = ushiro_ranked(env.rt, x_tenant, questions)
    if model_dir is not None:
        result.ranked["ushiro_hybrid"] = hybrid_ranked(env, name, files, questions, model_dir)
    return result


def systems_of(result: SetResult) -> list[str]:
    return list(result.ranked)


def paired(ushiro: Sequence[int], other: Sequence[int], resamples: int = RESAMPLES,
           seed: int = SEED) -> dict[str, float]:
    """Ushiro minus another system, per question, for R@5 and MRR@10: the mean difference
    with a 95% paired-bootstrap interval (the same resampled questions for both metrics,
    fixed seed), and how many questions each side ranks strictly better."""
    import numpy as np

    ranks = np.array([ushiro, other])
    rr = np.where((ranks >= 1) & (ranks <= K), 1.0 / np.maximum(ranks, 1), 0.0)
    hit5 = ((ranks >= 1) & (ranks <= 5)).astype(float)
    rng = np.random.default_rng(seed)
    sample = rng.integers(0, ranks.shape[1], size=(resamples, ranks.shape[1]))
    out: dict[str, float] = {}
    for metric, values in (("r5", hit5), ("mrr", rr)):
        diff = values[0] - values[1]
        low, high = np.percentile(diff[sample].mean(axis=1), [2.5, 97.5])
        out |= {f"{metric}_diff": float(diff.mean()), f"{metric}_ci95_low": float(low),
                f"{metric}_ci95_high": float(high)}
    diff = rr[0] - rr[1]
    return out | {"better": int((diff > 0).sum()), "worse": int((diff < 0).sum())}


def _standing(ours: float, theirs: float) -> str:
    """ahead / tied / behind, at the precision the tables print (3 decimals)."""
    difference = round(ours, 3) - round(theirs, 3)
    return "ahead" if difference > 1e-9 else "behind" if difference < -1e-9 else "tied"


def summary(results: Sequence[SetResult]) -> dict[str, Any]:
    out: dict[str, Any] = {"k": K, "sets": {}}
    for r in results:
        figures = {s: metrics(r.ranks(s)) for s in systems_of(r)}
        ahead = {b: all(figures["ushiro"][m] > figures[b][m] for m in ("r@5", "mrr@10"))
                 for b in ("fts5_trigram", "bigram_bm25")}
        standing = {b: {m: _standing(figures["ushiro"][m], figures[b][m])
                        for m in ("r@5", "mrr@10")} for b in ("fts5_trigram", "bigram_bm25")}
        versus = {b: paired(r.ranks("ushiro"), r.ranks(b)) for b in systems_of(r)
                  if b != "ushiro"}
        out["sets"][r.name] = {"documents": r.documents, "passages": r.passages,
                               "questions": len(r.questions), "systems": figures,
                               "ushiro_ahead_on_r5_and_mrr": ahead, "standing": standing, "ushiro_versus": versus,
                               "per_question": {q.id: {s: r.ranks(s)[i] for s in systems_of(r)}
                                                for i, q in enumerate(r.questions)}}
    return out


# --------------------------------------------------------------------------- experiments
# Ushiro with one change monkeypatched in, on its own tenant, in the same run; the change is
# undone afterwards. They exist to measure proposed fixes; src/ushiro/knowledge is untouched.


@contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    saved = owner.__dict__[name]
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


def _no_synonyms() -> Any:
    """Ablation: the tenant gets no synonyms at all (how much do they contribute?)."""
    return _shipped_synonyms(())


@contextmanager
def _shipped_synonyms(pairs: Any) -> Iterator[None]:
    """The shipped list as every tenant's synonym set reads it (the one place that does)."""
    import importlib

    # The module, not the package's ``synonyms`` (the tenant's table, a function).
    synonyms = importlib.import_module("ushiro.knowledge.retrieval.synonyms")
    with _patched(synonyms, "default_pairs", lambda: tuple(pairs)):
        yield


def _index_context() -> Any:
    """Index the passage's 章/節 context with its label and text. Statute articles without
    a caption (育介法 第16条の8, 第17条, 第19条) are named only by their chapter title
    (第六章 所定外労働の制限), which is stored as ``context`` but never indexed."""
    from ushiro.knowledge.ingest.passages import PassageDraft

    return _patched(PassageDraft, "index_text",
                    property(lambda d: f"{d.context}\n{d.section}\n{d.text}"))


@contextmanager
def _query_keeps_variant() -> Iterator[None]:
    """In questions, a variant with one canonical term is read as the canonical AND as
    written (出張費 → 旅費 + 出張 費), as questions already do for ambiguous variants. Today
    it is read as the canonical only, so the question loses its own words (出張)."""
    from ushiro.knowledge.retrieval.tokenize import Analyzer

    original = Analyzer._tokens

    def tokens(self: Any, text: str, *, query: bool) -> list[str]:
        if not query:
            return list(original(self, text, query=query))
        terms = self.terms
        # Listing the variant as one more "canonical" routes it through the ambiguous-term
        # branch of Analyzer._tokens: canonical tokens + the variant's own tokens.
        self.terms = {t: c if t in c else (*c, t) for t, c in terms.items()}
        try:
            return list(original(self, text, query=True))
        finally:
            self.terms = terms

    with _patched(Analyzer, "_tokens", tokens):
        yield


# Synonym pairs (canonical, variant) missing from data/synonyms.tsv, found by reading
# `--misses`. IN-SAMPLE: they were derived from the questions they fix, so the gain they show
# is an upper bound, not a generalisation estimate.
EXTRA_SYNONYMS = [
    ("子", "子供"), ("子", "子ども"),      # statutes and rules say 子; Sudachi reads 子ども as 子供
    ("妊産婦", "妊娠中"),                  # 労基法 第64条の3–第66条 say 妊産婦
    ("休業", "自宅待機"),                  # 労基法 第26条 休業手当
    ("違約金", "罰金"),                    # 労基法 第16条 賠償予定の禁止
    ("コーポレートカード", "会社のクレカ"), ("コーポレートカード", "会社のクレジットカード"),
]


def _extra_synonyms() -> Any:
    from ushiro.knowledge import default_pairs

    return _shipped_synonyms((*default_pairs(), *EXTRA_SYNONYMS))


def _fusion(fuse: Callable[..., Any]) -> Any:
    from ushiro.knowledge.retrieval import fusion

    return _patched(fusion, "fuse", fuse)


def _words_only() -> Any:
    """Ablation: the word ranking alone, no character trigram ranking fused in."""
    return _fusion(lambda words, chars, *, k, weight=0.0: list(words[:k]))


def _rrf_fusion() -> Any:
    """Word and trigram rankings fused by reciprocal rank fusion (k=60, as for the dense
    ranking) instead of by normalised score."""
    from ushiro.knowledge.retrieval.backend import Hit
    from ushiro.knowledge.retrieval.dense import fuse as rrf

    def fuse(words: Any, chars: Any, *, k: int, weight: float = 0.0) -> list[Any]:
        return [Hit(h.passage_id, h.score) for h in rrf(words, chars, k=k)]

    return _fusion(fuse)


def _fixed_weight() -> Any:
    """The trigram ranking fused with the same weight (0.5) whatever the question's length."""
    from ushiro.knowledge.retrieval import fusion

    return _patched(fusion, "char_weight", lambda question: fusion.MIN_CHAR_WEIGHT)


def _no_question_field() -> Any:
    """Ablation: a Q&A item's question weighs nothing more than the rest of its text on the
    trigram side (QUESTION_WEIGHT 0; the field of docs/knowledge.md "Search")."""
    from ushiro.knowledge.retrieval import fusion

    return _patched(fusion, "QUESTION_WEIGHT", 0.0)


EXPERIMENTS: dict[str, tuple[str, Callable[[], Any]]] = {
    "fixed-weight": ("trigram weight 0.5 for every question, not growing with its length",
                     _fixed_weight),
    "words-only": ("word BM25 alone, without the trigram ranking (ablation)", _words_only),
    "rrf-fusion": ("word and trigram rankings fused by RRF instead of by score",
                   _rrf_fusion),
    "extra-synonyms": ("EXTRA_SYNONYMS added to the shipped list (in-sample)", _extra_synonyms),
    "no-synonyms": ("Ushiro without the shipped synonyms (ablation)", _no_synonyms),
    "index-context": ("章/節 context indexed with the label and text", _index_context),
    "query-keeps-variant": ("query keeps a variant's own tokens next to the canonical's",
                            _query_keeps_variant),
    "no-question-field": ("a Q&A item's question not weighted as a field of its own (ablation)",
                          _no_question_field),
}


# --------------------------------------------------------------------------- output


def label(system: str) -> str:
    if system.startswith("x:"):
        return f"Ushiro [--experiment {system[2:]}]"
    return LABELS[system]


def print_tables(results: Sequence[SetResult], figures: dict[str, Any], db: str,
                 elapsed: float) -> None:
    print(f"Retrieval quality, k={K}, database {db}, {elapsed:.0f} s")
    for r in results:
        f = figures["sets"][r.name]
        print(f"\n== {r.name}: {len(r.questions)} questions, {r.passages} passages "
              f"({', '.join(r.documents)})")
        print(f"{'system':<44}{'R@1':>7}{'R@5':>7}{'MRR@10':>8}")
        for system in systems_of(r):
            m = f["systems"][system]
            print(f"{label(system):<44}{m['r@1']:>7.3f}{m['r@5']:>7.3f}{m['mrr@10']:>8.3f}")
        verdict = "; ".join(
            f"{LABELS[b].split(' (')[0]}: R@5 {s['r@5']}, MRR@10 {s['mrr@10']}"
            for b, s in f["standing"].items())
        print(f"Ushiro against the baselines — {verdict}")
        print(f"  differences, 95% paired-bootstrap intervals ({RESAMPLES} resamples, "
              f"seed {SEED}):")
        for other, v in f["ushiro_versus"].items():
            print(f"  Ushiro − {label(other):<36} R@5 {v['r5_diff']:+.3f} "
                  f"[{v['r5_ci95_low']:+.3f}, {v['r5_ci95_high']:+.3f}]  MRR@10 "
                  f"{v['mrr_diff']:+.3f} [{v['mrr_ci95_low']:+.3f}, {v['mrr_ci95_high']:+.3f}]"
                  f"  better/worse on {v['better']}/{v['worse']} questions")


def print_misses(results: Sequence[SetResult], limit: int = 3) -> None:
    """Questions where Ushiro's first correct hit is not at rank 1, with what came first."""
    for r in results:
        ranks = {s: r.ranks(s) for s in systems_of(r)}
        print(f"\n-- {r.name}: Ushiro not at rank 1 (rank shown; 0 = not in top {K})")
        for i, q in enumerate(r.questions):
            if ranks["ushiro"][i] == 1:
                continue
            others = " ".join(f"{s}={ranks[s][i]}" for s in systems_of(r) if s != "ushiro")
            gold = ", ".join(f"{d} {s}" for d, s in sorted(q.gold))
            print(f"{q.id} ushiro={ranks['ushiro'][i]} {others}  {q.text}  [gold: {gold}]")
            for document, section in r.ranked["ushiro"][i][:limit]:
                print(f"      {document} {section}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    specs = json.loads((DATA / "sets.json").read_text("utf-8"))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--sets", help="comma-separated set names (default: every set not held "
                   "out)")
    p.add_argument("--heldout", action="store_true",
                   help='also run the sets marked "heldout" in sets.json (the final check)')
    p.add_argument("--experiment", action="append", default=[], choices=sorted(EXPERIMENTS),
                   help="also run Ushiro with this change patched in (repeatable)")
    p.add_argument("--misses", action="store_true",
                   help="list the questions Ushiro does not answer at rank 1")
    p.add_argument("--embedding-model-dir", type=Path, metavar="DIR",
                   help="also run Ushiro hybrid with this sentence-transformers model directory")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--keep", action="store_true", help="keep the data directory / schema")
    args = p.parse_args(argv)
    names = args.sets.split(",") if args.sets else list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        p.error(f"unknown sets: {', '.join(unknown)} (sets.json has {', '.join(specs)})")
    held = [n for n in names if specs[n].get("heldout") and not args.heldout]
    if held:
        note(f"skipped (held out; --heldout runs them): {', '.join(held)}")
    args.specs = {n: specs[n] for n in names if n not in held}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results = []
    with environment(args.db, args.keep) as env:
        for name, spec in args.specs.items():
            note(f"{name}: adding {len(spec['documents'])} documents and searching ...")
            results.append(run_set(env, name, spec, args.experiment,
                                   args.embedding_model_dir))
    figures = summary(results)
    figures["database"] = args.db
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=1))
    else:
        print_tables(results, figures, args.db, elapsed)
        if args.misses:
            print_misses(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
