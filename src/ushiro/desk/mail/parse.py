"""Reading Japanese e-mail: ISO-2022-JP and CP932 bodies, RFC 2047 headers, RFC 2231
file names, HTML-only mail turned into safe text, all within limits (MIME depth, parts,
decoded size, text length); and building threaded replies."""

from __future__ import annotations

import email
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import EmailMessage, Message
from email.policy import SMTP, Compat32
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from typing import Any

from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.settings import Settings
from ushiro.core.text import clean, one_line
from ushiro.desk.mail.auth import verdict
from ushiro.desk.mail.text import decode_bytes, decode_checked, html_to_text

REFERENCE = re.compile(r"\[REQ-(\d+)\]")
_BOUNDARY = re.compile(rb'boundary\s*=\s*("[^"\r\n]+"|[^\s;]+)', re.IGNORECASE)
# What mail programs put before a subject they answer or forward (Outlook in Japanese
# writes 返信: and 転送:), possibly several times, with the request's own reference.
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|返信|転送)\s*(?:\[\d+\])?\s*[:：]|\[REQ-\d+\])\s*", re.IGNORECASE)


def reply_subject(reference: str, title: str) -> str:
    """``Re: [REQ-n] title``, once: the title of a mail request is the subject it arrived
    with, which may already say "Re:", "転送:" or "[REQ-n]"."""
    while (match := _SUBJECT_PREFIX.match(title)) and match.end() < len(title):
        title = title[match.end():]
    return f"Re: [{reference}] {title.strip()}"


class _Policy(Compat32):
    """compat32, except that a header holding raw 8-bit text (RFC 6532 UTF-8, or Shift_JIS
    from old systems) is decoded like a body; compat32 would wrap it in a Header whose
    text is U+FFFD and which string methods (``.lower()``) reject."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value):
            return decode_bytes(value.encode("ascii", "surrogateescape"), None)
        return super().header_fetch_parse(name, value)


_POLICY = _Policy()


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedMail:
    message_id: str
    from_address: str
    from_name: str
    subject: str
    body: str
    references: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    date: datetime | None = None
    automatic: bool = False  # an auto-reply (不在通知) or other machine-sent mail
    authentication: str | None = None  # our receiving server's Authentication-Results
    authentication_failed: bool = False
    warnings: list[str] = field(default_factory=list)  # Japanese, for the operator
    cut: bool = False  # the body is not the whole text: keep the original mail with it

    @property
    def request_number(self) -> int | None:
        match = REFERENCE.search(self.subject)
        return int(match.group(1)) if match else None


def decode_header_value(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    try:
        chunks = decode_header(text)
    except HeaderParseError:
        # A broken encoded word: keep the text as received rather than reject the mail.
        return text
    parts = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes) and charset is None:
            # Unencoded text beside encoded words: decode_header escaped it this way.
            parts.append(chunk.decode("raw-unicode-escape"))
        else:
            parts.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(parts)


def is_automatic(msg: Message) -> bool:
    """A mail no person wrote: RFC 3834 ``Auto-Submitted`` (anything but ``no``), the
    ``X-Autoreply`` / ``X-Autorespond`` headers some servers put on out-of-office replies,
    or ``Precedence: auto_reply / bulk / junk``."""
    submitted = str(msg.get("Auto-Submitted") or "").strip().lower()
    if submitted and not submitted.startswith("no"):
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return True
    return str(msg.get("Precedence") or "").strip().lower() in ("auto_reply", "bulk", "junk")


@dataclass(frozen=True)
class MailLimits:
    """How much of one mail intake reads (from Settings; see docs/mail.md)."""

    max_bytes: int
    max_depth: int = 20
    max_parts: int = 200
    max_decoded_bytes: int = 50 * 1024 * 1024
    max_html_chars: int = 2_000_000
    max_body_chars: int = 100_000
    authserv_id: str | None = None


def mail_limits(st: Settings) -> MailLimits:
    return MailLimits(max_bytes=st.max_mail_bytes, max_depth=st.mail_max_mime_depth,
                      max_parts=st.mail_max_parts, max_decoded_bytes=st.mail_max_decoded_bytes,
                      max_html_chars=st.mail_max_html_chars, max_body_chars=st.max_body_chars,
                      authserv_id=st.mail_authserv_id)


def _limit_error(text: str) -> UshiroError:
    return UshiroError(ErrorCode.MAIL_LIMIT, text)


def _scan_structure(raw: bytes, limits: MailLimits) -> None:
    """Refuse a mail nested deeper or split into more parts than the limits before the
    parser builds it (the stdlib parser recurses once per level and keeps every part).
    Each part starts at a ``--boundary`` line of a boundary the mail declares; a boundary
    seen inside another one's part is nested in it, ``--boundary--`` closes it."""
    boundaries = {b.strip(b'"').strip() for b in _BOUNDARY.findall(raw)}
    if not boundaries:
        return
    open_: list[bytes] = []
    parts = 0
    for line in raw.split(b"\n"):
        if not line.startswith(b"--"):
            continue
        token = line[2:].rstrip()
        closing = token.endswith(b"--") and token[:-2] in boundaries
        name = token[:-2] if closing else token
        if name not in boundaries:
            continue
        if name in open_:
            del open_[open_.index(name) + (0 if closing else 1):]
        elif not closing:
            open_.append(name)
        if not closing:
            parts += 1
        if len(open_) >= limits.max_depth:
            raise _limit_error(f"MIME の入れ子が深すぎます(上限 {limits.max_depth} 段)。")
        if parts > limits.max_parts:
            raise _limit_error(f"MIME の部品が多すぎます(上限 {limits.max_parts:,} 個)。")


