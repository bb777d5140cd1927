"""Drafting answers from passages: the contract and shared shapes (:mod:`.drafters`), the
offline drafter (:mod:`.offline`, reading clauses with :mod:`.facts` and writing with
:mod:`.wording`), the model-backed one (:mod:`.llm`), with personal data masked before
anything leaves the server (:mod:`.masking`)."""

from ushiro.knowledge.drafting.drafters import Drafter, DraftResult, TenantContext, drafter_for

__all__ = ["DraftResult", "Drafter", "TenantContext", "drafter_for"]
