"""The receiving server's verdict on a mail: ``Authentication-Results`` (RFC 8601).

Anyone can write an Authentication-Results header into the mail they send, so only the
one our own receiving server added is believed. A receiving server adds its header on top,
so that is the topmost one; when ``Settings.mail_authserv_id`` names our server, the
topmost header carrying that authserv-id is used and the others are ignored (a server
configured this way should also remove such headers arriving from outside, RFC 8601 §5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from ushiro.core.text import one_line

# Results that mean the mail is not from where it says (RFC 7208 §8, RFC 6376, RFC 7489).
_FAILING = {"spf": {"fail", "softfail", "permerror"}, "dkim": {"fail"}, "dmarc": {"fail"}}
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)(?:/\d+)?\s*=\s*([a-z]+)", re.IGNORECASE)


@dataclass(frozen=True)
class AuthVerdict:
    header: str | None  # the header value believed, as received (unfolded)
    results: dict[str, list[str]]
    failed: bool


def _authserv_id(value: str) -> str:
    first = _uncommented(value).split(";", 1)[0].strip().split()
    return first[0].lower() if first else ""


def _uncommented(value: str) -> str:
    previous = None
    while previous != value:  # nested comments, innermost first
        previous, value = value, _COMMENT.sub(" ", value)
    return value


def verdict(msg: Message, authserv_id: str | None) -> AuthVerdict:
    headers = [str(h) for h in msg.get_all("Authentication-Results", [])]
    if authserv_id:
        headers = [h for h in headers if _authserv_id(h) == authserv_id.strip().lower()]
    if not headers:
        return AuthVerdict(None, {}, failed=False)
    header = one_line(headers[0], 2000)
    results: dict[str, list[str]] = {}
    for resinfo in _uncommented(header).split(";")[1:]:
        match = _RESULT.match(resinfo)
        if match:
            results.setdefault(match.group(1).lower(), []).append(match.group(2).lower())
    failed = any(set(results.get(m, [])) & bad for m, bad in _FAILING.items()
                 if not (m == "dkim" and "pass" in results.get(m, [])))
    return AuthVerdict(header, results, failed)
