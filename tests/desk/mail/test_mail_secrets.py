"""Mail passwords at rest: encrypted with the instance key, never stored in plain text,
still used to log in to the real Dovecot; old plain-text rows keep working."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers.mail import ImapServer, dovecot_available, openssl_available
from sqlalchemy import text

from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.desk import mail as desk_mail
from ushiro.desk.mail import MailAccountIn
from ushiro.identity import Tenant, command_line

MAIL_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "mail"


@pytest.fixture(scope="module")
def imap() -> Iterator[ImapServer]:
    if not dovecot_available() or not openssl_available():
        pytest.skip("Dovecot or openssl missing: no IMAP server to poll")
    with ImapServer() as server:
        yield server


def stored(rt: Runtime, tenant_id: int) -> tuple[str, str]:
    with rt.db.reading() as session:
        row = session.execute(text("SELECT imap_password, smtp_password FROM mail_accounts "
                                   "WHERE tenant_id = :t"), {"t": tenant_id}).one()
    return str(row[0]), str(row[1])


def account(imap: ImapServer, folder: str, **extra: object) -> MailAccountIn:
    return MailAccountIn(address="desk@example.co.jp", imap_host=imap.host, imap_port=imap.port,
                         imap_security="none", imap_user=imap.user, imap_password=imap.password,
                         imap_folder=folder, **extra)


@pytest.mark.mailserver
def test_passwords_are_stored_encrypted_and_polling_still_logs_in(
        rt: Runtime, tenant: Tenant, imap: ImapServer) -> None:
    """GIVEN an admin saves the IMAP and SMTP passwords
    WHEN the mail_accounts row is read from the database
    THEN neither column holds (or contains) the password, and polling Dovecot with the
    stored account logs in and imports the mail."""
    folder = f"desk-{uuid.uuid4().hex[:10]}"
    imap.append((MAIL_DIR / "cp932.eml").read_bytes(), folder=folder)
    desk_mail.save_account(rt, command_line(tenant.id),
                              account(imap, folder, smtp_password="smtp-秘密-pass"))

    imap_column, smtp_column = stored(rt, tenant.id)
    result = desk_mail.poll(rt, tenant.id)

    assert imap.password not in imap_column and "smtp-秘密-pass" not in smtp_column
    assert imap_column.startswith("fernet:") and smtp_column.startswith("fernet:")
    assert [r.created for r in result.imported] == [True]


@pytest.mark.mailserver
def test_a_plain_text_password_from_before_still_works_and_is_encrypted_on_use(
        rt: Runtime, tenant: Tenant, imap: ImapServer) -> None:
    """GIVEN a mail account saved before encryption (the password in plain text)
    WHEN the desk polls
    THEN it logs in with it and the column is encrypted from then on."""
    folder = f"desk-{uuid.uuid4().hex[:10]}"
    imap.append((MAIL_DIR / "iso2022jp.eml").read_bytes(), folder=folder)
    desk_mail.save_account(rt, command_line(tenant.id), account(imap, folder))
    with rt.db.transaction() as session:
        session.execute(text("UPDATE mail_accounts SET imap_password = :p WHERE tenant_id = :t"),
                        {"p": imap.password, "t": tenant.id})

    result = desk_mail.poll(rt, tenant.id)

    assert [r.created for r in result.imported] == [True]
    assert stored(rt, tenant.id)[0].startswith("fernet:")


@pytest.mark.mailserver
def test_another_instance_key_cannot_read_the_password(
        rt: Runtime, tenant: Tenant, imap: ImapServer) -> None:
    """GIVEN passwords saved under this instance's key
    WHEN the key changes (a database copied without its key)
    THEN polling says in Japanese that the password must be entered again."""
    desk_mail.save_account(rt, command_line(tenant.id), account(imap, "INBOX"))
    other = Runtime(rt.settings.model_copy(update={"secret_key": "another-key"}), rt.db)

    with pytest.raises(UshiroError) as caught:
        desk_mail.poll(other, tenant.id)

    assert caught.value.code == ErrorCode.MAIL_NOT_CONFIGURED
    assert "パスワード" in caught.value.message and "入力し直して" in caught.value.message
