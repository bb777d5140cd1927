"""Recurrence: similar earlier requests, "asked N times in the last 30 days", FAQ entries
that answer a request and the FAQ candidates page.

The background is the sample company's requests (src/ushiro/demo/data/sample_company.json),
submitted through the desk service and moved back to the day the sample gives them, so the
words that every request uses weigh as little as they would at a real desk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from ushiro import recurrence
from ushiro.core import security
from ushiro.core.runtime import Runtime
from ushiro.demo.service import sample
from ushiro.desk import backdate
from ushiro.desk import service as desk_service
from ushiro.desk.choices import Channel
from ushiro.desk.schemas import RequestCreate
from ushiro.identity import Principal, Role, Tenant, User, command_line
from ushiro.identity import service as identity_service
from ushiro.knowledge import DocumentIn, add_document

FAQ_DOC = """# 人事FAQ

Q1. 有給休暇の残日数はどこで確認できますか？
A. 勤怠システムの「休暇残高」画面で、有給休暇の残日数と失効予定日を確認できます。

Q2. 結婚したときに休暇はもらえますか？
A. 本人の結婚の場合、慶弔休暇として5日取得できます。
"""

RULES_DOC = """就業規則

（年次有給休暇）
第12条　会社は、雇入れの日から6か月間継続勤務し、所定労働日の8割以上出勤した従業員に対して、10日の年次有給休暇を与える。
"""

# (description, request A (title, body), request B (title, body), B is similar to A)
PAIRS = [
    ("rewording with 年休", ("有給の残日数", "有給の残日数を教えてください。"),
     ("年休は何日残っている", "年休はあと何日残っていますか？"), True),
    ("有休 and a courteous mail", ("有休の残り", "有休があと何日あるか確認したいです。"),
     ("有給休暇の残日数について", "人事部 ご担当者様\nお疲れさまです。営業部の石川です。\n"
      "有給休暇の残日数を教えていただけますか。\nよろしくお願いします。\n営業部　石川 翼"),
     True),
    ("moving house", ("住所変更", "引っ越したので住所を変更したいです。"),
     ("住所変更の手続き", "住所変更の手続きを教えてください。"), True),
    ("育休 is 育児休業", ("育休を取りたい", "育休を取りたいのですが、手続きを教えてください。"),
     ("育児休業の申請", "育児休業の申請方法を教えてください。"), True),
    ("leave and a broken PC", ("有給の残日数", "有給の残日数を教えてください。"),
     ("PCが壊れた", "PCが壊れて起動しません。"), False),
    ("two kinds of leave", ("有給の残日数", "有給の残日数を教えてください。"),
     ("慶弔休暇の申請方法", "祖母が亡くなりました。慶弔休暇の申請方法を教えてください。"), False),
    ("address and bank account", ("住所変更", "引っ越したので住所を変更したいです。"),
     ("振込口座の変更", "給与の振込口座を変更したいです。"), False),
    ("expense deadline and payday", ("経費精算の締め日", "経費精算の締め日はいつですか？"),
     ("給与の支給日", "給与の支給日はいつですか？"), False),
]

LEAVE_QUESTIONS = [
    ("有給の残日数を知りたい", "今年の有給があと何日残っているか教えてください。"),
    ("年休の残り", "年休はあと何日残っていますか？"),
    ("有休の残日数確認", "有休の残日数を確認したいです。"),
]


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Every test starts cold, as a new process would: its first lookup builds the index.
    monkeypatch.setattr(security, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    recurrence.clear_cache()
    yield
    recurrence.clear_cache()


@dataclass
class Desk:
    rt: Runtime
    tenant: Tenant
    requester: Principal
    admin: Principal
    admin_user: User

    def submit(self, title: str, body: str, *, days_ago: float = 0,
               category: str | None = None, who: Principal | None = None) -> int:
        request = desk_service.submit(self.rt, who or self.requester,
                                      RequestCreate(title=title, body=body, category=category),
                                      channel=Channel.PORTAL)
        if days_ago:
            backdate(self.rt, self.admin, request.id, timedelta(days=days_ago))
        return request.id


@pytest.fixture
def desk(rt: Runtime, tenant: Tenant, make_user: Callable[..., User]) -> Desk:
    requester = make_user(Role.REQUESTER, name="依頼 花子")
    admin = make_user(Role.ADMIN, name="管理 一郎")
    return Desk(rt, tenant, identity_service.principal(rt.db, requester.id, tenant.id),
                identity_service.principal(rt.db, admin.id, tenant.id), admin)


@pytest.fixture
def sample_desk(desk: Desk) -> Desk:
    """The sample company's requests of さくら精機, at their sample ages."""
    for item in sample()["requests"]:
        if item["tenant"] == "sakura":
            desk.submit(item["title"][:300], item["body"], category=item["category"],
                        days_ago=item["days_ago"] + 0.1)
    return desk


