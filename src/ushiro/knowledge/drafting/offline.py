"""The offline drafter: the answer first, taken from the line of the clause that holds it.

No network, no model, the same question always gets the same draft. It abstains when the
best passage does not share the question's topic (:func:`coverage`); otherwise it reads the
clauses among the best hits as lines (:mod:`.facts`), picks the line that holds the asked
fact for the question's specifics, and writes: the answer in one or two sentences, the
basis (document, article, caption), the lines of the clause it rests on, its conditions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from ushiro.knowledge.drafting import facts, topic
from ushiro.knowledge.drafting.drafters import (
    CLOSING,
    NO_PASSAGES,
    OFF_TOPIC,
    REFERENCE_ONLY,
    WEAK_MATCH,
    Citation,
    DraftResult,
    TenantContext,
    abstain,
    greeting,
    signed,
)
from ushiro.knowledge.drafting.facts import Line
from ushiro.knowledge.drafting.wording import answer_sentences, condition_of
from ushiro.knowledge.retrieval.synonyms import default_pairs
from ushiro.knowledge.retrieval.tokenize import Analyzer, index_text
from ushiro.knowledge.schemas import SearchHit

# BM25 scores depend on the corpus (size, word rarity), so an absolute floor only catches
# the hopeless case: a top passage that matched nothing but words found nearly everywhere.
# Unrelated questions still score 1–2 on a small rulebook through one shared word
# (社員食堂 → 一般社員), which is why the coverage rule below does the real work.
MIN_TOP_SCORE = 0.5
# The share of the question's content words (after synonyms: 有給 → 年次有給休暇) that the
# top passage contains. Real questions reach 50–100 % on the clause that answers them; a
# question about something the rules never mention shares one incidental word (≤ 35 %).
MIN_COVERAGE = 0.3
# Clauses besides the best one that may hold the fact: the next few hits scoring at least
# this share of the best one.
CANDIDATE_HITS = 4
CANDIDATE_SCORE = 0.5
MAX_QUOTED_LINES = 4

# Words that carry no topic: question words, light and generic verbs (使えますか, 出ますか),
# request and greeting formulas (Sudachi normalised forms, as produced by the analyser).
STOP_TOKENS = frozenset(
    "何 何時 いつ 幾ら 幾つ どこ 何処 誰 どう 如何 どの どれ どんな よう 為る 有る 居る おる 成る "
    "出来る 貰う 下さる 頂く 戴く 致す 教える 教示 欲しい 良い 思う 知る 分かる 言う 聞く 尋ねる 伺う "
    "可能 此れ 其れ あれ 事 物 時 方 様 等 つく 直ぐ 件 際 場合 今回 私 僕 自分 御 お疲れ様 疲れる "
    "願う 願い 宜しく 宜しい いつも 世話 問い合わせ 確認 程 手数 回答 恐れる 入る 幸い 有り難う 御座る "
    "失礼 申し訳 済む 連絡 相談 使う 取る 取れる 出る 行く 来る 見る 持つ 乗る".split())


@cache
def _shipped_analyzer() -> Analyzer:
    return Analyzer(default_pairs())


@dataclass(frozen=True)
class Clause:
    """The hits of one article (a long article is stored as several passages) read together."""

    hits: tuple[SearchHit, ...]
    rank: int

    @property
    def first(self) -> SearchHit:
        return self.hits[0]

    @property
    def text(self) -> str:
        return "\n".join(h.text for h in sorted(self.hits, key=lambda h: h.passage_id))

    @property
    def label(self) -> str:
        """「出張旅費規程 第13条（日当）」: document, article and caption."""
        section = self.first.section
        cap = facts.caption(self.text)
        if cap and cap not in section:
            section = f"{section}（{cap}）"
        return f"{self.first.document} {section}"


@dataclass(frozen=True)
class Choice:
    clause: Clause
    line: Line
    lines: list[Line]
    score: float
    same: list[Line]  # the chosen line and the rows of its list it ties with


class OfflineDrafter:
    """Answers from the line of the clause that holds the asked fact, cites the clause."""

    def draft(self, question: str, passages: Sequence[SearchHit],
              context: TenantContext) -> DraftResult:
        if not passages:
            return abstain(NO_PASSAGES, context)
        top = passages[0]
        # .bm25, not .score: with dense retrieval on, score is the fused rank score, and
        # these thresholds were set on BM25 scores.
        if top.bm25 < MIN_TOP_SCORE:
            return abstain(f"{WEAK_MATCH}: score {top.bm25:.2f} < {MIN_TOP_SCORE}", context)
        analyzer = context.analyzer or _shipped_analyzer()
        wanted = content_tokens(question, context, analyzer)
        if not wanted:
            return abstain(f"{OFF_TOPIC}: no content words in the question", context)
        share = coverage(wanted, top, analyzer)
        if share < MIN_COVERAGE:
            return abstain(f"{OFF_TOPIC}: {share:.0%} of the question's words in the best "
                           f"passage < {MIN_COVERAGE:.0%}", context)
        clauses = candidates(passages, wanted, analyzer)
        text = "\n".join(f"{c.first.document} {c.first.context} {c.first.section}\n{c.text}"
                         for c in clauses)
        ignore = STOP_TOKENS | own_names(context, analyzer)
        missing = topic.unnamed_topic(question, text, analyzer, ignore)
        if missing:
            return abstain(f"{OFF_TOPIC}: the passages never name {'、'.join(missing)}", context)
        reader = Reader(question, wanted, analyzer)
        choice = max((reader.choose(c) for c in clauses), key=lambda c: c.score)
        return compose(choice, clauses, reader, context)


def candidates(passages: Sequence[SearchHit], wanted: set[str],
               analyzer: Analyzer) -> list[Clause]:
    """The clauses of the best hits that share the question's topic, best first."""
    top = passages[0]
    groups: dict[tuple[str, int, str], list[SearchHit]] = {}
    ranks: dict[tuple[str, int, str], int] = {}
    for rank, hit in enumerate(passages):
        key = (hit.document, hit.version, hit.section)
        if key not in groups:
            near = rank < CANDIDATE_HITS and hit.bm25 >= top.bm25 * CANDIDATE_SCORE
            if rank and not (near and coverage(wanted, hit, analyzer) >= MIN_COVERAGE):
                continue
            groups[key], ranks[key] = [], len(ranks)
        groups[key].append(hit)
    return [Clause(tuple(hits), ranks[key]) for key, hits in groups.items()]


