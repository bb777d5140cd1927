"""Which stored files the database refers to. Never commits."""

from __future__ import annotations

from sqlalchemy import select, union
from sqlalchemy.orm import InstrumentedAttribute, Session

from ushiro.desk.models import Attachment, MailQuarantine
from ushiro.knowledge.models import DocumentVersion

# Every column that holds the SHA-256 of a file in the content-addressed store. A new one
# belongs here, or `files gc` would remove the files it names.
FILE_COLUMNS: tuple[InstrumentedAttribute[str], ...] = (
    Attachment.sha256,
    DocumentVersion.sha256,
    MailQuarantine.sha256,  # the raw bytes of a quarantined mail
)


def referenced_digests(session: Session) -> set[str]:
    stmt = union(*(select(column.label("digest")) for column in FILE_COLUMNS))
    return {str(d) for d in session.scalars(stmt)}
