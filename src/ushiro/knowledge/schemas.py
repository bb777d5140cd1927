"""Shapes handed to and returned by the knowledge services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ushiro.core.errors import UshiroError, invalid
from ushiro.identity import Role
from ushiro.knowledge.choices import AddStatus, DocumentKind


def parse_kind(value: str) -> DocumentKind:
    """A document kind as typed on the command line or sent by a form."""
    kind = DocumentKind.parse(value.strip().lower())
    if kind is None:
        choices = "、".join(f"{k.value}（{_JA_KINDS[k]}）" for k in DocumentKind)
        raise invalid("kind", f"文書の種類「{value}」は指定できません。{choices} の"
                      "いずれかを指定してください。")
    return kind  # type: ignore[return-value]


# For the error message, which is Japanese whatever the interface language (as all are).
_JA_KINDS = {DocumentKind.COMPANY: "社内規程", DocumentKind.REFERENCE: "参考資料",
             DocumentKind.FAQ: "FAQ"}


@dataclass(frozen=True)
class DocumentIn:
    """One file to add. ``name`` (the file name without its suffix, unless given) says which
    document a file is a new version of. ``min_role``/``departments`` restrict who may
    search it; ``None`` keeps an existing document's restriction (new documents: open).
    ``kind`` likewise: ``None`` keeps an existing document's kind (new documents: company)."""

    filename: str
    data: bytes
    title: str | None = None
    name: str | None = None
    effective_date: date | None = None
    min_role: Role | None = None
    departments: list[str] | None = None
    kind: DocumentKind | None = None


@dataclass(frozen=True)
class AddResult:
    document_id: int
    name: str
    title: str
    version: int
    status: AddStatus
    passages: int
    sha256: str
    kind: DocumentKind = DocumentKind.COMPANY

    def as_dict(self) -> dict[str, Any]:
        return {"document": self.title, "name": self.name, "version": self.version,
                "status": self.status.value, "passages": self.passages, "sha256": self.sha256,
                "kind": self.kind.value}


@dataclass(frozen=True)
class DocMeta:
    """What search needs to know about a document without asking the database again."""

    id: int
    name: str
    title: str
    version: int
    min_role: Role | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)
    kind: DocumentKind = DocumentKind.COMPANY

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
    # With dense retrieval on, ``score`` is the fused (RRF) score, ``lexical_score`` the BM25
    # score and ``dense_score`` the cosine (0.0: not among that ranking's candidates); both
    # None when ``score`` is the BM25 score itself.
    lexical_score: float | None = None
    dense_score: float | None = None
    kind: str = "company"

    @property
    def bm25(self) -> float:
        """The BM25 score, the scale that score thresholds (the drafters') are set on."""
        return self.score if self.lexical_score is None else self.lexical_score

    def as_json(self) -> dict[str, Any]:
        """The stable command-line shape (DESIGN §5) plus the version."""
        return {"document": self.document, "section": self.section,
                "score": round(self.score, 4), "text": self.text, "version": self.version,
                "kind": self.kind}


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
    kind: DocumentKind = DocumentKind.COMPANY

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "document": self.title,
                "kind": self.kind.value, "version": self.version,
                "effective_date": self.effective_date.isoformat() if self.effective_date
                else None, "source_filename": self.source_filename,
                "passages": self.passages, "restrict_role": self.min_role,
                "restrict_departments": self.departments}


@dataclass(frozen=True)
class FileOutcome:
    """What became of one uploaded file: added (``results``: one per document it became,
    several for a file holding several rule sets) or refused (``error``)."""

    filename: str
    results: list[AddResult] = field(default_factory=list)
    error: UshiroError | None = None


@dataclass(frozen=True)
class RetireResult:
    document_id: int
    name: str
    title: str
    version: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.document_id, "name": self.name, "document": self.title,
                "version": self.version, "status": "retired"}


@dataclass(frozen=True)
class KnowledgeOverview:
    """The admin's knowledge page: current documents, retired ones, the form's choices."""

    documents: list[DocumentOut]
    retired: list[tuple[int, str, str, int]]  # id, name, title, last version
    departments: list[str]
    totals: dict[str, int]


@dataclass(frozen=True)
class VersionOut:
    version: int
    effective_date: date | None
    source_filename: str
    format: str
    size: int
    passages: int
    is_current: bool
    created_at: datetime
    uploaded_by: str


@dataclass(frozen=True)
class PassageOut:
    ordinal: int
    section: str
    context: str
    page: int | None
    text: str


@dataclass(frozen=True)
class DocumentDetail:
    """One document for its admin page: versions (newest first) and the current version's
    passages as the splitter cut them (``passages`` empty when it is retired)."""

    id: int
    name: str
    title: str
    min_role: str | None
    departments: list[str]
    versions: list[VersionOut]
    passages: list[PassageOut]
    retired_by: str | None = None
    retired_at: datetime | None = None
    choosable_departments: list[str] = field(default_factory=list)  # for a restriction
    kind: DocumentKind = DocumentKind.COMPANY

    @property
    def current(self) -> VersionOut | None:
        return next((v for v in self.versions if v.is_current), None)
