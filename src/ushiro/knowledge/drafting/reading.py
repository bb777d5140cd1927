"""Reading clauses for one question: which line of which clause holds the asked fact.

A clause is the hits of one article read together; each of its lines (:mod:`.facts`) is
scored by the question's words it shares (weighted by how rare they are among the
clause's lines: the clause's own topic, 年次有給休暇 on every line of 第38条, says little about
which line answers; 半日 or 入社 says which), by whether it holds a fact of the asked kind,
by the question's numbers falling in its ranges and by the rare characters it names. A
clause scores its best line plus search's rank, the fit of its caption to the question
(most when the question writes the caption whole: 生理休暇), the share of the question's
words it names anywhere, and less when it applies to a group of employees the question does
not name or when it is reference material beside a company rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ushiro.knowledge.drafting import facts
from ushiro.knowledge.drafting.facts import Line
from ushiro.knowledge.retrieval.tokenize import Analyzer
from ushiro.knowledge.schemas import SearchHit

# Kinds whose answer is a number: a line without one is rarely the answer.
NUMERIC = frozenset({"amount", "days", "deadline", "age", "date", "time", "count"})
# Groups of employees a rule set or chapter may be limited to (第3章 臨時社員の賃金): such a
# clause answers only a question that names the group.
GROUPS = ("臨時社員", "嘱託社員", "契約社員", "パートタイマー", "アルバイト", "短時間正社員",
          "派遣社員", "役員")
NON_REGULAR = frozenset({"臨時社員", "嘱託社員", "契約社員", "パートタイマー", "アルバイト"})
NON_REGULAR_WORDS = ("臨時社員", "嘱託", "契約社員", "有期", "パート", "アルバイト", "バイト",
                     "非正規")
# What employees call a group in their own words (時短 for the 短時間正社員 a rule set is for).
GROUP_ALIASES = {"短時間正社員": ("時短", "短時間勤務"), "派遣社員": ("派遣",),
                 "役員": ("取締役",)}
# An employee's verbs and the words a rule uses for the same act (analyser's normalised
# forms): 「給料もらえますか」 is answered by the line that says 支給, 「いつまでに言えばいい」 by
# the one that says 届け出. Generic verbs are stop words for the topic, not for the line.
ACTIONS: dict[str, tuple[str, ...]] = {
    "貰う": ("支給", "支払う", "付与", "与える"), "出る": ("支給", "支払う"),
    "払う": ("負担", "支払う", "控除"), "引く": ("控除", "減額", "無給"),
    "言う": ("届け出", "申す", "申請", "通知"), "申請": ("届け出", "申す"),
    "申す": ("届け出", "申請"), "届け出": ("申請", "申す"), "休む": ("休暇", "休業", "欠勤"),
    "使う": ("利用", "取得"), "取る": ("取得",), "取れる": ("取得",), "繰る": ("繰り越し",),
    "越す": ("繰り越し",), "泊まる": ("宿泊",), "買う": ("購入",), "戻る": ("帰着",),
    "乗る": ("利用", "乗車"), "含める": ("含む",), "数える": ("計算", "算定"),
    "前もって": ("予め", "事前"), "後": ("事後",),
    "消える": ("繰り越し", "失効", "消滅"), "付く": ("付与", "与える", "支給"),
}
# The name a row of a table gives the asked kind of fact (休暇日数 for 何日, 取得期限 for
# いつまで): the row of that name answers, more than a row of the same item holding another.
KIND_KEYS = {"days": re.compile(r"日数|期間|日間"), "deadline": re.compile(r"期限|までに|条件"),
             "amount": re.compile(r"額|金|円"), "age": re.compile(r"歳|年齢"),
             "time": re.compile(r"時刻")}
# A line that defines or states the purpose (「セミナー補助は、…を補助するものである」,
# 「…とは、…をいう」) names every word of the topic and rarely holds the answer.
_DEFINES = re.compile(r"(?:ものである|をいう|を目的とする|目的とするものである)。?$|^[^、。]{1,30}とは、")
# A line that defers to another rule (「退職金は、別に定める退職金規程により支給する」): that
# rule's own clause answers, when search found it.
DEFERS = re.compile(r"別に定める[^。]{0,20}(?:規程|規則|規定)"
                     r"|(?:規程|規則|規定)(?:に|で|において)(?:定める|定めます|よる|よります)。?$")
_CAPTION_IN_SECTION = re.compile(r"[（(]([^（()）]{1,30})[）)]\s*$")


def weight(token: str) -> float:
    # One-character words (所, 日, 費) count half: mostly suffixes that match by accident
    # (喫煙所 → 所属長), while the words that carry the topic are longer.
    return 0.5 if len(token) == 1 else 1.0


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
    def caption(self) -> str:
        """The article's caption, from its heading or from the section label."""
        m = _CAPTION_IN_SECTION.search(self.first.section)
        return facts.caption(self.text) or (m.group(1) if m else "")

    @property
    def label(self) -> str:
        """「出張旅費規程 第13条（日当）」: document, article and caption."""
        # Labels keep the index's ASCII brackets (第13条(日当)); a reply uses Japanese ones.
        section = self.first.section.replace("(", "（").replace(")", "）")
        cap = self.caption
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
    runner: Line | None = None  # the next line of the clause that also holds such a fact


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


