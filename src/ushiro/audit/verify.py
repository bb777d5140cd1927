"""Verifying the audit chains against themselves, the audit key and the checkpoints.

Per chain, in seq order:

- every seq follows the last one (``missing``), links to its hash (``broken_link``);
- its hash is the keyed HMAC (hash version 2) or, for events written before the key
  existed, the plain SHA-256 (version 1). A version 1 event is accepted only before the
  chain's first keyed event, before the first version 2 checkpoint and not after the
  last version 1 checkpoint (the one recorded when the chain was first checkpointed):
  otherwise someone without the key recomputed it (``unkeyed``). Neither: ``altered``;
- the head row names the last event (``head_mismatch``).

Against the checkpoint file: a checkpointed seq must hold the checkpointed hash
(``checkpoint_mismatch``), must still exist (``truncated``: the newest events were
deleted and the head set back), and a checkpointed chain must still exist
(``chain_missing``). A line whose HMAC fails is ``checkpoint_invalid``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ushiro.audit import checkpoints, repository
from ushiro.audit.checkpoints import KEYED, LEGACY, Checkpoint
from ushiro.audit.models import AuditEvent
from ushiro.audit.schemas import Problem, VerifyReport
from ushiro.audit.service import GENESIS, keyed_digest, legacy_digest, stored
from ushiro.core.runtime import Runtime

# seq above any real one: "no limit"
_NO_LIMIT = 1 << 62


@dataclass
class _Chain:
    seq: int = 0
    hash: str = GENESIS
    keyed_seen: bool = False
    first_keyed_point: int = _NO_LIMIT
    last_legacy_point: int | None = None
    points: dict[int, str] = field(default_factory=dict)


def _chains(points: list[Checkpoint], only: int | None) -> dict[int, _Chain]:
    chains: dict[int, _Chain] = defaultdict(_Chain)
    for p in points:
        if only is not None and p.chain != only:
            continue
        c = chains[p.chain]
        c.points[p.seq] = p.hash
        if p.version == KEYED:
            c.first_keyed_point = min(c.first_keyed_point, p.seq)
        elif p.version == LEGACY:
            c.last_legacy_point = max(c.last_legacy_point or 0, p.seq)
    return chains


def _legacy_allowed(c: _Chain, seq: int) -> bool:
    limit = _NO_LIMIT if c.last_legacy_point is None else c.last_legacy_point
    return not c.keyed_seen and seq < c.first_keyed_point and seq <= limit


def _check_event(key: bytes, c: _Chain, event: AuditEvent, problems: list[Problem]) -> None:
    if event.seq != c.seq + 1:
        problems.append(Problem(event.chain, event.seq, "missing",
                                f"連番 {c.seq + 1}〜{event.seq - 1} のイベントが欠落しています"))
    elif event.prev_hash != c.hash:
        problems.append(Problem(event.chain, event.seq, "broken_link",
                                "直前のイベントとの連結が一致しません(挿入または削除)"))
    content = stored(event)
    if keyed_digest(key, content) == event.hash:
        c.keyed_seen = True
    elif legacy_digest(content) != event.hash:
        problems.append(Problem(event.chain, event.seq, "altered",
                                "内容がハッシュと一致しません(改ざん)"))
    elif not _legacy_allowed(c, event.seq):
        problems.append(Problem(event.chain, event.seq, "unkeyed",
                                "鍵なしのハッシュで書き直されています(監査鍵を知らない者による再計算)"))
    expected = c.points.get(event.seq)
    if expected is not None and expected != event.hash:
        problems.append(Problem(event.chain, event.seq, "checkpoint_mismatch",
                                "チェックポイントに記録したハッシュと一致しません(書き換え)"))
    c.seq, c.hash = event.seq, event.hash


def verify(session: Session, key: bytes, chain: int | None = None,
           points: list[Checkpoint] | None = None,
           bad_lines: list[tuple[int, str]] | None = None) -> VerifyReport:
    """Recompute every chain, or only ``chain`` (a tenant's, for its admin: other tenants'
    event counts and problems are none of their business)."""
    report = VerifyReport()
    known = _chains(points or [], chain)
    seen: set[int] = set()
    for event in repository.iter_events(session, chain):
        report.events += 1
        seen.add(event.chain)
        _check_event(key, known[event.chain], event, report.problems)
    report.tails = {n: (c.seq, c.hash, KEYED if c.keyed_seen else LEGACY)
                    for n, c in known.items() if c.seq}
    _check_heads(session, chain, known, report)
    _check_points(known, seen, report)
    for number, reason in bad_lines or []:
        report.problems.append(Problem(-1, number, "checkpoint_invalid",
                                       f"チェックポイントファイルの {number} 行目: {reason}"))
    return report


def _check_heads(session: Session, chain: int | None, known: dict[int, _Chain],
                 report: VerifyReport) -> None:
    heads = repository.heads(session, chain)
    report.chains = len(heads)
    for number, head in heads.items():
        c = known[number]
        if (head.seq, head.hash) != (c.seq, c.hash):
            report.problems.append(Problem(number, head.seq, "head_mismatch",
                                           f"末尾のイベント(連番 {c.seq + 1}〜{head.seq})が削除されています"))


def _check_points(known: dict[int, _Chain], seen: set[int], report: VerifyReport) -> None:
    for number, c in known.items():
        if not c.points:
            continue
        newest = max(c.points)
        if number not in seen:
            report.problems.append(Problem(number, newest, "chain_missing",
                                           f"チェックポイント(連番 {newest})のあるチェーンが丸ごと削除されています"))
        elif newest > c.seq:
            report.problems.append(Problem(number, newest, "truncated",
                                           f"チェックポイントの連番 {newest} より後が削除されています"
                                           f"(現在の末尾は連番 {c.seq})"))


def verify_instance(rt: Runtime, chain: int | None = None) -> VerifyReport:
    """:func:`verify` with this data directory's key and checkpoint file. A tenant's
    admin (``chain`` given) is not told about unreadable lines: the file is the operator's."""
    points, bad = checkpoints.read(rt.settings)
    with rt.db.reading() as session:
        return verify(session, checkpoints.audit_key(rt.settings), chain, points,
                      bad if chain is None else [])


def checkpoint(rt: Runtime, *, new_chains_only: bool = False) -> tuple[VerifyReport, int]:
    """Append the current head of every chain (or of the chains never checkpointed) to the
    checkpoint file, if and only if every chain verifies: a checkpoint vouches for what it
    records. Returns the report and the number of lines written."""
    report = verify_instance(rt)
    if not report.ok:
        return report, 0
    done = {p.chain for p in checkpoints.read(rt.settings)[0]} if new_chains_only else set()
    heads = [Checkpoint(chain, seq, digest, version)
             for chain, (seq, digest, version) in sorted(report.tails.items())
             if chain not in done]
    checkpoints.append(rt.settings, heads)
    return report, len(heads)
