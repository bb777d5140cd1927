"""Mail delivery: the job that sends an operator's reply by SMTP, threaded into the
conversation, and records whether it went out."""

from __future__ import annotations

from typing import Any

from ushiro import audit, jobs
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.desk import repository
from ushiro.desk.choices import DeliveryStatus, MessageKind
from ushiro.desk.mail import mailbox
from ushiro.desk.mail.account import credentials
from ushiro.desk.mail.parse import ParsedAttachment, build_reply, reply_subject
from ushiro.desk.mail.schemas import MAIL_ACTOR
from ushiro.desk.models import Request
from ushiro.desk.schemas import reference


@jobs.handler("desk.send_reply")
def send_reply(rt: Runtime, payload: dict[str, Any]) -> None:
    """Job: deliver one outbound message by SMTP with threading headers. Idempotent."""
    with rt.db.reading() as session:
        message = repository.message(session, int(payload["message_id"]))
        if message is None or message.delivery == DeliveryStatus.SENT:
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
        _mark_delivery(rt, message.id, DeliveryStatus.FAILED, exc.message)
        raise
    _mark_delivery(rt, message.id, DeliveryStatus.SENT, None)


def _mark_delivery(rt: Runtime, message_id: int, status: DeliveryStatus,
                   error: str | None) -> None:
    with rt.db.transaction() as session:
        message = repository.message(session, message_id)
        assert message is not None
        message.delivery, message.delivery_error = status.value, error
        audit.record(session, tenant_id=message.tenant_id, actor=MAIL_ACTOR,
                     action=f"message.{status}", object_type="message", object_id=message_id,
                     after={"error": error} if error else None)

