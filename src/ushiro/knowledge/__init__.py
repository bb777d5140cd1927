"""Documents (rules, policies, FAQs), Japanese search over their passages, synonyms."""

from ushiro.knowledge.choices import AddStatus, DocumentFormat
from ushiro.knowledge.drafters import Drafter, DraftResult, TenantContext, drafter_for
from ushiro.knowledge.queries import passage_tokens, synonym_state
from ushiro.knowledge.schemas import (
    AddResult,
    DocumentIn,
    DocumentOut,
    FileOutcome,
    RetireResult,
    SearchHit,
)
from ushiro.knowledge.search import IndexCache
from ushiro.knowledge.service import (
    add_document,
    add_files,
    analyzer,
    counts,
    edit_synonyms,
    embed_passages,
    has_documents,
    list_documents,
    restrict_document,
    retire_document,
    search,
    search_many,
    synonyms,
)
from ushiro.knowledge.synonyms import default_pairs
from ushiro.knowledge.tokenize import Analyzer

__all__ = [
    "DraftResult", "Drafter", "TenantContext", "drafter_for",
    "Analyzer", "IndexCache", "default_pairs", "passage_tokens", "synonym_state",
    "AddResult", "AddStatus", "DocumentFormat", "DocumentIn", "DocumentOut", "FileOutcome",
    "RetireResult", "SearchHit", "add_document", "add_files", "analyzer", "counts",
    "edit_synonyms", "embed_passages", "has_documents", "list_documents", "restrict_document", "retire_document",
    "search", "search_many", "synonyms",
]
