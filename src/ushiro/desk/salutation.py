"""How a reply addresses the requester and how it ends: the internal register.

Replies on this desk go to colleagues, so they read 「山田さん　お疲れさまです。」, the answer
and the operator's signature (:mod:`ushiro.identity.signatures`), never a shop's
「お問い合わせありがとうございます」. Drafts begin the same way (the drafter formats them from
``TenantContext.requester_name`` and ``signature``, which answers fills from here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kana and kanji: a name written in them is a Japanese name, family name first.
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆ヶ]")
# Honorifics that mail display names sometimes carry (山田太郎様): the greeting adds its own.
_HONORIFIC = re.compile(r"[ 　]*(?:様|さま|さん|殿|御中)$")


def addressed_as(name: str) -> str:
    """The name a colleague is addressed by: the family name of a Japanese full name
    written with a space (山田 太郎 → 山田), else the name as it is (山田太郎, Taro Yamada:
    where the family name ends cannot be told)."""
    parts = _HONORIFIC.sub("", name.strip()).replace("　", " ").split()
    if len(parts) > 1 and _JAPANESE.search(parts[0]):
        return parts[0]
    return " ".join(parts)


def greeting(name: str) -> str:
    """「山田さん　お疲れさまです。」, or 「お疲れさまです。」 when the requester has no name."""
    addressed = addressed_as(name)
    return f"{addressed}さん　お疲れさまです。" if addressed else "お疲れさまです。"


@dataclass(frozen=True)
class ReplyTemplate:
    """What the reply editor inserts for a reply typed by hand: the greeting, room for the
    answer, the signature of whoever writes it."""

    greeting: str
    signature: str

    @property
    def head(self) -> str:
        """The greeting and a blank line: the answer is written after it."""
        return f"{self.greeting}\n\n"

    @property
    def text(self) -> str:
        return f"{self.head}\n\n{self.signature}" if self.signature else self.head
