"""The tenants of ``bench/scale.py``: realistic rule sets from the real documents we have,
varied per tenant, ingested through the product's own services.

Every tenant is one client company of a BPaaS provider:

* **its own rules**: one of four rule sets (the real published rules of デンキヤギ and
  ツクロア in ``bench/data/docs/real``, the さくら商事 rules + FAQ in ``bench/data/docs/company``
  and ``faq``, the demo company's rules in ``src/ushiro/demo/data/rules``), with the
  company renamed, money amounts changed by a per-tenant factor, and a random subset of
  the minor documents left out (the 就業規則 always stays);
* **reference material** (kind ``reference``), as a provider loads for its clients: the
  labour statutes for half of the tenants, and a random subset of the 国税庁 質疑応答事例
  items that brings the tenant to its target of 300–600 passages. Public texts are the same
  words in every tenant that has them, as they would be.

Everything is drawn from one seed, so tenant *i* is the same in every run and in the
baseline and current code. Documents go through ``knowledge.add_document`` as the tenant's
command-line principal; the tenant, its requester and the requester's API token through the
identity service. Nothing is copied with SQL: what is stored is what the product stores.
"""

from __future__ import annotations

import json
import random
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
NTA = sorted((DATA / "docs" / "real" / "nta").glob("*.md"))
STATUTES = sorted((DATA / "docs" / "statutes").glob("*.txt"))
MAIN_DOCUMENT = "就業規則"


@dataclass(frozen=True)
class RuleSet:
    name: str
    files: tuple[Path, ...]
    company: str  # the company's name in the texts, replaced per tenant
    questions: tuple[str, ...]  # question sets (bench/data/questions) about these rules


def _files(folder: Path, *patterns: str) -> tuple[Path, ...]:
    return tuple(sorted(p for pattern in patterns for p in folder.glob(pattern)
                        if p.is_file() and "README" not in p.name))


RULE_SETS = (
    RuleSet("denkiyagi", _files(DATA / "docs" / "real" / "denkiyagi", "*.md"),
            "デンキヤギ株式会社", ("denkiyagi",)),
    RuleSet("tuqulore", _files(DATA / "docs" / "real" / "tuqulore", "*.md"),
            "株式会社ツクロア", ("tuqulore",)),
    RuleSet("sakura-shoji", _files(DATA / "docs" / "company", "*.txt")
            + _files(DATA / "docs" / "faq", "*.md"), "株式会社さくら商事", ("company", "faq")),
    RuleSet("sakura-seiki", _files(ROOT / "src" / "ushiro" / "demo" / "data" / "rules",
                                   "*.md", "*.pdf", "*.docx"), "さくら精機株式会社", ("faq",)),
)
# The demo rules are named by romaji file names; their documents' names.
_DEMO_TITLES = {"shugyo-kisoku": "就業規則", "chingin-kitei": "賃金規程",
                "shutcho-ryohi-kitei": "出張旅費規程", "keihi-seisan-kitei": "経費精算規程",
                "ikuji-kaigo-kitei": "育児・介護休業規程",
                "joho-security-kitei": "情報セキュリティ規程", "shanai-faq": "社内FAQ"}
_PREFIXES = ["あおば", "ひかり", "みなと", "北星", "つばさ", "やまびこ", "しろがね", "あさひ",
             "こもれび", "みどり", "東雲", "はやて", "いろは", "かもめ", "若葉", "瑞穂"]
_TRADES = ["商事", "精機", "物流", "電子", "フーズ", "建設", "ホールディングス", "システムズ",
           "製薬", "不動産", "化成", "工業", "サービス", "メディカル"]
_AMOUNT = re.compile(r"([0-9０-９]{1,3}(?:[,，][0-9０-９]{3})+|[0-9０-９]+)(\s*)(万円|円)")
_FACTORS = [0.8, 0.9, 1.0, 1.0, 1.1, 1.2, 1.25, 1.5]
_NTA_ITEM = re.compile(r"\n\n(?=Q[0-9]+\. )")


