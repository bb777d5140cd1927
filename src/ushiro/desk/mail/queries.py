"""Permission-checked reads of what mail intake recorded (the request page's mail panel)."""

from __future__ import annotations

import json

from ushiro.core.runtime import Runtime
from ushiro.desk.access import access_request_by_id, require_staff
from ushiro.desk.mail import repository as mail_repository
from ushiro.desk.mail.schemas import MailNoteOut
from ushiro.identity import Principal


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
