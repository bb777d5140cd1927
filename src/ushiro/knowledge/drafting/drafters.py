"""Reply drafts from retrieved passages, with citations, or an honest "a person will answer".

The contract every drafter keeps (:class:`Drafter`):

* **Input**: ``question``, the request text exactly as the requester wrote it, which is
  *untrusted* (it may contain instructions aimed at a model, personal data, anything);
  ``passages``, the :class:`~ushiro.knowledge.schemas.SearchHit` list from knowledge search,
  best first, already filtered to what the requester may read; ``context``, the
  :class:`TenantContext` (the tenant's user names for masking, its analyser for synonyms,
  the requester's name, the signature, the team that answers).
* **Output**: a :class:`DraftResult`. ``citations`` name only passages that were given
  (never invented ones), in the order the answer relies on them. ``abstained`` is True when
  the passages give no good basis for an answer (none of them is about the question's
  topic, or none holds what was asked); the ``answer`` is then a holding reply
  saying which team will answer, and ``citations`` is empty. ``reason`` says why a drafter
  abstained or fell back (``None`` for a plain answer).
* **Shape of an answer** (the internal register of a back office, not customer service):
  「{requester}さん　お疲れさまです。」 (「お疲れさまです。」 without a name); then the answer
  to what was asked in one or two sentences (the days, the amount, the deadline, the
  condition, from the line of the clause that holds it); then the basis (document,
  article and caption), the relevant lines of the clause and the conditions it attaches;
  the signature last, when there is one. A draft resting only on reference material
  (``SearchHit.kind == "reference"``) says so. A drafter never states as the rule a line
  of a table of contents, a template blank or commentary (:mod:`.facts`).
* A draft is never lost: a drafter that depends on a network service falls back to the
  offline drafter and says so in ``reason``. Nothing leaves the process unmasked (see
  :mod:`ushiro.knowledge.drafting.masking`).

Built-ins: :class:`~.offline.OfflineDrafter` (default: picks the fact from the clause and
writes the answer around it) and :class:`~.llm.LlmDrafter` (an OpenAI-compatible
chat-completions endpoint, checked against the passages). :func:`drafter_for` picks one
from the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ushiro.core.settings import Settings
from ushiro.knowledge.retrieval.tokenize import Analyzer
from ushiro.knowledge.schemas import SearchHit

GREETING = "お疲れさまです。"
CLOSING = "ご不明な点があれば、このままご返信ください。"
DEFAULT_TEAM = "担当部署"
REFERENCE_ONLY = "社内規程に定めがないため、{document}を参考としてご案内します。"

# Reasons (the first word of DraftResult.reason; details may follow after ": ").
NO_PASSAGES = "no_passages"
WEAK_MATCH = "weak_match"
OFF_TOPIC = "off_topic"
LLM_DECLINED = "llm_declined"
LLM_NO_CITATIONS = "llm_no_citations"
LLM_UNAVAILABLE = "llm_unavailable"
LLM_UNSUPPORTED = "llm_unsupported"


@dataclass(frozen=True)
class Citation:
    document: str
    version: int
    section: str
    passage_id: int

    @classmethod
    def of(cls, hit: SearchHit) -> Citation:
        return cls(hit.document, hit.version, hit.section, hit.passage_id)

    @property
    def label(self) -> str:
        return f"{self.document} {self.section}(第{self.version}版)"


@dataclass(frozen=True)
class DraftResult:
    answer: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class TenantContext:
    """What a drafter may know about the tenant. ``user_names`` are full names
    ("山田 太郎") masked before anything is sent out; ``analyzer`` carries the tenant's
    synonyms, from :func:`ushiro.knowledge.analyzer` (None: the shipped list, for callers
    without a tenant). ``requester_name`` opens the reply (「山田さん　お疲れさまです。」),
    ``signature`` closes it; ``team`` is who answers when the drafter holds back (the
    request's category's department; "" → 「担当部署」)."""

    user_names: Sequence[str] = ()
    tenant_name: str = ""
    analyzer: Analyzer | None = None
    requester_name: str = ""
    signature: str = ""
    team: str = ""


class Drafter(Protocol):
    """See the module docstring for the contract."""

    def draft(self, question: str, passages: Sequence[SearchHit],
              context: TenantContext) -> DraftResult: ...


def greeting(context: TenantContext | None) -> str:
    name = (context.requester_name.strip() if context else "")
    return f"{name}さん　{GREETING}" if name else GREETING


def signed(parts: list[str], context: TenantContext | None) -> str:
    """The reply's paragraphs joined, the signature (if any) last."""
    signature = context.signature.strip() if context else ""
    return "\n\n".join([*parts, signature] if signature else parts)


def holding_reply(context: TenantContext | None = None) -> str:
    """The reply when there is no basis for an answer: who will answer, and that they will."""
    team = (context.team.strip() if context else "") or DEFAULT_TEAM
    return signed([greeting(context),
                   f"お問い合わせの件は、{team}で内容を確認のうえ、あらためてご回答します。"
                   "恐れ入りますが、今しばらくお待ちください。"], context)


ABSTAIN_MESSAGE = holding_reply()


def abstain(reason: str, context: TenantContext | None = None) -> DraftResult:
    return DraftResult(holding_reply(context), [], True, reason)


def drafter_for(settings: Settings) -> Drafter:
    """The language-model drafter when an endpoint is configured, else the offline one."""
    from ushiro.knowledge.drafting.llm import LlmDrafter
    from ushiro.knowledge.drafting.offline import OfflineDrafter

    if settings.llm_base_url:
        return LlmDrafter(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                          settings.llm_timeout_seconds)
    return OfflineDrafter()