_GRAM_RUN = re.compile(r"[一-龥々〆ァ-ヶーA-Za-z0-9]+")
_KANJI = re.compile(r"[一-龥々]")


def grams(text: str) -> set[str]:
    """Kanji characters and two-character windows of the question's words: what names the
    case (祖母 in 祖父母, 結婚 in 本人が結婚するとき) whatever the analyser made of it."""
    out: set[str] = set()
    for run in _GRAM_RUN.findall(facts.fold(text)):
        out.update(ch for ch in run if _KANJI.match(ch))
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


class Reader:
    """Scores the lines of clauses for one question."""

    # The best hit is search's judgement of the whole passage; a line of a lower clause must
    # beat the best one's by more than this to be chosen instead.
    RANK_BONUS = (2.0, 1.0, 0.5, 0.0)

    def __init__(self, question: str, wanted: set[str], analyzer: Analyzer) -> None:
        self.wanted = wanted
        self.analyzer = analyzer
        self.kind = facts.question_kind(question)
        self.asked = facts.asked_numbers(question)
        self.grams = grams(" ".join([question, *facts.place_classes(question)]))

    def overlap(self, text: str) -> float:
        have = set(self.analyzer.index_tokens(text))
        return sum(map(_weight, self.wanted & have))

    def score(self, line: Line, specific: dict[int, float] | None = None,
              parents: frozenset[str] = frozenset()) -> float:
        own = self.overlap(line.text)
        near = self.overlap(line.path[-1]) if line.path else 0.0
        far = self.overlap(line.path[-2]) if len(line.path) > 1 else 0.0
        value = line.value or line.text
        fact = 2.0 if facts.holds_fact(self.kind, value) else 0.0
        fit = facts.range_fit(self.asked, " ".join([*line.path[-2:], line.text]))
        spec = (specific or {}).get(line.index, 0.0)
        intro = 1.5 if line.text in parents else 0.0  # it introduces the lines below it
        return own + 0.8 * near + 0.3 * far + fact + 4.0 * fit + 2.5 * spec - intro

    def specificity(self, lines: Sequence[Line]) -> dict[int, float]:
        """Per line, the share of the question's rare characters it names (with the item it
        is under), rarity counted among the clause's lines."""
        texts = {x.index: facts.fold(" ".join([*x.path[-1:], x.text])) for x in lines}
        df = {g: sum(1 for t in texts.values() if g in t) for g in self.grams}
        idf = {g: math.log(1 + len(texts) / n) for g, n in df.items() if n}
        total = sum(idf.values())
        if not total:
            return {}
        return {i: sum(w for g, w in idf.items() if g in t) / total for i, t in texts.items()}

    def choose(self, clause: Clause) -> Choice:
        lines = facts.clause_lines(clause.text) or [Line(clause.text.strip())]
        specific = self.specificity(lines)
        parents = frozenset(x.path[-1] for x in lines if x.path)
        scored = [(self.score(x, specific, parents), -x.index, x) for x in lines]
        best, _, line = max(scored, key=lambda s: (s[0], s[1]))
        ties = [x for s, _, x in scored if line.key and x.key and x.path == line.path
                and abs(s - best) < 1e-9 and facts.holds_fact(self.kind, x.value)
                and x.value.endswith("。") == line.value.endswith("。")]
        bonus = self.RANK_BONUS[min(clause.rank, len(self.RANK_BONUS) - 1)]
        return Choice(clause, line, lines, best + bonus + self.named(clause),
                      ties if len(ties) > 1 else [line])

    def named(self, clause: Clause) -> float:
        """The article whose caption the question names (日当 → 第13条（日当）) is the one
        that holds the fact, more than another that mentions the word in passing."""
        cap = facts.fold(facts.caption(clause.text))
        pairs = {g for g in self.grams if len(g) == 2}
        return 2.0 if cap and any(g in cap for g in pairs) else 0.0