def similar_ids(desk: Desk, request_id: int, who: Principal | None = None) -> set[int]:
    found = recurrence.for_request_id(desk.rt, who or desk.admin, request_id)
    return {s.id for s in found.similar}


def add_faq(desk: Desk) -> None:
    add_document(desk.rt, command_line(desk.tenant.id),
                 DocumentIn(filename="人事FAQ.md", data=FAQ_DOC.encode()))


# --- similarity ---------------------------------------------------------------------------


@pytest.mark.parametrize(("title", "body", "expected"), [
    ("【至急】Re: 有給の残日数", "人事部 ご担当者様\nお疲れさまです。営業部の石川です。\n"
     "有給の残日数を教えてください。\nよろしくお願いいたします。\n営業部　石川 翼",
     "有給の残日数\n有給の残日数を教えてください。"),
    ("PCが壊れた", "PCが壊れました。\n> 以前のメール\n> 引用です", "PCが壊れた\nPCが壊れました。"),
    ("打刻漏れ", "退勤打刻を忘れました。\n-----Original Message-----\n古いメール",
     "打刻漏れ\n退勤打刻を忘れました。"),
], ids=["courtesy and signature", "quoted lines", "forwarded original"])
def test_request_text_drops_what_every_message_says(title: str, body: str,
                                                    expected: str) -> None:
    """GIVEN a request with a salutation, greetings, a signature or quoted mail
    WHEN it is read for comparison
    THEN only the question itself remains."""
    assert recurrence.request_text(title, body) == expected


