"""Finding passages: Japanese analysis (:mod:`.tokenize`, :mod:`.synonyms`), the ranking
backends (:mod:`.backend` BM25 over words, :mod:`.ngrams` BM25 over character trigrams,
:mod:`.fusion` the two fused, :mod:`.dense` and :mod:`.embeddings` for the optional model),
the per-tenant index cache (:mod:`.index`), the search use cases (:mod:`.query`), the order
of authority and conflicts between kinds of document (:mod:`.precedence`, :mod:`.conflicts`)
and the tenant's synonyms (:mod:`.vocabulary`)."""

from ushiro.knowledge.retrieval.backend import IndexCache
from ushiro.knowledge.retrieval.conflicts import Conflict, conflicts
from ushiro.knowledge.retrieval.index import analyzer, embed_passages
from ushiro.knowledge.retrieval.query import search, search_many, warm
from ushiro.knowledge.retrieval.synonyms import SynonymSet, analyzer_for, default_pairs
from ushiro.knowledge.retrieval.tokenize import Analyzer
from ushiro.knowledge.retrieval.vocabulary import edit_synonyms, synonyms

__all__ = [
    "Analyzer", "Conflict", "IndexCache", "SynonymSet", "analyzer_for", "conflicts", "analyzer", "default_pairs", "edit_synonyms", "embed_passages",
    "search", "search_many", "synonyms", "warm",
]
