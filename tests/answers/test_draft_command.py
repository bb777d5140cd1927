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
