"""The draft panel shows an answer-first draft from a real company's rules, and a holding
reply naming the team when the rules do not cover the question (HTTP)."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from answers_support import CATEGORY, People, ask, current_draft
from fastapi.testclient import TestClient

from ushiro import identity, knowledge
from ushiro.core.runtime import Runtime
from ushiro.identity import command_line

RULES = Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "denkiyagi"


def test_draft_panel_answers_first_and_holds_off_topic(client: TestClient, rt: Runtime,
                                                      people: People,
                                                      login: Callable[[str], str]) -> None:
    """GIVEN a real company's 出張旅費規程 in the knowledge base
    WHEN an employee asks the hotel allowance for an Osaka trip, and another question the
    rules never mention (社員旅行)
    THEN the operator's draft panel shows the answer first (政令指定都市 8,000円) with the
    caption-bearing citation; the off-topic draft abstains and names the category's
    department as the team that will answer."""
    knowledge.add_document(rt, command_line(people.tenant.id), knowledge.DocumentIn(
        "出張旅費規程.md", (RULES / "出張旅費規程.md").read_bytes()))
    answered = ask(rt, people.employee_p, "大阪出張の宿泊費っていくら出るの？")
    held = ask(rt, people.employee_p, "社員旅行っていつ行くの？")

    login(people.operator.email)
    page = client.get(f"/desk/requests/{answered}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert 'id="draft-panel"' in page.text
    draft = current_draft(rt, people.operator_p, answered)
    assert not draft.abstained
    assert draft.answer.split("\n\n")[1] == (
        "宿泊を要する出張の場合、出張地域に応じた宿泊費を次のとおり支給します。"
        "政令指定都市は、1泊あたり8,000円です。")
    assert "政令指定都市は、1泊あたり8,000円です。" in text
    assert "根拠: 出張旅費規程 第15条（宿泊費）(第1版)" in text

    with rt.db.reading() as session:
        found = identity.category_with_department(session, people.tenant.id, name=CATEGORY)
    assert found is not None
    holding = current_draft(rt, people.operator_p, held)
    assert holding.abstained and holding.citations == []
    assert f"お問い合わせの件は、{found[1]}で内容を確認のうえ" in holding.answer
    page = client.get(f"/desk/requests/{held}")
    assert f"{found[1]}で内容を確認のうえ" in html.unescape(page.text)
