"""Documents (rules, policies, FAQs), Japanese search over their passages, synonyms."""

from ushiro.knowledge.choices import AddStatus, DocumentFormat
from ushiro.knowledge.schemas import AddResult, DocumentIn, DocumentOut, SearchHit
from ushiro.knowledge.service import (
    add_document,
    counts,
    edit_synonyms,
    list_documents,
    search,
    search_many,
    synonyms,
)

__all__ = [
    "AddResult", "AddStatus", "DocumentFormat", "DocumentIn", "DocumentOut", "SearchHit",
    "add_document", "counts", "edit_synonyms", "list_documents", "search", "search_many",
    "synonyms",
]
