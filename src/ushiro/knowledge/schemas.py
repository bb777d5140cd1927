"""Shapes handed to and returned by the knowledge services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ushiro.identity import Role
from ushiro.knowledge.choices import AddStatus


@dataclass(frozen=True)
class DocumentIn:
    """One file to add. ``name`` (the file name without its suffix, unless given) says which
    document a file is a new version of. ``min_role``/``departments`` restrict who may
    search it; ``None`` keeps an existing document's restriction (new documents: open)."""

    filename: str
    data: bytes
    title: str | None = None
    name: str | None = None
    effective_date: date | None = None
    min_role: Role | None = None
    departments: list[str] | None = None


@dataclass(frozen=True)
class AddResult:
    document_id: int
    name: str
    title: str
    version: int
    status: AddStatus
    passages: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"document": self.title, "name": self.name, "version": self.version,
                "status": self.status.value, "passages": self.passages, "sha256": self.sha256}


@dataclass(frozen=True)
class DocMeta:
    """What search needs to know about a document without asking the database again."""

    id: int
    name: str
    title: str
    version: int
    min_role: Role | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def restricted(self) -> bool:
        return self.min_role is not None or bool(self.department_ids)


@dataclass(frozen=True)
class SearchHit:
    passage_id: int
    document: str
    version: int
    section: str
    context: str
    page: int | None
    score: float
    text: str

    def as_json(self) -> dict[str, Any]:
        """The stable command-line shape (DESIGN §5) plus the version."""
        return {"document": self.document, "section": self.section,
                "score": round(self.score, 4), "text": self.text, "version": self.version}


@dataclass(frozen=True)
class DocumentOut:
    id: int
    name: str
    title: str
    version: int
    effective_date: date | None
    source_filename: str
    passages: int
    min_role: str | None
    departments: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "document": self.title,
                "version": self.version,
                "effective_date": self.effective_date.isoformat() if self.effective_date
                else None, "source_filename": self.source_filename,
                "passages": self.passages, "restrict_role": self.min_role,
                "restrict_departments": self.departments}
