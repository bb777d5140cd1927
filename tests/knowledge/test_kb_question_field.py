"""The question of a Q&A item counts as a field of its own: an item whose question matches
ranks above one whose answer merely mentions the same words."""

from __future__ import annotations

import pytest

from ushiro import knowledge
from ushiro.identity import command_line
from ushiro.knowledge import DocumentIn
from ushiro.knowledge.retrieval.fusion import question_of

FAQ = """# 経理FAQ

Q1. 交際費の範囲を教えてください
A. 得意先や仕入先など事業に関係のある者に対する接待、供応、慰安、贈答のための支出をいいます。飲食のほか、記念品の贈呈、観劇やゴルフへの招待、慶弔の金品も含みます。社内の者だけの飲食は福利厚生費として扱います。申請は事前に所属長の承認を得て、領収書を添えて提出してください。

Q2. 会議で出す弁当代の扱いは
A. 交際費の範囲に含めず会議費とします。迷うときは交際費の範囲の一覧を見てください。

Q3. 在宅勤務手当の金額はいくらですか
A. 月額3,000円です。在宅勤務の日数にかかわらず、在宅勤務を承認された月の給与とともに支給します。通信費や光熱費の実費は別に精算できません。入社した月と退職した月は日割りで計算します。

Q4. 在宅勤務の月も通勤定期代は支給されますか
A. 在宅勤務手当を支給し、通勤定期代は支給しません。在宅勤務手当の金額と在宅勤務手当の申請は総務部の案内を見てください。
"""


@pytest.mark.parametrize(("query", "first", "below"), [
    pytest.param("交際費の範囲は?", "Q1", "Q2", id="交際費の範囲"),
    pytest.param("在宅勤務手当の金額を知りたい", "Q3", "Q4", id="在宅勤務手当の金額"),
])
def test_the_item_asking_the_question_outranks_an_answer_mentioning_it(
        rt, tenant, query, first, below) -> None:
    """GIVEN an FAQ where one item asks about a topic and another item's answer mentions the
    same words more often (and would rank first on its text alone)
    WHEN an employee asks about that topic
    THEN the item whose question it is ranks first, above the item that only mentions it."""
    knowledge.add_document(rt, command_line(tenant.id), DocumentIn("経理FAQ.md", FAQ.encode()))
    hits = [h.section.split()[0] for h in
            knowledge.search(rt, command_line(tenant.id), query, k=4)]
    assert hits[0] == first
    assert below in hits[1:]


@pytest.mark.parametrize(("label", "question"), [
    ("Q12 有給は何日ですか?", "有給は何日ですか?"),
    ("問3 住所が変わったときの手続きは?", "住所が変わったときの手続きは?"),
    ("Q 退職金はありますか", "退職金はありますか"),
    ("Q96 租税条約に債務者主義の定めがある場合における課税関係",
     "租税条約に債務者主義の定めがある場合における課税関係"),
    ("第12条(年次有給休暇)", ""),
    ("Q1", ""),  # the question was never found: no field
    ("Quality policy", ""),
    ("問題の報告", ""),
    ("経理FAQ", ""),
])
def test_only_a_qa_label_has_a_question(label, question) -> None:
    assert question_of(label) == question
