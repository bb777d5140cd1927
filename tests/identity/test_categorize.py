"""A chat question's category from its words (identity.guess_category): a keyword and
synonym match against the tenant's category names, until triage classifies requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ushiro.identity
from ushiro.identity import guess_category

TAXONOMY = Path(ushiro.identity.__file__).parent / "data" / "taxonomy.json"
DEFAULT = [name for cats in json.loads(TAXONOMY.read_text(encoding="utf-8")).values()
           for name in cats]


@pytest.mark.parametrize(("text", "expected"), [
    ("有給はいつから取れますか？", "勤怠・休暇"),
    ("来週、有休を2日取りたいです", "勤怠・休暇"),
    ("年休の残りを知りたい", "勤怠・休暇"),
    ("忌引きは何日もらえますか", "勤怠・休暇"),
    ("残業代の計算方法を教えてください", "給与"),  # 残業代 (給与) is longer than 残業
    ("給料日はいつですか", "給与"),
    ("大阪出張の新幹線代を精算したい", "旅費・出張"),
    ("領収書をなくしてしまいました", "経費精算"),
    ("保険証を再発行したい", "社会保険"),
    ("ノートＰＣが起動しません", "PC・機器"),  # full-width letters, NFKC
    ("パスワードを忘れてログインできません", "アカウント"),
    ("来月末で退職したいのですが手続きは？", "入退社手続"),
    ("会議室Bの予約方法を教えてください", None),  # no word of any category
    ("", None),
    ("出張中の給料", None),  # a tie: the desk sorts it
])
def test_default_taxonomy(text: str, expected: str | None) -> None:
    """GIVEN the default taxonomy WHEN a question is matched THEN the category its words
    point to (None: no word found, or a tie)."""
    assert guess_category(text, [(name, name) for name in DEFAULT]) == expected


@pytest.mark.parametrize(("text", "categories", "expected"), [
    # A tenant's own category is matched by its name and the parts of its name.
    ("福利厚生の制度について", [(1, "制度・規程の質問"), (2, "福利厚生")], 2),
    ("休暇の取り方を知りたい", [(1, "勤怠・休暇"), (2, "給与")], 1),
    ("休暇の取り方を知りたい", [(2, "給与")], None),
    # The shipped synonyms belong to the default names; another name has its own words.
    ("有給休暇はいつから？", [(7, "休暇・勤怠管理")], 7),
    ("有給はいつから？", [(7, "休暇・勤怠管理")], None),
    ("有給はいつから？", [(7, "経費精算"), (8, "勤怠・休暇")], 8),
    # A one-character part of a name is no word (it would match almost anything).
    ("他社との契約について", [(1, "その他・他"), (2, "契約審査")], None),
])
def test_tenant_categories(text: str, categories: list[tuple[int, str]],
                           expected: int | None) -> None:
    """GIVEN a tenant's categories WHEN a question is matched THEN the best one, or None."""
    assert guess_category(text, categories) == expected
