"""A tenant's built index (:class:`TenantIndex`) and its persisted form: the parts
:mod:`.persist` saves and loads, the document metadata as JSON, and its size in bytes."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from ushiro.identity import Role
from ushiro.knowledge.choices import DocumentKind
from ushiro.knowledge.retrieval import dense, embeddings
from ushiro.knowledge.retrieval.backend import BM25Backend
from ushiro.knowledge.retrieval.footprint import footprint
from ushiro.knowledge.retrieval.fusion import LexicalSearch
from ushiro.knowledge.retrieval.ngrams import NgramBackend
from ushiro.knowledge.retrieval.shown import ShownPassages
from ushiro.knowledge.retrieval.tokenize import Analyzer
from ushiro.knowledge.schemas import DocMeta


@dataclass(frozen=True)
class TenantIndex:
    analyzer: Analyzer
    lexical: LexicalSearch  # word BM25 fused with character trigram BM25
    documents: dict[int, DocMeta]
    passages: ShownPassages  # what a hit shows: (document_id, section, context, page, text)
    hybrid: dense.HybridSearch | None = None  # with a model configured
    # Holds reference material or commentary: search orders by authority (precedence.py).
    tiered: bool = False


# The parts of a persisted index and their classes (the only classes a manifest may name).
# Changing what a part holds: bump persist.FORMAT.
CLASSES: dict[str, type] = {"words": BM25Backend, "chars": NgramBackend,
                            "questions": NgramBackend, "shown": ShownPassages,
                            "dense": dense.DenseBackend}


def index_bytes(index: TenantIndex) -> int:
    """What the index costs this process (the rule of :mod:`.footprint`). An analyser is
    charged to the first index measured with it and to none after: shared between tenants
    with the same synonyms, it is one table in memory however many indexes hold it (a
    tenant's own analyser is new with each build or load, and always charged)."""
    return _analyzer_bytes(index.analyzer) + footprint((
        index.lexical, index.documents, index.passages,
        index.hybrid.dense if index.hybrid is not None else None))


_charged: weakref.WeakSet[Analyzer] = weakref.WeakSet()


def _analyzer_bytes(analyzer: Analyzer) -> int:
    if analyzer in _charged:
        return 0
    _charged.add(analyzer)
    return footprint(analyzer)


def to_parts(index: TenantIndex) -> tuple[dict[str, object | None], dict[str, Any]]:
    """(parts, extra) as :func:`.persist.save` takes them."""
    parts: dict[str, object | None] = {
        "words": index.lexical.words, "chars": index.lexical.chars,
        "questions": index.lexical.questions, "shown": index.passages,
        "dense": index.hybrid.dense if index.hybrid is not None else None}
    extra = {"tiered": index.tiered,
             "documents": [_doc_json(d) for d in index.documents.values()]}
    return parts, extra


def from_parts(parts: dict[str, Any], extra: dict[str, Any], analyzer: Analyzer,
               embedder: embeddings.Embedder | None) -> TenantIndex:
    """The index again from what :func:`.persist.load` read (the analyser and the model are
    the process's own)."""
    lexical = LexicalSearch(parts["words"], parts["chars"], parts.get("questions"))
    hybrid = None
    if embedder is not None:
        if parts.get("dense") is None:
            raise ValueError("the persisted index has no vectors")
        hybrid = dense.HybridSearch(lexical, parts["dense"], embedder)
    documents = {d.id: d for d in map(_doc_from, extra["documents"])}
    return TenantIndex(analyzer, lexical, documents, parts["shown"], hybrid,
                       bool(extra["tiered"]))


def _doc_json(doc: DocMeta) -> dict[str, Any]:
    return {"id": doc.id, "name": doc.name, "title": doc.title, "version": doc.version,
            "min_role": None if doc.min_role is None else doc.min_role.value,
            "departments": sorted(doc.department_ids), "kind": doc.kind.value}


def _doc_from(data: dict[str, Any]) -> DocMeta:
    return DocMeta(id=int(data["id"]), name=str(data["name"]), title=str(data["title"]),
                   version=int(data["version"]),
                   min_role=None if data["min_role"] is None else Role(data["min_role"]),
                   department_ids=frozenset(int(d) for d in data["departments"]),
                   kind=DocumentKind(data["kind"]))
