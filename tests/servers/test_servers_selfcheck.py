"""Self-check of the loopback mail servers used by the integration tests."""

from __future__ import annotations

import email
import email.policy
import email.utils
import imaplib
import os
import smtplib
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from .mail import ImapServer, SmtpServer, dovecot_available, free_port, openssl_available

needs_dovecot = pytest.mark.skipif(
    not dovecot_available(), reason="Dovecot not installed (apt-get install dovecot-imapd)"
)
needs_openssl = pytest.mark.skipif(not openssl_available(), reason="openssl command missing")


def _message(subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "佐藤 花子 <hanako.sato@example.co.jp>"
    msg["To"] = "desk@example.co.jp"
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="example.co.jp")
    msg.set_content(body)
    return msg.as_bytes(policy=email.policy.SMTP)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.fixture(scope="module")
def imap() -> Iterator[ImapServer]:
    if not dovecot_available():
        pytest.skip("Dovecot not installed (apt-get install dovecot-imapd)")
    if not openssl_available():
        pytest.skip("openssl command missing")
    with ImapServer() as server:
        yield server


@needs_dovecot
@pytest.mark.mailserver
def test_imap_plain_append_and_read_back(imap: ImapServer) -> None:
    before = imap.count()
    raw = _message("交通費の精算について", "本文です。よろしくお願いいたします。")
    uid = imap.append(raw)
    assert uid is not None
    assert imap.count() == before + 1
    assert imap.unseen_count() >= 1

    conn = imaplib.IMAP4(imap.host, imap.port, timeout=10)
    try:
        conn.login(imap.user, imap.password)
        conn.select("INBOX")
        typ, data = conn.uid("FETCH", str(uid), "(RFC822)")
        assert typ == "OK"
        fetched = data[0][1]
        msg = email.message_from_bytes(fetched, policy=email.policy.default)
        assert msg["Subject"] == "交通費の精算について"
        assert "よろしくお願いいたします" in msg.get_content()
    finally:
        conn.logout()
    # Fetching RFC822 (not PEEK) sets \Seen.
    assert "\\Seen" in imap.flags()[uid]
    assert imap.seen_count() >= 1


@needs_dovecot
@needs_openssl
@pytest.mark.mailserver
def test_imaps_read_back_with_verified_tls(imap: ImapServer) -> None:
    imap.append(_message("備品購入のお願い", "ボールペンを購入したいです。"), folder="Archive")
    assert imap.count("Archive") == 1
    assert imap.cafile is not None and os.path.exists(imap.cafile)
    assert imap.tls_port is not None

    conn = imaplib.IMAP4_SSL(imap.host, imap.tls_port, ssl_context=imap.ssl_context(), timeout=10)
    try:
        conn.login(imap.user, imap.password)
        typ, _ = conn.select("Archive")
        assert typ == "OK"
        typ, data = conn.search(None, "ALL")
        assert data[0].split() == [b"1"]
        typ, fetched = conn.fetch("1", "(BODY.PEEK[])")
        assert isinstance(fetched[0], tuple)
        msg = email.message_from_bytes(fetched[0][1], policy=email.policy.default)
        assert msg["Subject"] == "備品購入のお願い"
        assert isinstance(conn.sock, ssl.SSLSocket)
        assert conn.sock.version() in {"TLSv1.2", "TLSv1.3"}
    finally:
        conn.logout()
    assert imap.seen_count("Archive") == 0  # PEEK leaves it unread
    assert "Archive" in imap.folders()


@needs_dovecot
@pytest.mark.mailserver
def test_imap_rejects_bad_password(imap: ImapServer) -> None:
    conn = imaplib.IMAP4(imap.host, imap.port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error):
            conn.login(imap.user, "wrong-password")
    finally:
        conn.shutdown()


@needs_dovecot
@pytest.mark.mailserver
def test_imap_stop_leaves_nothing_behind() -> None:
    server = ImapServer(tls=False).start()
    pgid, workdir, port = server._proc.pid, server.workdir, server.port  # type: ignore[union-attr]
    assert server.running and server.tls_port is None and server.cafile is None
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    assert workdir is not None and not workdir.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_smtp_collects_messages() -> None:
    raw = _message("出張旅費の精算", "領収書を添付します。")
    with SmtpServer() as smtp:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
            client.sendmail("desk@example.co.jp", ["hanako.sato@example.co.jp"], raw)
        ((mail_from, rcpt_tos, received),) = smtp.wait_for(1)
    assert mail_from == "desk@example.co.jp"
    assert rcpt_tos == ["hanako.sato@example.co.jp"]
    msg = email.message_from_bytes(received, policy=email.policy.default)
    assert msg["Subject"] == "出張旅費の精算"
    assert "領収書を添付します" in msg.get_content()


def test_smtp_optional_auth() -> None:
    raw = _message("認証テスト", "テスト")
    with SmtpServer(user="desk@example.co.jp", password="s3cret") as smtp:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("desk@example.co.jp", ["a@example.co.jp"], raw)
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("desk@example.co.jp", "nope")
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
            client.login("desk@example.co.jp", "s3cret")
            client.sendmail("desk@example.co.jp", ["a@example.co.jp"], raw)
        assert len(smtp.wait_for(1)) == 1
