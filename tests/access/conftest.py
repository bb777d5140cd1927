"""Access tests create many users: argon2 at a test strength keeps the suite fast while
still hashing and verifying for real."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from ushiro.core import security


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
