"""Drafting answers from passages (:mod:`.drafters`: offline and model-backed drafters),
with personal data masked before anything leaves the server (:mod:`.masking`)."""

from ushiro.knowledge.drafting.drafters import Drafter, DraftResult, TenantContext, drafter_for

__all__ = ["DraftResult", "Drafter", "TenantContext", "drafter_for"]
