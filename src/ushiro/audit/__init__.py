"""The tamper-evident audit log: every state change, who, what, when, before/after."""

from ushiro.audit.schemas import SYSTEM, Actor, VerifyReport
from ushiro.audit.service import changes, record

__all__ = ["SYSTEM", "Actor", "VerifyReport", "changes", "record"]
