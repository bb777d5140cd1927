"""Whether the question's topic is what the best clauses are about.

A question names its topic with a noun compound (健康保険証, 年末調整, 家族手当). The topic
is in the rules when a clause writes that compound, or the words it stands for (after
synonyms: 忌引き → 慶弔休暇, 有休 → 年次有給休暇) next to each other, or all in one sentence. The same words
scattered over a clause (家族 in 「家族が死亡したとき」, 手当 in 通勤手当) are a different topic.
Compounds that name no topic on their own (書類, 費用, 手続き) and the action a question
asks about (支給されますか, 通勤してもいい) do not count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ushiro.knowledge.drafting import facts
from ushiro.knowledge.retrieval.tokenize import Analyzer, parts_of_speech, plain_tokens, words

# The share (by length) of the question's topic compounds the best clauses must miss for
# the topic to count as absent: a colloquial side word the rule puts differently (祖母,
# 土日) is no reason to hold back while the compound that names the topic is there.
UNNAMED_SHARE = 0.75
# Words the rule may put between the parts of a compound (選択公休 → 選択的公休).
GAP = 2

# Kanji or katakana, with the okurigana inside a compound (祝い金, 振り込み先) and an
# honorific prefix (お疲れ様: a greeting, not a topic).
_COMPOUND = re.compile(r"[おご]?[一-龥々ァ-ヶー]+(?:[いきしちみりえけめれっ]+[一-龥々ァ-ヶー]+)*")
# A compound followed by する/される/できる/して is the action asked about, not its topic.
_ACTION = re.compile(r"(?:さ[せれ]|し[てたな]?|す[るれ]|せ|でき|出来)")
# A kanji followed by kana other than a particle is a verb's stem (乗って, 買える).
_VERB_STEM = re.compile(r"[いらりるれろわうえおかきくけこせそたちつてまみむめ]")
# っ and ん follow a verb's stem (持って, 休んで) but also a noun before the colloquial って
# (休暇って): the morphology tells.
_GEMINATE = re.compile(r"[っん]")
_KANJI = re.compile(r"[一-龥々]")
_SENTENCE = re.compile(r"[。\n]")
# Suffixes that turn a topic into a time or share of it (産休中, 退職後, 月額分).
_SUFFIXES = frozenset("中 後 前 時 等 毎 分 用".split())
# Nouns that say what about a topic is asked, never which topic.
LIGHT = frozenset(
    "書類 費用 手続 手続き 期限 金額 日数 方法 条件 制度 対象 内容 場合 時間 期間 会社 社員 "
    "従業員 仕事 上限 支給 申請 利用 補助 規定 規程 必要 本当 大丈夫 問題 結構 最近 今度 "
    "都合 事情 理由 関係 状況 予定 話 ダメ 駄目 アウト OK NG".split())
# When the question is asked, not what about: a compound opening with one (今月残業, 去年分)
# names its topic by the rest.
TIME_WORDS = ("今年", "来年", "去年", "昨年", "毎年", "今年度", "来年度", "年度", "今月", "来月",
              "先月", "毎月", "今週", "来週", "先週", "毎週", "今日", "明日", "昨日", "毎日", "今回",
              "前回", "次回", "最近")


def topic_compounds(question: str, analyzer: Analyzer,
                    ignore: frozenset[str] = frozenset()) -> list[str]:
    """The noun compounds of the question that name its topic; a compound made only of
    ``ignore`` words (greetings, the people's names) names none."""
    text = facts.fold(question)
    out = []
    for m in _COMPOUND.finditer(text):
        word, end = m.group(0), m.end()
        if text[m.start():end + 1] in analyzer.terms:  # 忌引き, 昼休み: a synonym's own form
            word, end = text[m.start():end + 1], end + 1
        if _KANJI.match(word[-1]) and (_VERB_STEM.match(text, end) or (
                _GEMINATE.match(text, end) and _verb_stem(word, text[end:end + 2]))):
            word = word[:-1]  # グリーン車乗っ: 乗 begins the verb 乗って
        word = _without_time(_without_manner(word))
        if len(word) < 2 or word in LIGHT or word[0] == "何" or _ACTION.match(text, end):
            continue
        if {t for t in analyzer.query_tokens(word) if len(t) > 1} - ignore:
            out.append(word)
    return out


def _verb_stem(word: str, kana: str) -> bool:
    """Whether the last kanji of ``word`` with the kana after it (って, んで) begins a verb:
    持って, 休んで, unlike 休暇って."""
    return any(surface == word[-1] + kana[:1] for surface, _, _ in words(word + kana))


# Words that say how, not what (即アウト, クタクタ, ちょこちょこ): adverbs and adjectival nouns.
_MANNER = frozenset({"副詞", "形状詞", "連体詞"})


def _without_manner(word: str) -> str:
    """The compound without the manner words it opens with (即アウト → アウト, クタクタ → "")."""
    parts = parts_of_speech(word)
    while parts and parts[0][1] in _MANNER:
        parts = parts[1:]
    return "".join(surface for surface, _ in parts)


def _without_time(word: str) -> str:
    for time in sorted(TIME_WORDS, key=len, reverse=True):
        if word.startswith(time):
            return word[len(time):]
    return word


def _forms(word: str, analyzer: Analyzer) -> list[tuple[str, ...]]:
    """The word sequences a compound may be written as: its own words, each synonym's."""
    forms = [tuple(analyzer.index_tokens(word)), tuple(plain_tokens(word))]
    forms += [tuple(plain_tokens(c)) for c in analyzer.terms.get(word, ())]
    forms = [f[:-1] if len(f) > 1 and f[-1] in _SUFFIXES else f for f in forms]
    return [f for f in dict.fromkeys(forms) if f]


def _in_order(parts: Sequence[str], seq: Sequence[str]) -> bool:
    """Whether ``parts`` occur in ``seq`` in order, at most GAP words apart."""
    for start, token in enumerate(seq):
        if token != parts[0]:
            continue
        at = start
        for part in parts[1:]:
            window = seq[at + 1:at + 2 + GAP]
            if part not in window:
                break
            at = at + 1 + window.index(part)
        else:
            return True
    return False


def _core_named(parts: Sequence[str], seq: Sequence[str], have: frozenset[str]) -> bool:
    """A compound of a qualifier and a core of two words or more (インフルエンザ + 予防接種)
    is named when the core is written as one term and the qualifier elsewhere in the clauses
    (「予防接種補助」 listing 「インフルエンザ」); a one-word core (手当 of 家族手当, 休暇 of
    誕生日休暇) is too common to count."""
    for cut in range(1, len(parts) - 1):
        core, qualifier = parts[cut:], parts[:cut]
        # Each word of the core a word of its own (保険 + 証 of 健康保険証 is no such core).
        if all(len(c) > 1 for c in core) and _in_order(core, seq) \
                and all(q in have for q in qualifier):
            return True
    return False


def _in_one_sentence(parts: Sequence[str], sentences: Sequence[frozenset[str]]) -> bool:
    """Whether one sentence holds every part: 「深夜にタクシーで帰宅した場合のタクシー代」
    is about 深夜タクシー代, while 家族 in one sentence and 手当 in another are not 家族手当."""
    wanted = set(parts)
    return any(wanted <= sentence for sentence in sentences)


def unnamed_topic(question: str, text: str, analyzer: Analyzer,
                  ignore: frozenset[str] = frozenset()) -> list[str]:
    """The question's topic compounds ``text`` (the best clauses with their labels) never
    names, when they are nearly all of its topic: the topic is not in the rules."""
    folded = facts.fold(text)
    seq = analyzer.index_tokens(folded)
    sentences = [frozenset(analyzer.index_tokens(s)) for s in _SENTENCE.split(folded) if s]
    compounds = topic_compounds(question, analyzer, ignore)
    have = frozenset(seq)
    missing = [w for w in compounds if w not in folded
               and not any(_in_order(f, seq) or _in_one_sentence(f, sentences)
                           or _core_named(f, seq, have) for f in _forms(w, analyzer))]
    weight = sum(len(w) for w in compounds)
    return missing if weight and sum(len(w) for w in missing) / weight >= UNNAMED_SHARE else []


def names_any(question: str, text: str, analyzer: Analyzer,
              ignore: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` (one clause) names at least one of the question's topic compounds:
    a word of its own (出産 of 出産予定) or the whole of a synonym it stands for (慶弔休暇 for
    忌引き; a part of a synonym, 勤務 of 在宅勤務, is too common to tell). A clause naming none
    (セミナー補助 for テレワークの通信費) is about something else, however well its other words
    match. True when the question has no topic compound."""
    compounds = topic_compounds(question, analyzer, ignore)
    if not compounds:
        return True
    folded = facts.fold(text)
    seq = analyzer.index_tokens(folded)
    have = set(seq)
    for word in compounds:
        # A synonym's own form is analysed into the words it stands for (テレワーク → 在宅,
        # 勤務); its surface words are its own.
        own = set(plain_tokens(word))
        if word not in analyzer.terms:
            own.update(analyzer.index_tokens(word))
        if word in folded or any(len(t) > 1 and t in have for t in own):
            return True
        if any(_in_order(plain_tokens(c), seq) for c in analyzer.terms.get(word, ())):
            return True
    return False
