"""Writing the audit chain.

``record`` is called by every domain service inside its own transaction, so the event
commits or rolls back together with the change it describes. An event's hash is the
HMAC-SHA256, under the audit key kept outside the database (audit/checkpoints.py), of its
content and the previous hash; events written before keys existed carry a plain SHA-256
of the same content and still verify (see verify.py for the rules).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from ushiro.audit import actions, checkpoints, repository
from ushiro.audit.models import AuditEvent
from ushiro.audit.schemas import Actor
from ushiro.core.clock import as_utc, now

GENESIS = "0" * 64
_PENDING = "audit_pending_heads"

_HASHED = ("chain", "seq", "at", "actor_id", "actor", "action", "object_type", "object_id",
           "before", "after", "prev_hash")


def _canonical(event: dict[str, Any]) -> bytes:
    payload = {name: event[name] for name in _HASHED if name not in ("at", "prev_hash")}
    payload["at"] = as_utc(event["at"]).isoformat(timespec="microseconds")
    payload["prev"] = event["prev_hash"]
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode()


def legacy_digest(event: dict[str, Any]) -> str:
    """The unkeyed hash of events written before the audit key (hash version 1)."""
    return hashlib.sha256(_canonical(event)).hexdigest()


def keyed_digest(key: bytes, event: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(event), hashlib.sha256).hexdigest()


def stored(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _HASHED}


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Round-trip so what is hashed equals what the database gives back later.
    return None if value is None else json.loads(json.dumps(value, ensure_ascii=False, default=str))


def record(
    session: Session,
    *,
    tenant_id: int | None,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    actions.action(action)  # a closed vocabulary: an unregistered name is a bug, caught here
    settings = checkpoints.session_settings(session)
    chain = tenant_id or 0
    head = repository.lock_head(session, chain)
    if head is None:
        repository.add_head(session, chain, GENESIS)
        head = (0, GENESIS)
    event: dict[str, Any] = {
        "chain": chain, "seq": head[0] + 1, "at": now(), "actor_id": actor.user_id,
        "actor": actor.label, "action": action, "object_type": object_type,
        "object_id": str(object_id), "before": _jsonable(before), "after": _jsonable(after),
        "prev_hash": head[1],
    }
    event["hash"] = keyed_digest(checkpoints.audit_key(settings), event)
    repository.append(session, event)
    session.info.setdefault(_PENDING, {})[chain] = (event["seq"], event["hash"])


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    heads = session.info.pop(_PENDING, None)
    if heads:
        checkpoints.committed(checkpoints.session_settings(session), heads)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value differs, for compact before/after records."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
