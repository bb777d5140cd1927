"""Mail: intake from IMAP or files, delivery of replies by SMTP, the account, quarantine.

The rest of desk uses what is exported here. Importing this package registers the
``desk.send_reply`` job (outbound.py), so the worker and the app always know it. The pages
(views.py) are imported by desk/views.py only, since they need the web toolkit.

- parse.py, text.py, auth.py: one raw mail to a ParsedMail (limits, charsets, HTML,
  Authentication-Results); building a reply;
- intake.py: import, receive (or quarantine), poll, threading into a request;
- outbound.py: the SMTP send job and its delivery state;
- account.py: the account settings and its encrypted passwords;
- mailbox.py: the IMAP and SMTP clients; quarantine.py: mail that could not be imported;
- queries.py: what intake noted about a request's mails (permission-checked);
- repository.py: mail-only SQL; schemas.py: the shapes above.
"""

from ushiro.desk.mail.account import get_account, save_account, settings_page
from ushiro.desk.mail.intake import import_mail, poll, receive, release
from ushiro.desk.mail.outbound import send_reply
from ushiro.desk.mail.parse import reply_subject
from ushiro.desk.mail.quarantine import Quarantined
from ushiro.desk.mail.queries import mail_notes
from ushiro.desk.mail.schemas import (
    MAIL_ACTOR,
    ImportResult,
    MailAccountIn,
    MailNoteOut,
    PollResult,
)

__all__ = [
    "MAIL_ACTOR", "ImportResult", "MailAccountIn", "MailNoteOut", "PollResult", "Quarantined",
    "get_account", "import_mail", "mail_notes", "poll", "receive", "release", "reply_subject",
    "save_account", "send_reply", "settings_page",
]
