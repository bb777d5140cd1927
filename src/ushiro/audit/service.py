"""Writing and verifying the audit chain.

``record`` is called by every domain service inside its own transaction, so the event
commits or rolls back together with the change it describes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.orm import Session

from ushiro.audit import actions, repository
from ushiro.audit.models import AuditEvent
from ushiro.audit.schemas import Actor, Problem, VerifyReport
from ushiro.core.clock import as_utc, now

GENESIS = "0" * 64


_HASHED = ("chain", "seq", "at", "actor_id", "actor", "action", "object_type", "object_id",
           "before", "after", "prev_hash")


def _digest(event: dict[str, Any]) -> str:
    payload = {name: event[name] for name in _HASHED if name not in ("at", "prev_hash")}
    payload["at"] = as_utc(event["at"]).isoformat(timespec="microseconds")
    payload["prev"] = event["prev_hash"]
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(event: AuditEvent) -> dict[str, Any]:
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
    event["hash"] = _digest(event)
    repository.append(session, event)


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value differs, for compact before/after records."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def verify(session: Session, chain: int | None = None) -> VerifyReport:
    """Recompute every chain, or only ``chain`` (a tenant's, for its admin: other tenants'
    event counts and problems are none of their business); report altered, inserted,
    reordered or deleted events."""
    report = VerifyReport()
    last: dict[int, tuple[int, str]] = {}
    for event in repository.iter_events(session, chain):
        report.events += 1
        seq, prev = last.get(event.chain, (0, GENESIS))
        if event.seq != seq + 1:
            report.problems.append(Problem(event.chain, event.seq, "missing",
                                           f"連番 {seq + 1}〜{event.seq - 1} のイベントが欠落しています"))
        elif event.prev_hash != prev:
            report.problems.append(Problem(event.chain, event.seq, "broken_link",
                                           "直前のイベントとの連結が一致しません(挿入または削除)"))
        if _digest(_stored(event)) != event.hash:
            report.problems.append(Problem(event.chain, event.seq, "altered",
                                           "内容がハッシュと一致しません(改ざん)"))
        last[event.chain] = (event.seq, event.hash)
    heads = repository.heads(session, chain)
    report.chains = len(heads)
    for chain, head in heads.items():
        seq, digest = last.get(chain, (0, GENESIS))
        if (head.seq, head.hash) != (seq, digest):
            report.problems.append(Problem(chain, head.seq, "head_mismatch",
                                           f"末尾のイベント(連番 {seq + 1}〜{head.seq})が削除されています"))
    return report