_SUBJECT = re.compile(r"^([^、。]{1,10}?)は、")


def _subject(text: str) -> str:
    """The short subject a sentence opens with (「補助額は、…」 → 補助額), or ""."""
    m = _SUBJECT.match(text)
    return m.group(1) if m and not m.group(1).endswith(("に", "で")) else ""


class Reader:
    """Scores the lines of clauses for one question."""

    # The best hit is search's judgement of the whole passage; a line of a lower clause must
    # beat the best one's by more than this to be chosen instead.
    RANK_BONUS = (2.0, 1.0, 0.5, 0.0)

    def __init__(self, question: str, wanted: set[str], analyzer: Analyzer) -> None:
        self.question = facts.fold(question)
        self.analyzer = analyzer
        acts = {w for t in analyzer.query_tokens(question) for w in ACTIONS.get(t, ())}
        self.wanted = wanted | acts
        self.kind = facts.question_kind(question)
        self.asked = facts.asked_numbers(question)
        self.grams = grams(" ".join([question, *facts.place_classes(question)]))
        self._tokens: dict[str, frozenset[str]] = {}
        self.captions: frozenset[str] = frozenset()
        # The group of employees the question names, as any company may write it: the line
        # naming such a group (「アルバイト社員のうち…」) answers its 「バイトでも…？」.
        named_groups = [g for g in (*GROUPS, *NON_REGULAR_WORDS) if g in self.question]
        self.groups: tuple[str, ...] = ()
        if any(g in NON_REGULAR_WORDS or g in NON_REGULAR for g in named_groups):
            self.groups = (*NON_REGULAR, *NON_REGULAR_WORDS)
        elif named_groups:
            self.groups = tuple(named_groups)

    def tokens(self, text: str) -> frozenset[str]:
        if text not in self._tokens:
            self._tokens[text] = frozenset(self.analyzer.index_tokens(text))
        return self._tokens[text]

    def overlap(self, text: str, weights: dict[str, float] | None = None) -> float:
        found = self.wanted & self.tokens(text)
        return sum((weights or {}).get(t, weight(t)) for t in found)

    def rarity(self, lines: Sequence[Line]) -> dict[str, float]:
        """Per question word, its weight in this clause: 1 on one line, less the more lines
        (with the item they are under) name it."""
        sets = [self.tokens(" ".join([*x.path[-1:], x.text])) for x in lines]
        n = len(sets)
        out = {}
        for token in self.wanted:
            df = sum(1 for s in sets if token in s)
            if df:
                out[token] = weight(token) * math.log(1 + n / df) / math.log(1 + n)
        return out

    def score(self, line: Line, specific: dict[int, float] | None = None,
              parents: frozenset[str] = frozenset(),
              weights: dict[str, float] | None = None) -> float:
        own = self.overlap(line.text, weights)
        near = self.overlap(line.path[-1], weights) if line.path else 0.0
        far = self.overlap(line.path[-2], weights) if len(line.path) > 1 else 0.0
        value = line.value or line.text
        # A row 「2km未満 ・・・ 支給しない」 states an amount: none.
        nothing = self.kind == "amount" and bool(line.key) and value.startswith("支給しない")
        fact = 2.0 if nothing or facts.holds_fact(self.kind, value) else 0.0
        if self.kind in NUMERIC and fact:
            fact = 3.5
        named = KIND_KEYS.get(self.kind)
        subject = line.key or _subject(line.text)
        if named and subject and named.search(subject):
            fact += 1.5
        fit = facts.range_fit(self.asked, " ".join([*line.path[-2:], line.text]))
        spec = (specific or {}).get(line.index, 0.0)
        intro = 1.5 if line.text in parents else 0.0  # it introduces the lines below it
        defines = 1.5 if _DEFINES.search(line.text) else 0.0
        if self.kind == "yesno" and not line.key and not line.text.endswith("。"):
            defines += 1.5  # a yes or no is a sentence, not an item of a list
        if DEFERS.search(line.text):
            defines += 5.0
        group = 2.0 if self.groups and any(g in line.text or g in line.key for g in self.groups) \
            else 0.0
        return (own + 0.8 * near + 0.3 * far + fact + 5.0 * fit + 2.5 * spec + group
                - intro - defines)

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

    def best(self, clauses: Sequence[Clause]) -> Choice:
        """The best line of the best clause. Word rarity is counted over the lines of all
        the clauses, so that a one-line clause does not weigh every word as rare."""
        read = [(c, facts.clause_lines(c.text) or [Line(c.text.strip())]) for c in clauses]
        weights = self.rarity([x for _, lines in read for x in lines])
        company = any(c.first.kind != "reference" for c in clauses)
        self.captions = self.written_captions(clauses)
        return max((self.choose(c, lines, weights, company) for c, lines in read),
                   key=lambda c: c.score)

    # Reference material (a statute, model rules) answers only where the company's own rules
    # are silent: among clauses that include a company rule, a reference clause scores this
    # much less, so the company's rule wins a near tie and the law only a clear case.
    REFERENCE_PENALTY = 3.0
    # The weight of the share of the question's words the clause names anywhere.
    TOPIC_WEIGHT = 3.0

    def choose(self, clause: Clause, lines: list[Line], weights: dict[str, float],
               company: bool = False) -> Choice:
        specific = self.specificity(lines)
        parents = frozenset(x.path[-1] for x in lines if x.path)
        scored = [(self.score(x, specific, parents, weights), -x.index, x) for x in lines]
        best, _, line = max(scored, key=lambda s: (s[0], s[1]))
        ties = [x for s, _, x in scored if line.key and x.key and x.path == line.path
                and abs(s - best) < 1e-9 and facts.holds_fact(self.kind, x.value)
                and x.value.endswith("。") == line.value.endswith("。")]
        bonus = self.RANK_BONUS[min(clause.rank, len(self.RANK_BONUS) - 1)]
        # A clause that only points to another rule gains nothing from naming the topic:
        # that rule's own clause answers.
        fit = 0.0 if DEFERS.search(line.text) else self.named(clause) + self.topic(clause)
        total = best + bonus + fit - self.out_of_scope(clause)
        if company and clause.first.kind == "reference":
            total -= self.REFERENCE_PENALTY
        same = ties if len(ties) > 1 else [line]
        return Choice(clause, line, lines, total, same, self._runner(scored, line, same, best))

    # The share of the best line's score the next line must reach to be told too.
    RUNNER_SHARE = 0.6

    def _runner(self, scored: list[tuple[float, int, Line]], line: Line, same: list[Line],
                best: float) -> Line | None:
        """The best other line of the clause holding a fact of the asked kind, not an item
        above or beside the chosen one: told as the answer's second sentence."""
        taken = {x.index for x in same} | {line.index}
        for s, _, x in sorted(scored, key=lambda t: (-t[0], -t[1])):
            if s < best * self.RUNNER_SHARE or s <= 0:
                return None
            if (x.index not in taken and x.text not in line.path and not x.key
                    and x.text.endswith("。")
                    and facts.holds_fact(self.kind, x.text) and line.text not in x.path):
                return x
        return None

    def written_captions(self, clauses: Sequence[Clause]) -> frozenset[str]:
        """The captions the question writes whole, the most specific only: 「休職期間が終わ
        ったら」 names 第19条（休職期間）, not 第18条（休職）."""
        found = {cap for c in clauses if len(cap := facts.fold(c.caption)) >= 2
                 and cap in self.question}
        return frozenset(c for c in found if not any(c != o and c in o for o in found))

    def named(self, clause: Clause) -> float:
        """The article whose caption the question names (日当 → 第13条（日当）) is the one
        that holds the fact, more than another that mentions the word in passing; a caption
        naming other things (採用時特別休暇 for a question on 有休) less so. Unknown: between."""
        cap = facts.fold(clause.caption)
        if not cap:
            return 1.0
        pairs = {g for g in self.grams if len(g) == 2}
        words = {t for t in self.tokens(cap) if len(t) > 1}
        fit = len(words & self.wanted) / len(words) if words else 0.0
        # The question writing the whole caption (生理休暇は有給ですか) names the article
        # itself, whatever other clauses its words (有給) are expanded to.
        whole = float(min(len(cap), 4)) if cap in self.captions else 0.0
        return (2.0 if any(g in cap for g in pairs) else 0.0) + 2.0 * fit + whole

    def topic(self, clause: Clause) -> float:
        """The question's words the clause names anywhere (caption, context, lines), as a
        share: the best line of a clause about another thing (採用時特別休暇 for a question on
        有休) can score high on a few words, while its clause lacks the question's topic."""
        total = sum(weight(t) for t in self.wanted)
        if not total:
            return 0.0
        have = self.tokens(f"{clause.first.section} {clause.caption}\n{clause.text}")
        return self.TOPIC_WEIGHT * sum(weight(t) for t in self.wanted & have) / total

    def out_of_scope(self, clause: Clause) -> float:
        """3 when the clause's rule set or chapter is limited to a group of employees
        (臨時社員, 短時間正社員) the question does not name; -1.5 (a bonus) when the question
        names the group the clause is limited to; else 0."""
        scope = facts.fold(f"{clause.first.document} {clause.first.context}")
        asked = self.tokens(self.question)
        limited = [g for g in GROUPS if g in scope]
        if any(self.tokens(g) <= asked for g in limited):
            return -1.5
        # Companies name their fixed-term and hourly staff differently (臨時社員 here, 契約社員
        # or パート there): a question naming one of them asks about the others' chapter too.
        if any(g in NON_REGULAR for g in limited) and any(
                g in self.question for g in NON_REGULAR_WORDS):
            return -1.5
        if any(a in self.question for g in limited for a in GROUP_ALIASES.get(g, ())):
            return -1.5
        return 3.0 if limited else 0.0
