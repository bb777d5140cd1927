"""Documents, their versions, the passages search returns, synonyms and the index generation."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ushiro.core.clock import now
from ushiro.core.db import Base, UTCDateTime


class Document(Base):
    """A rule book, policy or FAQ of one tenant (就業規則, 旅費規程 …), across its versions.

    ``name`` identifies the document when it is added again (a new version); ``title`` is
    what citations show. ``min_role`` and the department rows restrict who may search it.
    ``kind`` (a :class:`~ushiro.knowledge.choices.DocumentKind`) says whether it is one of
    the company's own rules, reference material or an FAQ: search ranks by it.
    """

    __tablename__ = "kb_documents"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    min_role: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="company", server_default="company")
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class DocumentDepartment(Base):
    """A department whose members may search a restricted document."""

    __tablename__ = "kb_document_departments"
    __table_args__ = (UniqueConstraint("document_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"),
                                             index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))


class DocumentVersion(Base):
    """One ingested file. Only the current version is searched; older ones stay citable."""

    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    effective_date: Mapped[date | None] = mapped_column(Date)
    source_filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    passage_count: Mapped[int] = mapped_column(Integer, default=0)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Passage(Base):
    """A searchable piece of a version: an article, a Q&A item or a heading's section.

    ``text`` is the original wording (for display and citations); ``tokens`` is its
    analysed form (space-joined, normalised, synonyms applied) that the index is built from.
    """

    __tablename__ = "kb_passages"
    __table_args__ = (Index("ix_kb_passages_version", "version_id", "ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("kb_versions.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(300), default="")
    context: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[str] = mapped_column(Text)


class Synonym(Base):
    """A tenant's change to the shipped synonym list (data/synonyms.tsv, read from the
    package, never stored): ``op`` ``add`` — ``variant`` (有給) is read as ``canonical``
    (年次有給休暇) though the list does not say so; ``remove`` — a shipped pair the tenant
    took out. A tenant that changed nothing has no rows (retrieval/synonyms.py)."""

    __tablename__ = "kb_synonyms"
    __table_args__ = (UniqueConstraint("tenant_id", "canonical", "variant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           index=True)
    canonical: Mapped[str] = mapped_column(String(100))
    variant: Mapped[str] = mapped_column(String(100))
    op: Mapped[str] = mapped_column(String(6), default="add", server_default="add")


class KnowledgeState(Base):
    """One row per tenant. ``generation`` is bumped (and ``stamp`` renewed) in every
    transaction that changes what search sees, so each process knows when to rebuild its
    in-memory index; ``synonyms_seeded`` records that the state was set up (its stamp is
    valid; the name is from when the shipped synonyms were copied in); ``synonyms_digest``
    names the synonym set the current passages' tokens were analysed with, so that a
    release with a changed shipped list re-analyses them once."""

    __tablename__ = "kb_state"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    stamp: Mapped[str] = mapped_column(String(32), default="")
    synonyms_seeded: Mapped[bool] = mapped_column(Boolean, default=False)
    synonyms_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class PassageVector(Base):
    """A passage's embedding by one model (``model``: the embedder's name), for dense
    retrieval. Derived data, like an index: computed for the passages that lack one when an
    index is built, then read by every process instead of embedding again. A passage's
    text never changes, so a stored vector stays valid as long as its model."""

    __tablename__ = "kb_passage_vectors"
    __table_args__ = (Index("ix_kb_passage_vectors_tenant_model", "tenant_id", "model"),)

    passage_id: Mapped[int] = mapped_column(ForeignKey("kb_passages.id", ondelete="CASCADE"),
                                            primary_key=True, autoincrement=False)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    dimension: Mapped[int] = mapped_column(Integer)
    # base64 of little-endian float32 (see knowledge.dense.encode_vector)
    vector: Mapped[str] = mapped_column(Text)