@dataclass(frozen=True)
class Doc:
    filename: str
    data: bytes
    kind: str  # company | reference | faq
    name: str | None = None
    source: str = ""  # the file it was made from


@dataclass(frozen=True)
class TenantPlan:
    index: int
    slug: str
    company: str
    rule_set: str
    target: int  # passages aimed at (300–600)
    docs: tuple[Doc, ...]


def company_name(rng: random.Random) -> str:
    name = rng.choice(_PREFIXES) + rng.choice(_TRADES)
    return f"株式会社{name}" if rng.random() < 0.6 else f"{name}株式会社"


def _amounts(text: str, factor: float) -> str:
    def changed(match: re.Match[str]) -> str:
        raw = match.group(1)
        wide = any("０" <= ch <= "９" for ch in raw)
        value = int(unicodedata.normalize("NFKC", raw).replace(",", ""))
        new = max(1, round(value * factor / 10) * 10) if value >= 100 else value
        out = f"{new:,}" if "," in raw or "，" in raw else str(new)
        if wide:
            out = out.translate(str.maketrans("0123456789,", "０１２３４５６７８９，"))
        return out + match.group(2) + match.group(3)

    return _AMOUNT.sub(changed, text)


def _rules(rule_set: RuleSet, rng: random.Random, company: str) -> list[Doc]:
    factor = rng.choice(_FACTORS)
    out: list[Doc] = []
    for path in rule_set.files:
        title = _DEMO_TITLES.get(path.stem, path.stem)
        if MAIN_DOCUMENT not in title and rng.random() < 0.25:
            continue  # this client does not have that document
        kind = "faq" if "FAQ" in title else "company"
        if path.suffix in (".pdf", ".docx"):  # binary: kept as published
            out.append(Doc(path.name, path.read_bytes(), kind, title, str(path)))
            continue
        text = _amounts(path.read_text(encoding="utf-8"), factor)
        text = text.replace(rule_set.company, company)
        out.append(Doc(f"{title}{path.suffix}", text.encode(), kind, source=str(path)))
    return out


def passages_of(filename: str, data: bytes) -> int:
    """How many passages the product cuts the file into."""
    from ushiro.knowledge.ingest.extract import extract
    from ushiro.knowledge.ingest.passages import split

    return len(split(extract(filename, data, max_bytes=10**8), filename.rsplit(".", 1)[0]))


def _nta_items() -> list[tuple[str, list[tuple[str, int]]]]:
    """(title line, [(item, its passages)]) of every 国税庁 質疑応答事例 file."""
    out = []
    for path in NTA:
        head, *items = _NTA_ITEM.split(path.read_text(encoding="utf-8").strip())
        base = passages_of(path.name, head.encode())
        out.append((head, [(item, passages_of(path.name, f"{head}\n\n{item}".encode()) - base)
                           for item in items]))
    return out


_NTA_CACHE: list[tuple[str, list[tuple[str, int]]]] = []
_STATUTE_PASSAGES: list[int] = []


