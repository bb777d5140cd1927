"""Mail intake: import a message, poll the mailbox, thread a mail into its request.

Intake never lets one mail stop the others: :func:`receive` stores a mail as a request or
a message, or else quarantines it (desk/mail/quarantine.py) with the reason. A mail threads
into an existing request only from a participant of that request and only when the
receiving server did not find it forged (docs/mail.md).
"""

from __future__ import annotations

import json
import logging

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ushiro import identity
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.desk import repository
from ushiro.desk.choices import Channel, MessageKind, Priority
from ushiro.desk.mail import mailbox, quarantine
from ushiro.desk.mail import repository as mail_repository
from ushiro.desk.mail.account import credentials
from ushiro.desk.mail.parse import ParsedMail, mail_limits, parse_mail
from ushiro.desk.mail.quarantine import Quarantined
from ushiro.desk.mail.schemas import MAIL_ACTOR, ImportResult, PollResult
from ushiro.desk.models import MailReceipt, Request
from ushiro.desk.schemas import Upload, reference
from ushiro.desk.service.common import (
    add_message,
    audit_change,
    check_uploads,
    open_request,
    reopen_on_inbound,
    snapshot,
    store_uploads,
)
from ushiro.identity import Principal, Role, require

UNVERIFIED_TAG = "差出人未確認"  # a mail naming a request it may not write into
AUTH_FAILED_TAG = "認証失敗"  # SPF/DKIM/DMARC failed at our receiving server
log = logging.getLogger(__name__)


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
        message = add_message(session, target, kind=MessageKind.INBOUND, actor=MAIL_ACTOR,
                               author_label=mail.from_name or mail.from_address,
                               body=mail.body or "(本文なし)",
                               mail_message_id=mail.message_id)
        store_uploads(rt, session, target, message.id, uploads)
        if not mail.automatic:  # an out-of-office reply is no answer from the requester
            reopen_on_inbound(target)
        _receipt(session, target, message.id, mail)
        audit_change(session, MAIL_ACTOR, target, before)
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
    request = open_request(session, tenant_id=tenant_id, title=title,
                            body=mail.body or "(本文なし)", channel=Channel.MAIL, category=None,
                            priority=Priority.NORMAL, actor=MAIL_ACTOR, requester=requester,
                            tags=tags)
    request.mail_message_id = mail.message_id
    session.flush()
    store_uploads(rt, session, request, None, uploads)
    _receipt(session, request, None, mail)
    return ImportResult(request.id, request.number, created=True)


def import_mail(rt: Runtime, principal: Principal, raw: bytes) -> ImportResult:
    """Store one mail as a new request or as a message of the request it answers.
    Importing the same Message-ID again changes nothing and reports the first result.
    The mail poller does this as the tenant's system principal, an administrator by hand
    (a quarantined mail, ``ushiro mail import``)."""
    require(principal, Role.ADMIN)
    tenant_id = principal.tenant_id
    mail = parse_mail(raw, max_bytes=rt.settings.max_mail_bytes, limits=mail_limits(rt.settings))
    check_uploads(rt, [Upload(a.filename, a.content_type, a.data) for a in mail.attachments])
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


def receive(rt: Runtime, principal: Principal, raw: bytes, *,
            source: str = "import") -> ImportResult | Quarantined:
    """:func:`import_mail`, or else the mail is quarantined with the reason. Failures of
    the desk itself (database unavailable, disk full) are raised instead, so the mail is
    tried again rather than held for a fault that is not its own."""
    try:
        return import_mail(rt, principal, raw)
    except UshiroError as exc:
        code, reason = str(exc.code), exc.message
    except (OperationalError, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - one mail must never stop the mailbox
        log.exception("mail intake failed on one mail; quarantined")
        code = "internal_error"
        reason = ("このメールの取り込み中に予期しないエラーが発生しました"
                  f"({type(exc).__name__})。元のメールを確認してください。")
    return quarantine.hold(rt, principal.tenant_id, raw, code=code, reason=reason, source=source,
                           actor=MAIL_ACTOR)


def release(rt: Runtime, principal: Principal, quarantine_id: int) -> ImportResult:
    """The admin imports a quarantined mail again (after raising a limit, say). If it
    still cannot be imported the entry stays and the reason is raised to the admin."""
    _, raw = quarantine.raw_mail(rt, principal, quarantine_id)
    try:
        result = import_mail(rt, principal, raw)
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
            outcome = receive(rt, Principal.system(tenant_id, MAIL_ACTOR.label), raw,
                              source="imap")
            if isinstance(outcome, Quarantined):
                result.quarantined.append(outcome)
                result.errors.append(f"UID {uid.decode()}: 隔離しました(#{outcome.id}): "
                                     f"{outcome.reason}")
                mailbox.mark_quarantined(client, uid)
            else:
                result.imported.append(outcome)
                mailbox.mark_seen(client, uid)
    return result
