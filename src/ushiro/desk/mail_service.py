"""Mail use cases: import a message, poll the mailbox, send replies, keep the account."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ushiro import audit, identity, jobs
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.runtime import Runtime
from ushiro.desk import mailbox, repository
from ushiro.desk.choices import Channel, MailSecurity, MessageKind, Priority
from ushiro.desk.mail import (
    ParsedAttachment,
    ParsedMail,
    build_reply,
    parse_mail,
    reply_subject,
)
from ushiro.desk.models import MailAccount, Request
from ushiro.desk.schemas import Upload
from ushiro.desk.service import (
    _add_message,
    _audit_change,
    _check_uploads,
    _open_request,
    _reopen_on_inbound,
    _store_uploads,
    reference,
    snapshot,
)
from ushiro.identity import Principal, Role, require

MAIL_ACTOR = Actor(None, "mail")


@dataclass
class ImportResult:
    request_id: int
    number: int
    created: bool
    duplicate: bool = False


@dataclass
class PollResult:
    imported: list[ImportResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class MailAccountIn(BaseModel):
    address: str = Field(default="", max_length=254)
    imap_host: str = Field(default="", max_length=200)
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: MailSecurity = MailSecurity.SSL
    imap_user: str = Field(default="", max_length=254)
    imap_password: str | None = Field(default=None, max_length=500)
    imap_folder: str = Field(default="INBOX", max_length=200)
    smtp_host: str = Field(default="", max_length=200)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: MailSecurity = MailSecurity.STARTTLS
    smtp_user: str = Field(default="", max_length=254)
    smtp_password: str | None = Field(default=None, max_length=500)


def _thread_target(session: Session, tenant_id: int, mail: ParsedMail) -> Request | None:
    """The request a reply belongs to: by In-Reply-To/References, else by [REQ-n] in the
    subject when the sender is that request's requester or a staff member."""
    found = repository.request_by_mail_ids(session, tenant_id, mail.references)
    if found is not None:
        return found
    number = mail.request_number
    if number is None:
        return None
    request = repository.request_by_number(session, tenant_id, number)
    if request is None:
        return None
    if request.requester_email.lower() == mail.from_address:
        return request
    staff = identity.staff(session, tenant_id)
    return request if any(u.email == mail.from_address for u in staff) else None


def _store_mail(rt: Runtime, session: Session, tenant_id: int, mail: ParsedMail) -> ImportResult:
    uploads = [Upload(a.filename, a.content_type, a.data) for a in mail.attachments]
    target = _thread_target(session, tenant_id, mail)
    body = mail.body or "(本文なし)"
    if target is not None:
        before = snapshot(target)
        message = _add_message(session, target, kind=MessageKind.INBOUND, actor=MAIL_ACTOR,
                               author_label=mail.from_name or mail.from_address, body=body,
                               mail_message_id=mail.message_id)
        _store_uploads(rt, session, target, message.id, uploads)
        if not mail.automatic:  # an out-of-office reply is no answer from the requester
            _reopen_on_inbound(target)
        _audit_change(session, MAIL_ACTOR, target, before)
        return ImportResult(target.id, target.number, created=False)
    user = identity.user_by_email(session, mail.from_address)
    member = user and identity.membership(session, user.id, tenant_id)
    requester = (user.id if user and member else None, mail.from_address,
                 (user.name if user and member else mail.from_name) or mail.from_address)
    title = mail.subject or (mail.body.splitlines()[0][:60] if mail.body else "(件名なし)")
    request = _open_request(session, tenant_id=tenant_id, title=title, body=body,
                            channel=Channel.MAIL, category=None, priority=Priority.NORMAL,
                            actor=MAIL_ACTOR, requester=requester, tags=[])
    request.mail_message_id = mail.message_id
    session.flush()
    _store_uploads(rt, session, request, None, uploads)
    return ImportResult(request.id, request.number, created=True)


def import_mail(rt: Runtime, tenant_id: int, raw: bytes) -> ImportResult:
    """Store one mail as a new request or as a message of the request it answers.
    Importing the same Message-ID again changes nothing and reports the first result."""
    mail = parse_mail(raw, max_bytes=rt.settings.max_mail_bytes)
    _check_uploads(rt, [Upload(a.filename, a.content_type, a.data) for a in mail.attachments])
    try:
        with rt.db.transaction() as session:
            existing = repository.request_by_mail_ids(session, tenant_id, [mail.message_id])
            if existing is not None:
                return ImportResult(existing.id, existing.number, created=False, duplicate=True)
            result = _store_mail(rt, session, tenant_id, mail)
    except IntegrityError:
        with rt.db.reading() as session:
            existing = repository.request_by_mail_ids(session, tenant_id, [mail.message_id])
            if existing is None:
                raise
            return ImportResult(existing.id, existing.number, created=False, duplicate=True)
    return result


