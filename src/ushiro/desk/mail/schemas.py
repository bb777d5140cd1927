"""Shapes of the mail use cases: what an import or a poll produced, what intake noted
about a mail, the account form; and the actor mail intake and delivery act as."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field

from ushiro.audit import Actor
from ushiro.desk.choices import MailSecurity
from ushiro.desk.mail.quarantine import Quarantined

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

