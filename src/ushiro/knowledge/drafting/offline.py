"""The offline drafter: the answer first, taken from the line of the clause that holds it.

No network, no model, the same question always gets the same draft. It abstains when the
best passage shares too few of the question's words (:func:`coverage`) or when the best
clauses never write the question's topic, its noun compounds (:mod:`.topic`: 健康保険証 is not
named by 健康保険 and 被保険者 apart). Otherwise it reads the clauses among the best hits as
lines (:mod:`.facts`), picks the line that holds the asked fact for the question's
specifics (:mod:`.reading`), and writes: the answer in one or two sentences (the chosen
line, and the clause's next line holding such a fact when the first is one sentence), the
basis (document, article, caption), the lines of the clause it rests on, its conditions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ushiro.knowledge.drafting import facts, questions, topic
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
from ushiro.knowledge.drafting.reading import DEFERS, Choice, Clause, Reader, weight
from ushiro.knowledge.drafting.wording import answer_sentences, condition_of, sentences, told
from ushiro.knowledge.retrieval.synonyms import analyzer_for, shipped
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
# A long question tells circumstances (持病が悪化して2か月休んでいる…) beside its topic, so
# its share of words in the answering clause is lower: when the best passage's caption is
# one of the question's words (休職), a lower share suffices.
MIN_CAPTIONED = 0.15
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


def _shipped_analyzer() -> Analyzer:
    return analyzer_for(shipped())


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
        lead = next((h for h in passages[:CANDIDATE_HITS]
                     if h.bm25 >= top.bm25 * CANDIDATE_SCORE and covers(wanted, h, analyzer)),
                    None)
        if lead is None:
            share = coverage(wanted, top, analyzer)
            return abstain(f"{OFF_TOPIC}: {share:.0%} of the question's words in the best "
                           f"passage < {MIN_COVERAGE:.0%}", context)
        # A passage just below the best may be the one about the question (the best shared
        # a side word); it leads the candidates.
        passages = [lead, *(h for h in passages if h is not lead)]
        asked = [content_tokens(p, context, analyzer) for p in questions.asked_parts(question)]
        clauses = candidates(passages, wanted, analyzer, asked)
        ignore = STOP_TOKENS | own_names(context, analyzer)
        missing = topic.unnamed_topic(question, "\n".join(map(_read, clauses)), analyzer, ignore)
        if missing:
            return abstain(f"{OFF_TOPIC}: the passages never name {'、'.join(missing)}", context)
        # The clause that answers must name the topic itself: the words being somewhere among
        # the best clauses (通信費 in the travel rule) does not make another clause (セミナー補助,
        # chosen for 補助) an answer about it.
        named = [c for c in clauses if topic.names_any(question, _read(c), analyzer, ignore)]
        if not named:
            return abstain(f"{OFF_TOPIC}: no clause names the question's topic", context)
        readings = read_each(question, wanted, named, context, analyzer)
        elsewhere = deferred_to(readings[0][1].line.text, passages)
        if elsewhere:
            return abstain(f"{OFF_TOPIC}: the rule defers to {elsewhere}, not in the documents",
                           context)
        return compose(readings, named, context)


def read_each(question: str, wanted: set[str], clauses: Sequence[Clause],
              context: TenantContext, analyzer: Analyzer) -> list[tuple[Reader, Choice]]:
    """The chosen line for each question the request asks (:mod:`.questions`), a line
    chosen twice told once; the whole request read as one question when it asks one."""
    readings: list[tuple[Reader, Choice]] = []
    for part in questions.asked_parts(question):
        part_wanted = content_tokens(part, context, analyzer)
        if not part_wanted:
            continue
        reader = Reader(part, part_wanted, analyzer)
        choice = reader.best(clauses)
        if not any(choice.clause == c.clause and choice.line == c.line for _, c in readings):
            readings.append((reader, choice))
    if not readings:
        reader = Reader(question, wanted, analyzer)
        readings = [(reader, reader.best(clauses))]
    return readings


_DEFERRED = re.compile(r"([一-龥・ァ-ヶー]{2,30}(?:規程|規則|規定))(?:に|で|において|により|の)")


def deferred_to(line: str, passages: Sequence[SearchHit]) -> str:
    """The rule a line defers its answer to (「…については、育児介護休業規程に定める」) when
    none of the passages is from it: the answer is not in what search found."""
    if not DEFERS.search(line):
        return ""
    names = [m.group(1) for m in _DEFERRED.finditer(line)]
    have = {facts.fold(h.document).replace("・", "") for h in passages}
    missing = [n for n in names if facts.fold(n).replace("・", "").removeprefix("別に定める")
               not in have and not n.endswith("本規程")]
    return missing[0] if missing and len(missing) == len(names) else ""


def _read(clause: Clause) -> str:
    """A clause as the topic gate reads it: its labels and its text."""
    first = clause.first
    return f"{first.document} {first.context} {first.section}\n{clause.text}"


def candidates(passages: Sequence[SearchHit], wanted: set[str], analyzer: Analyzer,
               parts: Sequence[set[str]] = ()) -> list[Clause]:
    """The clauses of the best hits that share the question's topic, or the topic of one of
    its questions (``parts``: the words of each), best first."""
    top = passages[0]
    groups: dict[tuple[str, int, str], list[SearchHit]] = {}
    ranks: dict[tuple[str, int, str], int] = {}
    for rank, hit in enumerate(passages):
        key = (hit.document, hit.version, hit.section)
        if key not in groups:
            near = rank < CANDIDATE_HITS and hit.bm25 >= top.bm25 * CANDIDATE_SCORE
            if rank and not (near and any(coverage(w, hit, analyzer) >= MIN_COVERAGE
                                          for w in (wanted, *parts))):
                continue
            groups[key], ranks[key] = [], len(ranks)
        groups[key].append(hit)
    if all(h.kind == "reference" for hits in groups.values() for h in hits):
        _add_company_clause(passages, wanted, analyzer, groups, ranks)
    return [Clause(tuple(hits), ranks[key]) for key, hits in groups.items()]


def _add_company_clause(passages: Sequence[SearchHit], wanted: set[str], analyzer: Analyzer,
                        groups: dict[tuple[str, int, str], list[SearchHit]],
                        ranks: dict[tuple[str, int, str], int]) -> None:
    """When only reference material leads, the best company passage further down that
    shares the question's words joins the candidates: a draft must not say the company
    has no rule (「社内規程に定めがないため」) while search found one on the topic."""
    own = next((h for h in passages if h.kind != "reference"
                and coverage(wanted, h, analyzer) >= MIN_COVERAGE), None)
    if own is None:
        return
    key = (own.document, own.version, own.section)
    groups[key] = [h for h in passages if (h.document, h.version, h.section) == key]
    ranks[key] = len(ranks)


def compose(readings: Sequence[tuple[Reader, Choice]], clauses: Sequence[Clause],
            context: TenantContext) -> DraftResult:
    """Greeting, the answer to each question, the basis of each (document, article, caption,
    the lines quoted, the condition), the next clause, the closing."""
    reader, choice = readings[0]
    clause = choice.clause
    answer = answer_sentences(choice.line, choice.same, reader.kind)
    if choice.runner and len(sentences(answer)) == 1 and len(readings) == 1:
        answer += told(choice.runner.text, reader.kind, whole=False)
    for other_reader, other in readings[1:]:
        answer += "また、" + answer_sentences(other.line, other.same, other_reader.kind)
    parts = [greeting(context)]
    if all(h.kind == "reference" for c in clauses for h in c.hits):
        answer = REFERENCE_ONLY.format(document=clause.first.document) + answer
    parts.append(answer)
    shown: list[Clause] = []
    for part_reader, part in readings:
        if part.clause in shown:
            continue
        shown.append(part.clause)
        parts.append(basis(part, part_reader, answer))
    cited = [*shown, *(c for c in clauses[:2] if c not in shown)][:max(2, len(shown))]
    if len(cited) > len(shown):
        parts.append(f"あわせて: {cited[-1].label}(第{cited[-1].first.version}版)")
    parts.append(CLOSING)
    citations = [Citation.of(h) for c in cited for h in c.hits[:1]]
    return DraftResult(signed(parts, context), citations, False, None)


def basis(choice: Choice, reader: Reader, answer: str) -> str:
    clause = choice.clause
    lines = [f"根拠: {clause.label}(第{clause.first.version}版)",
             "\n".join(f"「{text}」" for text in quoted(choice, reader))]
    condition = condition_of(choice.line, choice.lines, reader.wanted, reader.overlap)
    if condition and condition not in answer:
        lines.append(f"なお、{condition}")
    return "\n".join(lines)


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


_CAPTION = re.compile(r"[（(]([^（()）]{1,30})[）)]\s*$")


def covers(wanted: set[str], hit: SearchHit, analyzer: Analyzer) -> bool:
    """Whether the passage shares enough of the question's words to be about it."""
    share = coverage(wanted, hit, analyzer)
    return share >= MIN_COVERAGE or (share >= MIN_CAPTIONED
                                     and names_caption(wanted, hit, analyzer))


def names_caption(wanted: set[str], hit: SearchHit, analyzer: Analyzer) -> bool:
    """Whether a word of the question (two characters or more) is a word of the passage's
    article caption (第10条(休職) for 休職ってどれくらい)."""
    m = _CAPTION.search(hit.section)
    words = set(analyzer.index_tokens(m.group(1))) if m else set()
    return any(len(t) > 1 for t in words & wanted)


def coverage(wanted: set[str], hit: SearchHit, analyzer: Analyzer) -> float:
    """The weighted share of ``wanted`` found in the passage (heading, context and text)."""
    if not wanted:
        return 0.0
    have = set(analyzer.index_tokens(index_text(f"{hit.context}\n{hit.section}", hit.text)))
    return sum(map(weight, wanted & have)) / sum(map(weight, wanted))