def poll(rt: Runtime, tenant_id: int) -> PollResult:
    """Fetch unseen mail; each is marked seen only once stored (or rejected for good)."""
    with rt.db.reading() as session:
        account = repository.mail_account(session, tenant_id)
    if account is None:
        raise UshiroError(ErrorCode.MAIL_NOT_CONFIGURED,
                          "メール設定がありません。管理画面の「メール設定」で IMAP を設定してください。")
    result = PollResult()
    with mailbox.imap_session(account, rt.settings.mail_ca_file) as client:
        for uid, raw in mailbox.fetch_unseen(client, account.imap_folder):
            try:
                result.imported.append(import_mail(rt, tenant_id, raw))
            except UshiroError as exc:
                result.errors.append(f"UID {uid.decode()}: {exc.message}")
            mailbox.mark_seen(client, uid)
    return result


@jobs.handler("desk.send_reply")
def send_reply(rt: Runtime, payload: dict[str, Any]) -> None:
    """Job: deliver one outbound message by SMTP with threading headers. Idempotent."""
    with rt.db.reading() as session:
        message = repository.message(session, int(payload["message_id"]))
        if message is None or message.delivery == "sent":
            return
        request = session.get(Request, message.request_id)
        account = repository.mail_account(session, message.tenant_id)
        assert request is not None
        if account is None:
            raise UshiroError(ErrorCode.MAIL_NOT_CONFIGURED, "SMTP が設定されていません。")
        refs = [m for m in repository.mail_ids_of(session, request.id) if m != message.mail_message_id]
        inbound = [m.mail_message_id for m in repository.messages(session, request.id)
                   if m.kind == MessageKind.INBOUND.value and m.mail_message_id]
        # The files the operator attached to this reply go out with it.
        files = [ParsedAttachment(a.filename, a.content_type, rt.files.read(a.sha256))
                 for a in repository.attachments(session, request.id) if a.message_id == message.id]
        raw = build_reply(sender=account.address, to=request.requester_email,
                          subject=reply_subject(reference(request.number), request.title),
                          body=message.body, message_id=message.mail_message_id or "",
                          in_reply_to=inbound[-1] if inbound else request.mail_message_id, references=refs,
                          attachments=files)
    try:
        mailbox.send(account, account.address, [request.requester_email], raw,
                     rt.settings.mail_ca_file)
    except UshiroError as exc:
        _mark_delivery(rt, message.id, "failed", exc.message)
        raise
    _mark_delivery(rt, message.id, "sent", None)


def _mark_delivery(rt: Runtime, message_id: int, status: str, error: str | None) -> None:
    with rt.db.transaction() as session:
        message = repository.message(session, message_id)
        assert message is not None
        message.delivery, message.delivery_error = status, error
        audit.record(session, tenant_id=message.tenant_id, actor=MAIL_ACTOR,
                     action=f"message.{status}", object_type="message", object_id=message_id,
                     after={"error": error} if error else None)


def get_account(rt: Runtime, principal: Principal) -> MailAccount | None:
    require(principal, Role.ADMIN)
    with rt.db.reading() as session:
        return repository.mail_account(session, principal.tenant_id)


def save_account(rt: Runtime, principal: Principal | None, tenant_id: int,
                 data: MailAccountIn) -> None:
    """Admins edit the mailbox; a blank password field keeps the stored password."""
    if principal is not None:
        require(principal, Role.ADMIN)
    if data.address and "@" not in data.address:
        raise invalid("address", "送信元アドレスの形式が正しくありません。")
    actor = principal.actor if principal else Actor(None, "cli")
    with rt.db.transaction() as session:
        account = repository.mail_account(session, tenant_id)
        if account is None:
            account = MailAccount(tenant_id=tenant_id)
            session.add(account)
        values = data.model_dump()
        for key, value in values.items():
            if key.endswith("password") and not value:
                continue
            setattr(account, key, value.value if isinstance(value, MailSecurity) else value)
        account.updated_at = now()
        shown = {k: v for k, v in values.items() if not k.endswith("password")}
        audit.record(session, tenant_id=tenant_id, actor=actor, action="mail_account.save",
                     object_type="mail_account", object_id=tenant_id, after=shown)