def compose(choice: Choice, clauses: Sequence[Clause], reader: Reader,
            context: TenantContext) -> DraftResult:
    clause, line = choice.clause, choice.line
    answer = answer_sentences(line, choice.same, reader.kind)
    parts = [greeting(context)]
    if all(h.kind == "reference" for c in clauses for h in c.hits):
        answer = REFERENCE_ONLY.format(document=clause.first.document) + answer
    parts.append(answer)
    basis = [f"根拠: {clause.label}(第{clause.first.version}版)",
             "\n".join(f"「{text}」" for text in quoted(choice, reader))]
    condition = condition_of(line, choice.lines, reader.wanted, reader.overlap)
    if condition:
        basis.append(f"なお、{condition}")
    parts.append("\n".join(basis))
    cited = [clause, *(c for c in clauses[:2] if c is not clause)][:2]
    if len(cited) > 1:
        parts.append(f"あわせて: {cited[1].label}(第{cited[1].first.version}版)")
    parts.append(CLOSING)
    citations = [Citation.of(h) for c in cited for h in c.hits[:1]]
    return DraftResult(signed(parts, context), citations, False, None)


def quoted(choice: Choice, reader: Reader) -> list[str]:
    """The lines of the clause the answer rests on: the chosen line with the item that
    introduces it, then the lines sharing most words with the question, in clause order."""
    line = choice.line
    keep = {line.index, *(x.index for x in choice.same)}
    parents = [p for p in choice.lines if p.text in line.path[-1:]]
    keep.update(p.index for p in parents)
    others = sorted(( -reader.overlap(x.text), x.index) for x in choice.lines
                     if x.index not in keep and reader.overlap(x.text) > 0)
    for _, index in others[:MAX_QUOTED_LINES - len(keep)]:
        keep.add(index)
    return [_trim(x.text) for x in choice.lines if x.index in keep]


def _trim(text: str, limit: int = 240) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("。", 0, limit)
    return text[:cut + 1] if cut > limit // 3 else text[:limit] + "…"


def content_tokens(question: str, context: TenantContext, analyzer: Analyzer) -> set[str]:
    """The question's topic words: analysed tokens minus stop words and the names of the
    tenant and its people (a signature is not a topic)."""
    names = own_names(context, analyzer)
    return {t for t in analyzer.query_tokens(question)
            if t not in STOP_TOKENS and t not in names and not t.isdigit()}


def own_names(context: TenantContext, analyzer: Analyzer) -> frozenset[str]:
    """The words of the tenant's and its people's names."""
    own = " ".join([*context.user_names,
                    re.sub(r"株式会社|有限会社|合同会社|\(株\)|（株）|㈱", "", context.tenant_name)])
    return frozenset(analyzer.query_tokens(own)) if own.strip() else frozenset()


def _weight(token: str) -> float:
    # One-character words (所, 日, 費) count half: mostly suffixes that match by accident
    # (喫煙所 → 所属長), while the words that carry the topic are longer.
    return 0.5 if len(token) == 1 else 1.0


def coverage(wanted: set[str], hit: SearchHit, analyzer: Analyzer) -> float:
    """The weighted share of ``wanted`` found in the passage (heading, context and text)."""
    if not wanted:
        return 0.0
    have = set(analyzer.index_tokens(index_text(f"{hit.context}\n{hit.section}", hit.text)))
    return sum(map(_weight, wanted & have)) / sum(map(_weight, wanted))
