"""The tamper-evident audit log: every state change, who, what, when, before/after.

A leaf: it imports only core, so that every domain can record into it. Pages that read it
with the access layer live above identity (``ushiro.auditlog``).
"""

from ushiro.audit.actions import ACTIONS, AuditAction
from ushiro.audit.actions import label as action_label
from ushiro.audit.checkpoints import CHECKPOINT_FILE, KEY_FILE, db_heads, forget_key, lines_within
from ushiro.audit.models import AuditEvent
from ushiro.audit.queries import recent_events
from ushiro.audit.schemas import SYSTEM, Actor, VerifyReport
from ushiro.audit.service import changes, record
from ushiro.audit.verify import checkpoint as write_checkpoint
from ushiro.audit.verify import verify_instance

__all__ = ["ACTIONS", "CHECKPOINT_FILE", "KEY_FILE", "db_heads", "forget_key", "lines_within",
           "write_checkpoint", "SYSTEM", "Actor", "AuditAction", "AuditEvent", "VerifyReport",
           "action_label", "changes", "recent_events", "record", "verify_instance"]