def _reference(rng: random.Random, room: int) -> list[Doc]:
    """Statutes (half the tenants) and a subset of NTA items for about ``room`` passages."""
    out: list[Doc] = []
    if not _NTA_CACHE:
        _NTA_CACHE.extend(_nta_items())
        _STATUTE_PASSAGES.append(sum(passages_of(p.name, p.read_bytes()) for p in STATUTES))
    if rng.random() < 0.5 and room > _STATUTE_PASSAGES[0] + 50:
        for path in STATUTES:
            out.append(Doc(path.name, path.read_bytes(), "reference"))
        room -= _STATUTE_PASSAGES[0]
    files = list(range(len(_NTA_CACHE)))
    rng.shuffle(files)
    for which in files:
        if room <= 5:
            break
        head, items = _NTA_CACHE[which]
        order = list(range(len(items)))
        rng.shuffle(order)
        share = rng.randint(room // 2 + 1, room)  # some of it from the next file
        chosen: list[int] = []
        for i in order:
            if items[i][1] <= share:
                chosen.append(i)
                share -= items[i][1]
                room -= items[i][1]
            if share <= 0:
                break
        text = head + "\n\n" + "\n\n".join(items[i][0] for i in sorted(chosen)) + "\n"
        out.append(Doc(NTA[which].name, text.encode(), "reference"))
    return out


_RULE_PASSAGES: dict[str, int] = {}


def _rule_passages(doc: Doc) -> int:
    """Passages of a rules document (renaming and amounts do not change how it is cut)."""
    if doc.source not in _RULE_PASSAGES:
        _RULE_PASSAGES[doc.source] = passages_of(doc.filename, doc.data)
    return _RULE_PASSAGES[doc.source]


def plan(index: int, seed: int) -> TenantPlan:
    rng = random.Random(seed * 1_000_003 + index)
    rule_set = RULE_SETS[index % len(RULE_SETS)]
    company = company_name(rng)
    target = rng.randint(300, 600)
    rules = _rules(rule_set, rng, company)
    kept = sum(_rule_passages(d) for d in rules)
    docs = rules + _reference(rng, max(0, target - kept))
    return TenantPlan(index, f"t{index:05d}", company, rule_set.name, target, tuple(docs))


def questions_for(rule_set: str) -> list[str]:
    """Questions employees ask about the rule set, plus the NTA ones (not held out)."""
    sets = json.loads((DATA / "sets.json").read_text(encoding="utf-8"))
    names = next(r.questions for r in RULE_SETS if r.name == rule_set)
    files = {f"questions/{n}.jsonl" for n in names}
    files |= {s["questions"] for name, s in sets.items()
              if name.startswith("nta") and not s.get("heldout")}
    out = []
    for rel in sorted(files):
        for line in (DATA / rel).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["question"])
    return out


# --------------------------------------------------------------------------- ingestion


def create_tenant(rt: Any, p: TenantPlan) -> dict[str, Any]:
    """The tenant, a requester and an operator with an API token each, its documents; returns what the
    benchmark needs to know about it (and how long each part took)."""
    from ushiro import knowledge
    from ushiro.audit import SYSTEM
    from ushiro.identity import Principal, command_line
    from ushiro.identity import service as identity
    from ushiro.identity.choices import Role
    from ushiro.identity.schemas import UserIn
    from ushiro.knowledge.choices import DocumentKind

    started = time.perf_counter()
    tenant = identity.create_tenant(rt.db, SYSTEM, p.slug, p.company)
    admin = Principal.system(tenant.id, "bench")
    email = f"staff@{p.slug}.example.co.jp"
    identity.add_user(rt.db, admin, UserIn.model_construct(
        email=email, name="社員 一郎", role=Role.REQUESTER, password=None, departments=[]))
    token = identity.create_token(rt.db, admin, email, "scale bench")
    operator = f"desk@{p.slug}.example.co.jp"  # the provider's staff answering this client
    identity.add_user(rt.db, admin, UserIn.model_construct(
        email=operator, name="窓口 花子", role=Role.OPERATOR, password=None, departments=[]))
    operator_token = identity.create_token(rt.db, admin, operator, "scale bench")
    identity_s = time.perf_counter() - started
    passages = 0
    for doc in p.docs:
        added = knowledge.add_document(rt, command_line(tenant.id), knowledge.DocumentIn(
            doc.filename, doc.data, name=doc.name, kind=DocumentKind(doc.kind)))
        passages += added.passages
    return {"index": p.index, "id": tenant.id, "slug": p.slug, "rule_set": p.rule_set,
            "token": token, "operator_token": operator_token, "passages": passages, "documents": len(p.docs),
            "identity_s": round(identity_s, 3),
            "seconds": round(time.perf_counter() - started, 3)}
