"""Mail use cases: import a message, poll the mailbox, send replies, keep the account.

Intake never lets one mail stop the others: :func:`receive` stores a mail as a request or
a message, or else quarantines it (desk/quarantine.py) with the reason. A mail threads into
an existing request only from a participant of that request and only when the receiving
server did not find it forged (docs/mail.md).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ushiro import audit, identity, jobs
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.desk import mail_repository, mailbox, quarantine, repository
from ushiro.desk.access import access_request_by_id, require_staff
from ushiro.desk.choices import Channel, MailSecurity, MessageKind, Priority
from ushiro.desk.mail import (
    MailLimits,
    ParsedAttachment,
    ParsedMail,
    build_reply,
    parse_mail,
    reply_subject,
)
from ushiro.desk.mail_secrets import credentials, seal_password
from ushiro.desk.models import MailAccount, MailReceipt, Request
from ushiro.desk.quarantine import Quarantined
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
UNVERIFIED_TAG = "差出人未確認"  # a mail naming a request it may not write into
AUTH_FAILED_TAG = "認証失敗"  # SPF/DKIM/DMARC failed at our receiving server
log = logging.getLogger(__name__)


@dataclass
class ImportResult:
    request_id: int
    number: int
    created: bool
    duplicate: bool = False


@dataclass
class PollResult:
    imported: list[ImportResult] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MailNoteOut:
    """What intake recorded about one mail of a request, for the operator."""

    message_id: int | None
    from_address: str
    authentication: str | None
    authentication_failed: bool
    warnings: list[str]
    created_at: datetime


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


def limits(st: Settings) -> MailLimits:
    return MailLimits(max_bytes=st.max_mail_bytes, max_depth=st.mail_max_mime_depth,
                      max_parts=st.mail_max_parts, max_decoded_bytes=st.mail_max_decoded_bytes,
                      max_html_chars=st.mail_max_html_chars, max_body_chars=st.max_body_chars,
                      authserv_id=st.mail_authserv_id)


def _thread_target(session: Session, tenant_id: int, mail: ParsedMail) -> Request | None:
    """The request the mail names: by In-Reply-To/References, else by [REQ-n]."""
    found = repository.request_by_mail_ids(session, tenant_id, mail.references)
    if found is not None or mail.request_number is None:
        return found
    return repository.request_by_number(session, tenant_id, mail.request_number)


def _refusal(session: Session, request: Request, mail: ParsedMail) -> str | None:
    """Why the mail may not join ``request`` (None: it may)."""
    ref = reference(request.number)
    if mail.authentication_failed:
        return (f"受信サーバーの送信ドメイン認証(SPF/DKIM/DMARC)に失敗したため、{ref} には"
                "追加せず新しい依頼にしました。なりすましの可能性があります。")
    if mail.from_address not in mail_repository.participants(session, request):
        return (f"差出人 {mail.from_address} は {ref} の参加者ではないため、{ref} には追加せず"
                "新しい依頼にしました。内容を確認し、必要なら元の依頼に転記してください。")
    return None


def _receipt(session: Session, request: Request, message_id: int | None,
             mail: ParsedMail) -> None:
    session.add(MailReceipt(tenant_id=request.tenant_id, request_id=request.id,
                            message_id=message_id, from_address=mail.from_address,
                            authentication=mail.authentication,
                            authentication_failed=mail.authentication_failed,
                            warnings=json.dumps(mail.warnings, ensure_ascii=False)))


def _uploads(mail: ParsedMail, raw: bytes) -> list[Upload]:
    uploads = [Upload(a.filename, a.content_type, a.data) for a in mail.attachments]
    if mail.cut:  # the body is not the whole mail: the whole mail goes with it
        uploads.append(Upload("original.eml", "message/rfc822", raw))
    return uploads


def _store_mail(rt: Runtime, session: Session, tenant_id: int, mail: ParsedMail,
                raw: bytes) -> ImportResult:
    uploads = _uploads(mail, raw)
    target = _thread_target(session, tenant_id, mail)
    refusal = _refusal(session, target, mail) if target is not None else None
    if refusal:
        mail.warnings.append(refusal)
    if target is not None and refusal is None:
        before = snapshot(target)
        message = _add_message(session, target, kind=MessageKind.INBOUND, actor=MAIL_ACTOR,
                               author_label=mail.from_name or mail.from_address,
                               body=mail.body or "(本文なし)",
                               mail_message_id=mail.message_id)
        _store_uploads(rt, session, target, message.id, uploads)
        if not mail.automatic:  # an out-of-office reply is no answer from the requester
            _reopen_on_inbound(target)
        _receipt(session, target, message.id, mail)
        _audit_change(session, MAIL_ACTOR, target, before)
        return ImportResult(target.id, target.number, created=False)
    return _open_mail_request(rt, session, tenant_id, mail, uploads, refused=bool(refusal))


def _open_mail_request(rt: Runtime, session: Session, tenant_id: int, mail: ParsedMail,
                       uploads: list[Upload], *, refused: bool) -> ImportResult:
    """A new request from the mail; tagged when it named a request it may not join, or
    when authentication failed, so the queue shows it."""
    user = identity.user_by_email(session, mail.from_address)
    member = user and identity.membership(session, user.id, tenant_id)
    requester = (user.id if user and member else None, mail.from_address,
                 (user.name if user and member else mail.from_name) or mail.from_address)
    title = mail.subject or (mail.body.splitlines()[0][:60] if mail.body else "(件名なし)")
    tags = ([AUTH_FAILED_TAG] if mail.authentication_failed
            else [UNVERIFIED_TAG] if refused else [])
    request = _open_request(session, tenant_id=tenant_id, title=title,
                            body=mail.body or "(本文なし)", channel=Channel.MAIL, category=None,
                            priority=Priority.NORMAL, actor=MAIL_ACTOR, requester=requester,
                            tags=tags)
    request.mail_message_id = mail.message_id
    session.flush()
    _store_uploads(rt, session, request, None, uploads)
    _receipt(session, request, None, mail)
    return ImportResult(request.id, request.number, created=True)


def import_mail(rt: Runtime, tenant_id: int, raw: bytes) -> ImportResult:
    """Store one mail as a new request or as a message of the request it answers.
    Importing the same Message-ID again changes nothing and reports the first result."""
    mail = parse_mail(raw, max_bytes=rt.settings.max_mail_bytes, limits=limits(rt.settings))
    _check_uploads(rt, [Upload(a.filename, a.content_type, a.data) for a in mail.attachments])
    try:
        with rt.db.transaction() as session:
            existing = repository.request_by_mail_ids(session, tenant_id, [mail.message_id])
            if existing is not None:
                return ImportResult(existing.id, existing.number, created=False, duplicate=True)
            result = _store_mail(rt, session, tenant_id, mail, raw)
    except IntegrityError:
        with rt.db.reading() as session:
            existing = repository.request_by_mail_ids(session, tenant_id, [mail.message_id])
            if existing is None:
                raise
            return ImportResult(existing.id, existing.number, created=False, duplicate=True)
    return result


def receive(rt: Runtime, tenant_id: int, raw: bytes, *,
            source: str = "import") -> ImportResult | Quarantined:
    """:func:`import_mail`, or else the mail is quarantined with the reason. Failures of
    the desk itself (database unavailable, disk full) are raised instead, so the mail is
    tried again rather than held for a fault that is not its own."""
    try:
        return import_mail(rt, tenant_id, raw)
    except UshiroError as exc:
        code, reason = str(exc.code), exc.message
    except (OperationalError, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - one mail must never stop the mailbox
        log.exception("mail intake failed on one mail; quarantined")
        code = "internal_error"
        reason = ("このメールの取り込み中に予期しないエラーが発生しました"
                  f"({type(exc).__name__})。元のメールを確認してください。")
    return quarantine.hold(rt, tenant_id, raw, code=code, reason=reason, source=source,
                           actor=MAIL_ACTOR)


def release(rt: Runtime, principal: Principal, quarantine_id: int) -> ImportResult:
    """The admin imports a quarantined mail again (after raising a limit, say). If it
    still cannot be imported the entry stays and the reason is raised to the admin."""
    _, raw = quarantine.raw_mail(rt, principal, quarantine_id)
    try:
        result = import_mail(rt, principal.tenant_id, raw)
    except UshiroError:
        raise
    except (OperationalError, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - shown to the admin, never a 500
        raise UshiroError(ErrorCode.MAIL_MALFORMED, "このメールは取り込めません"
                          f"({type(exc).__name__})。") from exc
    quarantine.discard(rt, principal, quarantine_id, action="mail.quarantine_release",
                       request_id=result.request_id)
    return result


def poll(rt: Runtime, tenant_id: int) -> PollResult:
    """Fetch unseen mail. Each is marked seen once stored, or seen and flagged
    ``$UshiroQuarantined`` once quarantined, so no mail is fetched twice or left behind."""
    with rt.db.reading() as session:
        account = repository.mail_account(session, tenant_id)
    if account is None:
        raise UshiroError(ErrorCode.MAIL_NOT_CONFIGURED,
                          "メール設定がありません。管理画面の「メール設定」で IMAP を設定してください。")
    login = credentials(rt, account)
    result = PollResult()
    with mailbox.imap_session(account, login.imap_password, rt.settings.mail_ca_file) as client:
        for uid, raw in mailbox.fetch_unseen(client, account.imap_folder):
            outcome = receive(rt, tenant_id, raw, source="imap")
            if isinstance(outcome, Quarantined):
                result.quarantined.append(outcome)
                result.errors.append(f"UID {uid.decode()}: 隔離しました(#{outcome.id}): "
                                     f"{outcome.reason}")
                mailbox.mark_quarantined(client, uid)
            else:
                result.imported.append(outcome)
                mailbox.mark_seen(client, uid)
    return result


def mail_notes(rt: Runtime, principal: Principal, request_id: int) -> list[MailNoteOut]:
    """What intake recorded about each mail of a request the principal may see."""
    require_staff(principal)
    with rt.db.reading() as session:
        access_request_by_id(session, principal, request_id)
        return [MailNoteOut(message_id=r.message_id, from_address=r.from_address,
                            authentication=r.authentication,
                            authentication_failed=r.authentication_failed,
                            warnings=list(json.loads(r.warnings or "[]")),
                            created_at=r.created_at)
                for r in mail_repository.receipts(session, request_id)]


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
        mailbox.send(account, credentials(rt, account).smtp_password, account.address,
                     [request.requester_email], raw, rt.settings.mail_ca_file)
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


@dataclass(frozen=True)
class MailSettingsPage:
    account: MailAccount | None
    quarantined: list[quarantine.QuarantineOut]


def settings_page(rt: Runtime, principal: Principal) -> MailSettingsPage:
    """The admin mail page: the account and the mail held in quarantine."""
    return MailSettingsPage(get_account(rt, principal), quarantine.listing(rt, principal))


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
            if key.endswith("password"):
                if value:  # blank keeps the stored one
                    setattr(account, key, seal_password(rt, str(value)))
                continue
            setattr(account, key, value.value if isinstance(value, MailSecurity) else value)
        account.updated_at = now()
        shown = {k: v for k, v in values.items() if not k.endswith("password")}
        audit.record(session, tenant_id=tenant_id, actor=actor, action="mail_account.save",
                     object_type="mail_account", object_id=tenant_id, after=shown)