@pytest.mark.parametrize("corpus", ["sample_desk", "desk"])
def test_pair_score_is_what_bm25s_computes(request: pytest.FixtureRequest,
                                           corpus: str) -> None:
    """GIVEN the index of the sample requests, or of a tenant's first few requests (whose
    word weights are smoothed as if it had 100)
    WHEN a request's words are scored against another request by the index's own formula
    THEN the score is the one bm25s ranks by (so self-scores and rankings agree)."""
    desk: Desk = request.getfixturevalue(corpus)
    if corpus == "desk":
        for title, body in [*LEAVE_QUESTIONS, ("PCが起動しません", "電源が入りません。"),
                            ("経費精算の締め日", "経費精算の締め日はいつですか？"),
                            ("有給の残日数", "有給の残日数を教えてください。")]:
            desk.submit(title, body)
    index = recurrence.index_for(desk.rt, desk.tenant.id)
    assert index.base.docs == max(index.base.size, recurrence.MIN_DOCS)
    query = index.tokens[5]
    sims = index.similarities(query)
    own = index.score(query, query)
    for position in range(0, index.size, max(1, index.size // 7)):
        expected = min(1.0, index.score(query, index.tokens[position]) / own)
        assert sims[position] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert sims[5] == pytest.approx(1.0, rel=1e-4)


def test_similar_and_unrelated_pairs(sample_desk: Desk) -> None:
    """GIVEN the sample company's requests and pairs of new requests
    WHEN the desk looks for requests similar to the first of each pair
    THEN rewordings of one question are similar (有給/有休/年休 are one word to it, greetings
    and signatures do not count) and different questions are not."""
    wrong = []
    for description, (a_title, a_body), (b_title, b_body), similar in PAIRS:
        a = sample_desk.submit(a_title, a_body)
        b = sample_desk.submit(b_title, b_body)
        if (b in similar_ids(sample_desk, a)) is not similar:
            wrong.append(description)
    assert wrong == []


def test_leave_questions_cluster_and_others_stay_out(sample_desk: Desk) -> None:
    """GIVEN the sample requests and three more ways of asking how much paid leave is left
    WHEN the desk opens one of them
    THEN the others (and the sample's 有給の残日数確認) are listed as similar, the sample's
    unrelated requests (PCs, expenses, invoices) are not."""
    ids = [sample_desk.submit(t, b) for t, b in LEAVE_QUESTIONS]
    found = recurrence.for_request_id(sample_desk.rt, sample_desk.admin, ids[0])
    titles = {s.title for s in found.similar}
    assert set(ids[1:]) <= {s.id for s in found.similar}
    assert "有給の残日数確認" in titles
    unrelated = {"PCが起動しません", "経費精算の締め日", "複合機に印刷できない",
                 "請求書の宛名の誤り", "退職者のアカウント停止", "宅配便の発送"}
    assert titles & unrelated == set()
    assert all(s.similarity >= recurrence.SIMILAR for s in found.similar)


def test_a_new_request_appears_without_waiting(desk: Desk) -> None:
    """GIVEN a request whose similar requests were already looked up (the index is warm)
    WHEN a similar request arrives
    THEN the next lookup lists it."""
    first = desk.submit(*LEAVE_QUESTIONS[0])
    desk.submit("PCが起動しません", "電源を入れても起動しません。")
    assert similar_ids(desk, first) == set()
    second = desk.submit(*LEAVE_QUESTIONS[1])
    assert similar_ids(desk, first) == {second}


# --- counts -------------------------------------------------------------------------------


def test_count_of_the_last_30_days(sample_desk: Desk) -> None:
    """GIVEN the same question asked today, 10 days ago, 45 days ago and 120 days ago
    WHEN the desk opens today's request
    THEN it counts 2 in the last 30 days (today's and the one of 10 days ago), lists the
    one of 45 days ago as similar too, and not the one of 120 days ago (outside 90 days)."""
    today = sample_desk.submit(*LEAVE_QUESTIONS[0])
    ten = sample_desk.submit(*LEAVE_QUESTIONS[1], days_ago=10)
    old = sample_desk.submit(*LEAVE_QUESTIONS[2], days_ago=45)
    ancient = sample_desk.submit("有給の残日数", "有給の残日数を教えてください。", days_ago=120)
    found = recurrence.for_request_id(sample_desk.rt, sample_desk.admin, today)
    ids = {s.id for s in found.similar}
    assert {ten, old} <= ids
    assert ancient not in ids
    sample_in_30_days = sum(1 for s in found.similar
                            if s.id not in (ten, old) and s.title == "有給の残日数確認")
    assert found.recent_count == 2 + sample_in_30_days


def test_counts_only_what_the_viewer_may_see(sample_desk: Desk,
                                             make_user: Callable[..., User]) -> None:
    """GIVEN three leave questions in 人事・労務 (勤怠・休暇) and one not yet sorted
    WHEN an operator of 経理 (who sees unsorted requests, not 人事・労務's) opens the
    unsorted one
    THEN the three are neither listed nor counted for the operator; the admin gets them."""
    desk = sample_desk
    ids = {desk.submit(t, b, category="勤怠・休暇") for t, b in LEAVE_QUESTIONS}
    unsorted = desk.submit("有給の残日数", "有給の残日数を教えてください。")
    operator = make_user(Role.OPERATOR, departments=["経理"])
    as_operator = identity_service.principal(desk.rt.db, operator.id, desk.tenant.id)
    seen = recurrence.for_request_id(desk.rt, as_operator, unsorted)
    everything = recurrence.for_request_id(desk.rt, desk.admin, unsorted)
    assert ids.isdisjoint(s.id for s in seen.similar)
    assert ids <= {s.id for s in everything.similar}
    assert everything.recent_count >= seen.recent_count + 3


def test_another_tenants_requests_never_count(desk: Desk, make_tenant: Callable[..., Tenant],
                                              make_user: Callable[..., User]) -> None:
    """GIVEN the same leave question asked three times in tenant B and once in tenant A
    WHEN tenant A's admin opens A's request, and looks at the FAQ candidates
    THEN nothing of tenant B is listed or counted."""
    other = make_tenant("kaede", "かえで商事株式会社")
    someone = make_user(Role.REQUESTER, tenant_obj=other)
    in_b = identity_service.principal(desk.rt.db, someone.id, other.id)
    for title, body in LEAVE_QUESTIONS:
        desk.submit(title, body, who=in_b)
    mine = desk.submit("有給の残日数", "有給の残日数を教えてください。")
    found = recurrence.for_request_id(desk.rt, desk.admin, mine)
    assert found.similar == [] and found.recent_count == 1
    assert recurrence.faq_candidates(desk.rt, desk.admin) == []


# --- FAQ ----------------------------------------------------------------------------------


def test_faq_entry_that_answers_is_linked(desk: Desk) -> None:
    """GIVEN an FAQ with a Q&A item on the remaining paid leave, and a rule book article on
    paid leave
    WHEN the desk opens a request asking how many 年休 days are left
    THEN the FAQ item is linked, the article (not an FAQ entry) and the unrelated FAQ item
    on marriage leave are not."""
    add_faq(desk)
    add_document(desk.rt, command_line(desk.tenant.id),
                 DocumentIn(filename="就業規則.txt", data=RULES_DOC.encode()))
    request_id = desk.submit("年休の残り", "年休はあと何日残っていますか？")
    found = recurrence.for_request_id(desk.rt, desk.admin, request_id)
    assert [m.section for m in found.faq] == ["Q1 有給休暇の残日数はどこで確認できますか?"]
    assert found.faq[0].document == "人事FAQ"
    unrelated = desk.submit("PCが起動しません", "電源を入れても起動しません。")
    assert recurrence.for_request_id(desk.rt, desk.admin, unrelated).faq == []


def test_faq_candidates(sample_desk: Desk) -> None:
    """GIVEN the sample requests and the paid-leave question asked three more times
    WHEN staff look at the FAQ candidates
    THEN the paid-leave question is a candidate with its count and an example; every
    candidate was asked at least 3 times in the last 30 days, most asked first; once an FAQ
    entry answers it, it is no longer a candidate."""
    ids = [sample_desk.submit(t, b) for t, b in LEAVE_QUESTIONS]
    candidates = recurrence.faq_candidates(sample_desk.rt, sample_desk.admin)
    leave = [c for c in candidates if set(ids) <= {r.id for r in c.requests}]
    assert len(leave) == 1 and leave[0].count >= 3
    assert leave[0].example.id in {r.id for r in leave[0].requests}
    assert all(c.count >= recurrence.MIN_CLUSTER for c in candidates)
    assert [c.count for c in candidates] == sorted((c.count for c in candidates), reverse=True)
    add_faq(sample_desk)
    after = recurrence.faq_candidates(sample_desk.rt, sample_desk.admin)
    assert not [c for c in after if set(ids) & {r.id for r in c.requests}]


# --- pages --------------------------------------------------------------------------------


def test_request_page_shows_recurrence(client: TestClient, desk: Desk,
                                       login: Callable[[str], str]) -> None:
    """GIVEN the paid-leave question asked three times, and an FAQ that answers it
    WHEN staff open the newest request
    THEN the page says 「この30日間に 3 回」, links the two others and shows the FAQ item."""
    ids = [desk.submit(t, b, days_ago=3 - i) for i, (t, b) in enumerate(LEAVE_QUESTIONS)]
    add_faq(desk)
    login(desk.admin_user.email)
    page = client.get(f"/desk/requests/{ids[-1]}")
    assert page.status_code == 200
    assert "この30日間に 3 回" in page.text
    for other in ids[:-1]:
        assert f'href="/desk/requests/{other}"' in page.text
    assert "有給休暇の残日数はどこで確認できますか" in page.text


def test_faq_candidates_page(client: TestClient, desk: Desk,
                             login: Callable[[str], str]) -> None:
    """GIVEN the paid-leave question asked three times and no FAQ
    WHEN staff open the FAQ candidates page (linked from the queue)
    THEN it lists the question, asked 3 times, with links to the requests."""
    ids = [desk.submit(t, b) for t, b in LEAVE_QUESTIONS]
    login(desk.admin_user.email)
    assert 'href="/desk/faq-candidates"' in client.get("/desk").text
    page = client.get("/desk/faq-candidates")
    assert page.status_code == 200
    assert '<td class="count">3</td>' in page.text
    for request_id in ids:
        assert f'href="/desk/requests/{request_id}"' in page.text
