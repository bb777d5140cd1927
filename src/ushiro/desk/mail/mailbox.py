"""Talking to the tenant's mail servers: IMAP to fetch, SMTP to send."""

from __future__ import annotations

import base64
import imaplib
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby

from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.desk.choices import MailSecurity
from ushiro.desk.models import MailAccount

TIMEOUT = 30


def _context(cafile: str | None = None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


@contextmanager
def imap_session(account: MailAccount, password: str,
                 cafile: str | None = None) -> Iterator[imaplib.IMAP4]:
    """A logged-in IMAP connection; ``password`` is the decrypted one (desk/mail_secrets)."""
    if not account.imap_host:
        raise UshiroError(ErrorCode.MAIL_NOT_CONFIGURED,
                          "IMAP サーバーが設定されていません。管理画面の「メール設定」で設定してください。")
    client: imaplib.IMAP4 | None = None
    try:
        if account.imap_security == MailSecurity.SSL:
            client = imaplib.IMAP4_SSL(account.imap_host, account.imap_port,
                                       ssl_context=_context(cafile), timeout=TIMEOUT)
        else:
            client = imaplib.IMAP4(account.imap_host, account.imap_port, timeout=TIMEOUT)
            if account.imap_security == MailSecurity.STARTTLS:
                client.starttls(_context(cafile))
        client.login(account.imap_user, password)
    except (OSError, imaplib.IMAP4.error) as exc:
        if client is not None:  # connected, then STARTTLS or the login failed
            _close(client)
        raise UshiroError(ErrorCode.MAIL_CONNECTION,
                          f"IMAP サーバー {account.imap_host}:{account.imap_port} に接続できません: {exc}"
                          ) from exc
    try:
        yield client
    finally:
        try:
            client.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
        _close(client)


def _close(client: imaplib.IMAP4) -> None:
    """The socket closed whatever state the session is in: ``logout`` skips it when the
    LOGOUT command itself fails, and nothing else closes it before the collector."""
    try:
        client.shutdown()
    except OSError:
        pass


def _mailbox_name(folder: str) -> str:
    """The folder as an IMAP quoted string. A non-ASCII name (「受付」) goes in modified
    UTF-7 (RFC 3501 5.1.3): imaplib sends ASCII only, and that is the form servers use.
    ASCII names pass unchanged, so one already written in modified UTF-7 still works."""
    if folder.isascii():
        encoded = folder
    else:
        parts: list[str] = []
        for is_ascii, chars in groupby(folder, key=lambda ch: " " <= ch <= "~"):
            text = "".join(chars)
            if is_ascii:
                parts.append(text.replace("&", "&-"))
            else:
                b64 = base64.b64encode(text.encode("utf-16-be")).decode("ascii")
                parts.append("&" + b64.rstrip("=").replace("/", ",") + "-")
        encoded = "".join(parts)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fetch_unseen(client: imaplib.IMAP4, folder: str) -> Iterator[tuple[bytes, bytes]]:
    """Yields (uid, raw message) for every unseen mail; the caller marks each one seen
    only after it is stored, so a crash in between means a re-import, never a loss."""
    status, _ = client.select(_mailbox_name(folder))
    if status != "OK":
        raise UshiroError(ErrorCode.MAIL_CONNECTION, f"フォルダ「{folder}」を開けません。")
    status, data = client.uid("SEARCH", "UNSEEN")
    for uid in (data[0] or b"").split():
        status, parts = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
        for part in parts:
            if isinstance(part, tuple):
                yield uid, part[1]


def mark_seen(client: imaplib.IMAP4, uid: bytes) -> None:
    client.uid("STORE", uid.decode(), "+FLAGS", "(\\Seen)")


QUARANTINE_KEYWORD = "$UshiroQuarantined"


def mark_quarantined(client: imaplib.IMAP4, uid: bytes) -> None:
    """Seen (so it is not fetched again) and a keyword saying why, for people reading the
    mailbox; a server that refuses keywords still gets \\Seen."""
    status, _ = client.uid("STORE", uid.decode(), "+FLAGS", f"(\\Seen {QUARANTINE_KEYWORD})")
    if status != "OK":
        mark_seen(client, uid)


def send(account: MailAccount, password: str, sender: str, recipients: list[str], raw: bytes,
         cafile: str | None = None) -> None:
    if not account.smtp_host:
        raise UshiroError(ErrorCode.MAIL_NOT_CONFIGURED,
                          "SMTP サーバーが設定されていません。管理画面の「メール設定」で設定してください。")
    try:
        smtp: smtplib.SMTP
        if account.smtp_security == MailSecurity.SSL:
            smtp = smtplib.SMTP_SSL(account.smtp_host, account.smtp_port,
                                    context=_context(cafile), timeout=TIMEOUT)
        else:
            smtp = smtplib.SMTP(account.smtp_host, account.smtp_port, timeout=TIMEOUT)
            if account.smtp_security == MailSecurity.STARTTLS:
                smtp.starttls(context=_context(cafile))
        with smtp:
            if account.smtp_user:
                smtp.login(account.smtp_user, password)
            smtp.sendmail(sender, recipients, raw)
    except (OSError, smtplib.SMTPException) as exc:
        raise UshiroError(ErrorCode.MAIL_CONNECTION,
                          f"SMTP サーバー {account.smtp_host}:{account.smtp_port} への送信に失敗しました: {exc}"
                          ) from exc
