"""The internal register: a reply greets the requester as a colleague."""

from __future__ import annotations

import pytest

from ushiro.desk import ReplyTemplate, greeting


@pytest.mark.parametrize("name, addressed", [
    ("山田 太郎", "山田さん　お疲れさまです。"),  # a Japanese full name: the family name
    ("山田　太郎", "山田さん　お疲れさまです。"),
    ("山田太郎様", "山田太郎さん　お疲れさまです。"),  # where the family name ends is unknown
    ("Taro Yamada", "Taro Yamadaさん　お疲れさまです。"),
    ("", "お疲れさまです。"),  # a sender known by address only
])
def test_the_greeting_addresses_the_requester_as_a_colleague(name: str, addressed: str) -> None:
    assert greeting(name) == addressed


def test_the_template_leaves_room_for_the_answer_before_the_signature() -> None:
    template = ReplyTemplate("山田さん　お疲れさまです。", "総務部　ヘルプデスク")
    assert template.text == "山田さん　お疲れさまです。\n\n\n\n総務部　ヘルプデスク"
    assert ReplyTemplate("お疲れさまです。", "").text == "お疲れさまです。\n\n"