def _parts(msg: Message, limits: MailLimits) -> list[Message]:
    """The leaf parts in order, walked without recursion (the stdlib walk recurses)."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 1)]
    while stack:
        part, depth = stack.pop()
        if depth > limits.max_depth:
            raise _limit_error(f"MIME の入れ子が深すぎます(上限 {limits.max_depth} 段)。")
        # get_payload() of a leaf decodes it with its charset parameter (and raises on an
        # RFC 2231 one): only containers are asked for their children.
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload)
                         if isinstance(child, Message))
        else:
            leaves.append(part)
        if len(leaves) + len(stack) > limits.max_parts:
            raise _limit_error(f"MIME の部品が多すぎます(上限 {limits.max_parts:,} 個)。")
    return leaves


def _body_and_attachments(msg: Message, limits: MailLimits, mail: ParsedMail) -> None:
    plain: list[str] = []
    html: list[str] = []
    decoded = 0
    for part in _parts(msg, limits):
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        decoded += len(data)
        if decoded > limits.max_decoded_bytes:
            raise _limit_error(f"メールの内容が展開後に大きすぎます(上限 "
                               f"{limits.max_decoded_bytes:,} バイト)。")
        ctype = part.get_content_type()
        filename = part.get_filename() or part.get_param("name")
        disposition = (part.get("Content-Disposition") or "").lower()
        if filename or disposition.startswith("attachment"):
            name = clean(decode_header_value(filename)) or "attachment"
            mail.attachments.append(ParsedAttachment(name.replace("/", "_")[:255], ctype, data))
        elif ctype in ("text/plain", "text/html"):
            text, warning = decode_checked(data, part.get_content_charset())
            if warning and warning not in mail.warnings:
                mail.warnings.append(warning)
            (plain if ctype == "text/plain" else html).append(text)
    _set_body(mail, plain, html, limits)


def _set_body(mail: ParsedMail, plain: list[str], html: list[str], limits: MailLimits) -> None:
    if plain:
        body = clean("\n\n".join(plain))
    else:
        texts = []
        for page in html:
            text, cut = html_to_text(page[:limits.max_html_chars], max_chars=limits.max_body_chars)
            mail.cut = mail.cut or cut or len(page) > limits.max_html_chars
            texts.append(text)
        body = clean("\n\n".join(texts))
    if len(body) > limits.max_body_chars or mail.cut:
        note = (f"\n\n(本文が長すぎるため {limits.max_body_chars:,} 文字を超える部分を省略しました。"
                "元のメール全体は添付ファイル original.eml にあります。)")
        body = body[:max(limits.max_body_chars - len(note), 0)].rstrip() + note
        mail.cut = True
        mail.warnings.append("本文が長すぎるため一部を省略しました。全文は添付の original.eml で"
                             "確認できます。")
    mail.body = body


def _sender(msg: Message) -> tuple[str, str]:
    senders = [(decode_header_value(n), a) for n, a in getaddresses(msg.get_all("From", []))]
    senders = [(n, a.strip()) for n, a in senders
               if "@" in a and " " not in a.strip() and len(a.strip()) <= 254]  # RFC 5321
    if not senders:
        raise UshiroError(ErrorCode.MAIL_MALFORMED,
                          "差出人(From)のメールアドレスを読み取れません。メールの形式を確認してください。",
                          field="From")
    return senders[0]


def parse_mail(raw: bytes, *, max_bytes: int, limits: MailLimits | None = None) -> ParsedMail:
    """Parse one RFC 5322 message. Raises UshiroError with a Japanese reason when the mail
    cannot become a request (too large, beyond a MIME limit, no usable sender)."""
    limits = limits or MailLimits(max_bytes=max_bytes)
    if len(raw) > max_bytes:
        raise UshiroError(ErrorCode.MAIL_TOO_LARGE,
                          f"メールが大きすぎます({len(raw):,} バイト)。上限は {max_bytes:,} バイトです。")
    _scan_structure(raw, limits)
    try:
        msg = email.message_from_bytes(raw, policy=_POLICY)
    except RecursionError:
        # The stdlib parser recurses once per nesting level; Python's stack ends first.
        raise _limit_error(f"MIME の入れ子が深すぎます(上限 {limits.max_depth} 段)。") from None
    name, address = _sender(msg)
    message_id = one_line(str(msg.get("Message-ID") or ""), 500)
    if not message_id:
        # Without a Message-ID the content itself identifies the mail, keeping import idempotent.
        message_id = f"<sha256-{hashlib.sha256(raw).hexdigest()}@ushiro.invalid>"
    refs = " ".join(str(msg.get(h) or "") for h in ("In-Reply-To", "References"))
    try:
        date = parsedate_to_datetime(str(msg.get("Date"))) if msg.get("Date") else None
    except (TypeError, ValueError):
        date = None
    auth = verdict(msg, limits.authserv_id)
    mail = ParsedMail(
        message_id=message_id, from_address=address.lower(), from_name=one_line(name),
        subject=one_line(decode_header_value(msg.get("Subject")), 300), body="",
        references=re.findall(r"<[^<>\s]+>", refs), date=date, automatic=is_automatic(msg),
        authentication=auth.header, authentication_failed=auth.failed)
    _body_and_attachments(msg, limits, mail)
    return mail


def new_message_id(domain: str) -> str:
    return f"<ushiro.{uuid.uuid4().hex}@{domain or 'ushiro.local'}>"


def build_reply(*, sender: str, to: str, subject: str, body: str, message_id: str,
                in_reply_to: str | None, references: list[str],
                attachments: list[ParsedAttachment] | None = None) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now())
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references[-20:])
    msg.set_content(body, charset="utf-8")
    for item in attachments or []:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.data, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=item.filename)
    return msg.as_bytes()
