"""`ushiro draft QUESTION --json` and `--questions FILE`: the DESIGN.md §5 contract."""

from __future__ import annotations

import json
from pathlib import Path

RULES = """# 就業規則

第39条(年次有給休暇)
会社は、6か月間継続勤務し全労働日の8割以上出勤した従業員に対して、10日の年次有給休暇を与える。

第40条(慶弔休暇)
従業員が結婚するときは5日、配偶者が死亡したときは5日の慶弔休暇を与える。
"""


def test_draft_cites_the_rule_and_abstains_without_basis(ushiro, tmp_path: Path) -> None:
    """GIVEN company rules in the knowledge base WHEN a rule question is drafted THEN the
    answer cites the clause; WHEN an unrelated question is drafted THEN it abstains with
    no citations."""
    ushiro("init", "--tenant", "sakura")
    rules = tmp_path / "就業規則.md"
    rules.write_text(RULES, encoding="utf-8")
    added = ushiro("kb", "add", str(rules))
    assert added.exit_code == 0, added.output
    one = ushiro("draft", "有給は何日もらえますか", "--json")
    assert one.exit_code == 0, one.output
    result = json.loads(one.stdout)
    assert set(result) >= {"answer", "citations", "abstained"}
    assert result["abstained"] is False
    assert result["citations"][0]["section"].startswith("第39条")
    assert "10日" in result["answer"]

    questions = tmp_path / "questions.txt"
    questions.write_text("結婚したら何日休めますか\n社員食堂のメニューは？\n", encoding="utf-8")
    batch = ushiro("draft", "--questions", str(questions), "--json")
    lines = [json.loads(line) for line in batch.stdout.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0]["citations"][0]["section"].startswith("第40条")
    assert lines[1]["abstained"] is True and lines[1]["citations"] == []


def test_draft_needs_exactly_one_source_of_questions(ushiro) -> None:
    ushiro("init")
    result = ushiro("draft")
    assert result.exit_code == 2 and "どちらか一方" in result.output


RULES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "denkiyagi"


def test_draft_answers_first_with_the_captioned_clause(ushiro) -> None:
    """GIVEN a real company's 出張旅費規程 (CC0, tests/fixtures/rules/denkiyagi)
    WHEN `ushiro draft` is asked the hotel allowance for Osaka
    THEN the answer right after the greeting is the 政令指定都市 row (8,000円), the basis names
    document, article and caption; an off-topic question is held for the team."""
    ushiro("init", "--tenant", "denkiyagi")
    added = ushiro("kb", "add", str(RULES_DIR / "出張旅費規程.md"))
    assert added.exit_code == 0, added.output
    one = ushiro("draft", "大阪出張の宿泊費っていくら出るの？", "--json")
    assert one.exit_code == 0, one.output
    result = json.loads(one.stdout)
    assert result["abstained"] is False
    greeting, answer = result["answer"].split("\n\n")[:2]
    assert greeting == "お疲れさまです。"
    assert "政令指定都市は、1泊あたり8,000円です。" in answer
    assert "根拠: 出張旅費規程 第15条（宿泊費）(第1版)" in result["answer"]
    assert result["citations"][0]["section"].startswith("第15条")
    held = json.loads(ushiro("draft", "社員旅行っていつ行くの？", "--json").stdout)
    assert held["abstained"] is True and held["citations"] == []
    assert "担当部署で内容を確認のうえ" in held["answer"]
