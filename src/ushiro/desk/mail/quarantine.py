"""Mail that could not become a request, kept whole with the reason until an admin
downloads, releases (imports again) or deletes it. Nothing a sender writes can stop the
mailbox: the mail is held here and intake goes on with the next one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser

from ushiro import audit
from ushiro.audit import Actor
from ushiro.core.errors import not_found
from ushiro.core.runtime import Runtime
from ushiro.core.text import one_line
from ushiro.desk.mail import repository as mail_repository
from ushiro.desk.mail.parse import decode_header_value
from ushiro.desk.models import MailQuarantine
from ushiro.identity import Principal, Role, require

# Headers only (no body parse, so no recursion), and only the start of the mail.
_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Quarantined:
    """What :func:`hold` kept."""

    id: int
    code: str
    reason: str


@dataclass(frozen=True)
class QuarantineOut:
    id: int
    created_at: datetime
    sender: str
    subject: str
    reason: str
    code: str
    source: str
    size: int


def _headers(raw: bytes) -> tuple[str, str]:
    """Sender and subject for the list, as far as they can be read at all."""
    try:
        head = BytesHeaderParser().parsebytes(raw[:_HEADER_BYTES])
        sender = one_line(decode_header_value(head.get("From")), 254)
        subject = one_line(decode_header_value(head.get("Subject")), 300)
    except Exception:  # noqa: BLE001 - a header we cannot read is shown blank, not fatal
        return "", ""
    if "<" in sender and sender.endswith(">"):
        sender = sender.rsplit("<", 1)[1].rstrip(">")
    return sender, subject


def hold(rt: Runtime, tenant_id: int, raw: bytes, *, code: str, reason: str,
         source: str, actor: Actor) -> Quarantined:
    """Keep ``raw`` with the reason. The same mail held again (an import run twice) is
    the entry already there, with the newer reason."""
    digest = rt.files.put(raw)
    sender, subject = _headers(raw)
    with rt.db.transaction() as session:
        existing = mail_repository.quarantined_by_digest(session, tenant_id, digest)
        if existing is not None:
            existing.code, existing.reason = code, reason
            return Quarantined(existing.id, code, reason)
        row = MailQuarantine(tenant_id=tenant_id, sha256=digest, size=len(raw), sender=sender,
                             subject=subject, reason=reason, code=code, source=source)
        session.add(row)
        session.flush()
        audit.record(session, tenant_id=tenant_id, actor=actor, action="mail.quarantine",
                     object_type="mail_quarantine", object_id=row.id,
                     after={"code": code, "reason": reason, "sender": sender, "size": len(raw)})
        return Quarantined(row.id, code, reason)


def _out(row: MailQuarantine) -> QuarantineOut:
    return QuarantineOut(id=row.id, created_at=row.created_at, sender=row.sender,
                         subject=row.subject, reason=row.reason, code=row.code,
                         source=row.source, size=row.size)


def listing(rt: Runtime, principal: Principal) -> list[QuarantineOut]:
    require(principal, Role.ADMIN)
    with rt.db.reading() as session:
        return [_out(r) for r in mail_repository.quarantined(session, principal.tenant_id)]


def raw_mail(rt: Runtime, principal: Principal, quarantine_id: int) -> tuple[QuarantineOut, bytes]:
    require(principal, Role.ADMIN)
    with rt.db.reading() as session:
        row = mail_repository.quarantined_one(session, principal.tenant_id, quarantine_id)
        if row is None:
            raise not_found("隔離メール")
        out = _out(row)
    return out, rt.files.read(row.sha256)


def discard(rt: Runtime, principal: Principal, quarantine_id: int, *,
            action: str = "mail.quarantine_delete", request_id: int | None = None) -> None:
    """Remove the entry (deleted by the admin, or released into a request). The raw bytes
    stay in the content-addressed store, which other rows may share."""
    require(principal, Role.ADMIN)
    with rt.db.transaction() as session:
        row = mail_repository.quarantined_one(session, principal.tenant_id, quarantine_id)
        if row is None:
            raise not_found("隔離メール")
        session.delete(row)
        audit.record(session, tenant_id=principal.tenant_id, actor=principal.actor,
                     action=action, object_type="mail_quarantine", object_id=quarantine_id,
                     after={"request_id": request_id} if request_id else None)
