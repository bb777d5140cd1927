"""Documents (rules, policies, FAQs), Japanese search over their passages, synonyms."""

from ushiro.knowledge.choices import AddStatus, DocumentFormat, DocumentKind
from ushiro.knowledge.drafting import Drafter, DraftResult, TenantContext, drafter_for
from ushiro.knowledge.ingest import (
    add_document,
    add_file,
    add_files,
    publish_faq,
    restrict_document,
    retire_document,
    set_document_kind,
)
from ushiro.knowledge.queries import (
    counts,
    has_documents,
    list_documents,
    passage_tokens,
    synonym_state,
)
from ushiro.knowledge.retrieval import (
    Analyzer,
    Conflict,
    IndexCache,
    SynonymSet,
    analyzer,
    analyzer_for,
    conflicts,
    default_pairs,
    edit_synonyms,
    embed_passages,
    search,
    search_many,
    synonyms,
)
from ushiro.knowledge.schemas import (
    AddResult,
    DocumentIn,
    DocumentOut,
    FileOutcome,
    RetireResult,
    SearchHit,
)

__all__ = [
    "DraftResult", "Drafter", "TenantContext", "drafter_for",
    "Analyzer", "IndexCache", "SynonymSet", "analyzer_for", "default_pairs", "passage_tokens", "synonym_state",
    "AddResult", "AddStatus", "DocumentFormat", "DocumentIn", "DocumentOut", "FileOutcome",
    "RetireResult", "SearchHit", "add_document", "add_files", "analyzer", "counts",
    "edit_synonyms", "embed_passages", "has_documents", "list_documents", "publish_faq", "restrict_document", "retire_document",
    "search", "search_many", "synonyms",
    "Conflict", "DocumentKind", "add_file", "conflicts", "set_document_kind",
]
