#!/usr/bin/env python
"""HTML-only mail parsing benchmark: time and peak RSS of ``parse_mail`` on one HTML-only
mail of SIZE MB (default 20) of table rows, with the default limits (docs/mail.md).

Not a test: it prints figures. Run in a fresh process (peak RSS is the process's)::

    python bench/mail_html.py 20
"""

from __future__ import annotations

import resource
import sys
import time
from email.message import EmailMessage

from ushiro.core.settings import Settings
from ushiro.desk.mail.parse import mail_limits, parse_mail

ROW = "<tr><td class='c'>項目</td><td><b>経費精算</b> の申請です。</td></tr>\n"


def html_mail(megabytes: int) -> bytes:
    html = ("<html><body><table>" + ROW * (megabytes * 1024 * 1024 // len(ROW.encode()))
            + "</table></body></html>")
    msg = EmailMessage()
    msg["From"] = "kenta.tanaka@example.co.jp"
    msg["Subject"] = "HTML のみの大きなメール"
    msg["Message-ID"] = "<bench.html@example.co.jp>"
    msg.set_content(html, subtype="html", charset="utf-8", cte="8bit")
    return msg.as_bytes()


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    raw = html_mail(megabytes)
    settings = Settings(max_mail_bytes=len(raw) + 1)
    started = time.perf_counter()
    mail = parse_mail(raw, max_bytes=settings.max_mail_bytes, limits=mail_limits(settings))
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"mail {len(raw) / 1e6:.1f} MB  parse {elapsed:.2f} s  body {len(mail.body):,} chars"
          f"  cut {mail.cut}  peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
