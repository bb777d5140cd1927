"""Base for statuses and kinds: stable string values, translatable labels."""

from __future__ import annotations

from enum import StrEnum
from collections.abc import Callable
from typing import ClassVar, TypeVar

from ushiro.core.i18n import _


class Choice(StrEnum):
    """Subclasses set ``__labels__`` after the class body via :func:`with_labels`."""

    __labels__: ClassVar[dict[str, str]]

    @property
    def label(self) -> str:
        return _(type(self).__labels__.get(self.value, self.value))

    @classmethod
    def options(cls) -> list[tuple[str, str]]:
        return [(member.value, member.label) for member in cls]

    @classmethod
    def parse(cls, value: str) -> Choice | None:
        try:
            return cls(value)
        except ValueError:
            return None


E = TypeVar("E", bound=type[Choice])


def with_labels(labels: dict[str, str]) -> Callable[[E], E]:
    def apply(enum_cls: E) -> E:
        enum_cls.__labels__ = labels
        return enum_cls

    return apply
