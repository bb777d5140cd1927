"""Base for statuses and kinds: stable string values, translatable labels."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from ushiro.core.i18n import _

_LABELS: dict[type, dict[str, str]] = {}


class Choice(StrEnum):
    """Subclasses register their English labels with :func:`with_labels`."""

    @property
    def label(self) -> str:
        value = str(self.value)
        return _(_LABELS.get(type(self), {}).get(value, value))

    @classmethod
    def options(cls) -> list[tuple[str, str]]:
        return [(str(member.value), member.label) for member in cls]

    @classmethod
    def parse(cls, value: str) -> Choice | None:
        try:
            return cls(value)
        except ValueError:
            return None


E = TypeVar("E", bound=type[Choice])


def with_labels(labels: dict[str, str]) -> Callable[[E], E]:
    def apply(enum_cls: E) -> E:
        _LABELS[enum_cls] = labels
        return enum_cls

    return apply
