"""Recurrence (a question about requests, so above both desk and knowledge): the other requests and the FAQ entries a request resembles, how often its
question came back in the last 30 days, and the questions that keep coming back without
an FAQ entry (FAQ candidates).

**Words of a request.** Title and body, without what every message says: the salutation
(人事部 ご担当者様), お疲れさまです, self-introductions (営業部の石川です。),
よろしくお願いします, closing lines and the signature block, and quoted mail (``>``). The
rest is analysed by the tenant's knowledge analyser (Sudachi + synonyms), so 有給, 有休 and
年休 are all 年次有給休暇.

**Similarity.** The tenant's requests received in the last 90 days (from the start of the
UTC day) form one BM25 index (bm25s, Lucene variant, k1=1.2, b=0.75). The similarity of B
to A is A's words scored against B, as a share of A's words scored against A itself::

    sim(A → B) = min(1, BM25(words of A, B) / BM25(words of A, A))

Words that many requests use (確認, 申請) weigh little, the ones that make the question
(残日数, 印刷) much; 0 is nothing in common, 1 is everything A says. B is *similar* to A
when sim(A → B) ≥ ``SIMILAR`` (0.35). On the 200 requests of the sample company, 0.35
keeps the rewordings of one question (有給の残日数 / 年休は何日残っている ≈ 0.45, 有休の残り /
有給休暇の残日数について ≈ 0.4, repeats 0.6–0.9) while different questions stay below 0.3
(有給の残日数 / 慶弔休暇の申請方法 0.29, 住所変更 / 振込口座の変更 0.24); the few pairs above it
are neighbours (取引先の振込先変更 / 給与振込口座の変更 0.44). Lexical similarity cannot
tell 有給の残日数 from 時間単位の有給 (0.47): both are listed as paid-leave questions.
Word weights count at least ``MIN_DOCS`` requests, so a tenant's first requests compare
sensibly too. The request page lists at most ``SHOWN`` similar requests (any date in the
window, most similar first) that the viewer may see.
**FAQ entries** are knowledge passages that are Q&A items (問1, Q2., Q:) or come from a
document whose title says FAQ, Q&A or よくある質問. They are found with
:func:`ushiro.knowledge.search` (so the viewer's document restrictions apply) and kept when
sim(request → passage) ≥ ``FAQ_MATCH``, with the same formula and the request index's
word weights.

**Counts.** "Asked N times in the last 30 days": the request itself when it was received in
the last 30 days, plus the similar requests received then that the viewer may see (desk
access rules, never another tenant's).

**FAQ candidates.** The requests of the last 30 days are grouped around the request with
the most similar ones (either direction); a group is a candidate when the viewer sees at
least ``MIN_CLUSTER`` (3) of its requests and no FAQ entry matches its central request.

**Caching.** Each process keeps one index per tenant, checked on every lookup against the
tenant's last request (number and id), the day and the knowledge stamp, so a new request
appears at once. Titles and bodies never change after intake: new requests are analysed
and scored one by one next to the bm25s part (up to ``MAX_EXTRA``), and a rebuild (next
day, synonyms edited, too many new requests) re-analyses only what it has not seen. The
first lookup in a process analyses the whole window (≈ 5–10 s for 10,000 requests);
after that a lookup takes a few milliseconds (2-core development machine, 10,000
requests in the window, SQLite: ≈ 7 ms CPU at the median, ≤ 15 ms at p99).
"""

from ushiro.recurrence.index import (
    MIN_CLUSTER,
    MIN_DOCS,
    RECENT_DAYS,
    SIMILAR,
    RequestIndex,
    clear_cache,
    index_for,
    request_text,
)
from ushiro.recurrence.service import (
    Candidate,
    FaqMatch,
    Recurrence,
    SimilarRequest,
    faq_candidates,
    for_request,
    for_request_id,
    panel,
)

__all__ = [
    "MIN_CLUSTER", "MIN_DOCS", "RECENT_DAYS", "RequestIndex", "index_for", "SIMILAR", "Candidate", "FaqMatch", "Recurrence",
    "SimilarRequest", "clear_cache", "faq_candidates", "for_request", "for_request_id",
    "panel", "request_text",
]
