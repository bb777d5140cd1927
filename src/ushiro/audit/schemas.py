"""What callers hand to the audit log and what verification reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, or a named system process (mail poller, CLI)."""

    user_id: int | None
    label: str


SYSTEM = Actor(None, "system")


@dataclass
class Problem:
    chain: int
    seq: int
    kind: str  # see audit/verify.py
    message: str


@dataclass
class VerifyReport:
    events: int = 0
    chains: int = 0
    problems: list[Problem] = field(default_factory=list)
    # chain → (last seq, its hash, hash version), as verified; not part of the report
    tails: dict[int, tuple[int, str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "chains": self.chains,
            "problems": [p.__dict__ for p in self.problems],
        }
