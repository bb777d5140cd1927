"""The draft panel shows where reference material differs from the company's own rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from answers_support import People, ask, current_draft
from fastapi.testclient import TestClient

from ushiro import knowledge
from ushiro.core.runtime import Runtime
from ushiro.identity import command_line

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "knowledge"
NOTICE = "参考資料と社内規程で内容が異なります"


def test_the_draft_panel_shows_a_conflict_with_reference_material(
        client: TestClient, rt: Runtime, people: People,
        login: Callable[[str], str]) -> None:
    """GIVEN the company's 就業規則 (定年 満65歳) and the model rules as reference material
    (満60歳)
    WHEN an employee asks the retirement age and the operator opens the request
    THEN the draft cites the company's article first, and the panel says that the
    reference differs, naming both articles and values, and that the answer follows the
    company's rule; a question on which they agree shows no such notice."""
    system = command_line(people.tenant.id)
    knowledge.add_document(rt, system, knowledge.DocumentIn(
        "モデル就業規則.md", (FIXTURES / "モデル就業規則.md").read_bytes(),
        kind=knowledge.DocumentKind.REFERENCE))
    knowledge.add_document(rt, system, knowledge.DocumentIn(
        "就業規則.md", (FIXTURES / "就業規則.md").read_bytes()))
    request_id = ask(rt, people.employee_p, "定年は何歳ですか？")
    draft = current_draft(rt, people.operator_p, request_id)
    assert draft.citations and draft.citations[0].document == "就業規則"

    login(people.operator.email)
    page = client.get(f"/desk/requests/{request_id}")
    assert page.status_code == 200
    assert 'id="draft-conflicts"' in page.text and NOTICE in page.text
    assert "モデル就業規則 第49条(定年等)「満60歳」" in page.text
    assert "就業規則 第21条(定年)「満65歳」" in page.text
    assert "（社内規程に従って回答しています）" in page.text

    agreed = ask(rt, people.employee_p, "結婚したら慶弔休暇は何日？")
    assert NOTICE not in client.get(f"/desk/requests/{agreed}").text
