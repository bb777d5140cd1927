"""Reading Japanese e-mail: ISO-2022-JP and CP932 bodies, RFC 2047 headers, RFC 2231
file names, HTML-only mail turned into safe text; and building threaded replies."""

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

from bs4 import BeautifulSoup

from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.text import clean, one_line

# Charsets Japanese mailers declare, mapped to codecs that accept what they really send:
# "Shift_JIS" mail is nearly always CP932 (①, ㈱, 髙), and ISO-2022-JP mail often carries
# the same extensions.
_CODECS: dict[str, tuple[str, ...]] = {
    "shift_jis": ("cp932",), "shift-jis": ("cp932",), "sjis": ("cp932",),
    "x-sjis": ("cp932",), "windows-31j": ("cp932",), "cp932": ("cp932",), "ms932": ("cp932",),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_3"),
    "euc-jp": ("euc_jp", "euc_jis_2004"),
}
REFERENCE = re.compile(r"\[REQ-(\d+)\]")
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

    @property
    def request_number(self) -> int | None:
        match = REFERENCE.search(self.subject)
        return int(match.group(1)) if match else None


def decode_bytes(data: bytes, charset: str | None) -> str:
    name = (charset or "").strip().lower().strip('"')
    candidates = _CODECS.get(name, (name,) if name else ()) + ("utf-8", "cp932")
    for codec in candidates:
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


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


def html_to_text(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title", "noscript"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    text = soup.get_text("\n")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, part.get_content_charset())


def _body_and_attachments(msg: Message) -> tuple[str, list[ParsedAttachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[ParsedAttachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename() or part.get_param("name")
        disposition = (part.get("Content-Disposition") or "").lower()
        if filename or disposition.startswith("attachment"):
            data = part.get_payload(decode=True)
            name = clean(decode_header_value(filename)) or "attachment"
            attachments.append(ParsedAttachment(name.replace("/", "_")[:255], ctype,
                                                data if isinstance(data, bytes) else b""))
        elif ctype == "text/plain":
            plain.append(_part_text(part))
        elif ctype == "text/html":
            html.append(_part_text(part))
    body = "\n\n".join(plain) if plain else "\n\n".join(html_to_text(h) for h in html)
    return clean(body), attachments


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


def parse_mail(raw: bytes, *, max_bytes: int) -> ParsedMail:
    """Parse one RFC 5322 message. Raises UshiroError with a Japanese reason when the mail
    cannot become a request (too large, no usable sender)."""
    if len(raw) > max_bytes:
        raise UshiroError(ErrorCode.MAIL_TOO_LARGE,
                          f"メールが大きすぎます({len(raw):,} バイト)。上限は {max_bytes:,} バイトです。")
    msg = email.message_from_bytes(raw, policy=_POLICY)
    senders = [(decode_header_value(n), a) for n, a in getaddresses(msg.get_all("From", []))]
    senders = [(n, a.strip()) for n, a in senders if "@" in a and " " not in a.strip()]
    if not senders:
        raise UshiroError(ErrorCode.MAIL_MALFORMED,
                          "差出人(From)のメールアドレスを読み取れません。メールの形式を確認してください。",
                          field="From")
    name, address = senders[0]
    message_id = one_line(str(msg.get("Message-ID") or ""), 500)
    if not message_id:
        # Without a Message-ID the content itself identifies the mail, keeping import idempotent.
        message_id = f"<sha256-{hashlib.sha256(raw).hexdigest()}@ushiro.invalid>"
    refs = " ".join(str(msg.get(h) or "") for h in ("In-Reply-To", "References"))
    body, attachments = _body_and_attachments(msg)
    try:
        date = parsedate_to_datetime(str(msg.get("Date"))) if msg.get("Date") else None
    except (TypeError, ValueError):
        date = None
    return ParsedMail(
        message_id=message_id, from_address=address.lower(), from_name=one_line(name),
        subject=one_line(decode_header_value(msg.get("Subject")), 300), body=body,
        references=re.findall(r"<[^<>\s]+>", refs), attachments=attachments, date=date,
        automatic=is_automatic(msg),
    )


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
