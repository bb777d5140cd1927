"""The audit log as administrators read it: a read-only page above identity and audit.

audit itself is a leaf (record, verify, the actor type) that every domain writes into;
reading it needs the access layer (only a tenant's admin, only its own chain), which lives
in identity, above audit. So the page lives here, above both.
"""

from ushiro.auditlog.queries import tenant_log

__all__ = ["tenant_log"]
