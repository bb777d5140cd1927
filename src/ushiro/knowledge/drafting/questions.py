"""The questions one request asks: 「日当はいくらになりますか。また、宿泊費の上限も教えてください。」
asks two, and each gets its own answer from the clause that holds it.

A request is split into sentences; those that ask (a question mark, 〜か。, 〜ください, 教えて)
are its questions, and the sentences that only tell circumstances (「10月5日から2泊で大阪に出張
します。」) are kept in front of each, so 大阪 still picks the 政令指定都市 row. A request with
one question is read whole, as before.
"""

from __future__ import annotations

import re

from ushiro.knowledge.drafting import facts

# A request rarely asks more than three things; the rest is answered by a person.
MAX_QUESTIONS = 3
# A shorter question (「条件は？」, 「振込？」) goes on asking the one before it.
ELLIPTICAL = 8
_SENTENCE = re.compile(r"[^。？?！!\n]+[。？?！!]?")
# A wish (「切り替えたい。」) tells the circumstance the question after it asks about.
_ASKS = re.compile(r"[？?]\s*$|か[。．]?\s*$|(?:ください|下さい)[。．]?\s*$|教えて")


def asked_parts(question: str) -> list[str]:
    """Each question of the request with the circumstances told before it, or [] when the
    request asks one thing."""
    sentences = [s.strip() for s in _SENTENCE.findall(facts.fold(question)) if s.strip()]
    asks: list[str] = []
    for s in sentences:
        if not _ASKS.search(s):
            continue
        if asks and len(s) < ELLIPTICAL:
            asks[-1] = f"{asks[-1]} {s}"  # 「…もらえるの？振込？」: one question put twice
        else:
            asks.append(s)
    if len(asks) < 2:
        return []
    # A subject line (「出張の日当について」, no sentence mark) names the first question's topic,
    # not a circumstance of the others.
    told = " ".join(s for s in sentences if s not in asks and s[-1] in "。．！!")
    return [f"{told} {ask}".strip() for ask in asks[:MAX_QUESTIONS]]
