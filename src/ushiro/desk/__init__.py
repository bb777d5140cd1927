"""Requests (tickets), messages, intake channels (portal, chat, mail, API) and the queue.

Other packages use what is exported here: the use cases (submit, reply, follow up,
change, import mail), the permission-checked reads (a request, briefs, the texts that
indexes are built from, a request's facts for drafting), the events that domains above
desk subscribe to, and the side panels they add to the request page.
"""

from ushiro.desk.access import require_staff
from ushiro.desk.choices import Channel, MessageKind, Priority, Status
from ushiro.desk.events import (
    InstantAnswer,
    InstantCitation,
    on_request_classified,
    on_request_created,
    provide_instant_answer,
)
from ushiro.desk.history import backdate, status_of
from ushiro.desk.mail import import_mail
from ushiro.desk.models import Request
from ushiro.desk.panels import register as register_panel
from ushiro.desk.queries import (
    RequestBrief,
    RequestFacts,
    RequestText,
    briefs,
    get_request,
    last_request,
    recent_briefs,
    reply_template,
    request_facts,
    texts_since,
)
from ushiro.desk.salutation import ReplyTemplate, addressed_as, greeting
from ushiro.desk.schemas import (
    QueueFilter,
    ReplyCreate,
    RequestChange,
    RequestCreate,
    RequestOut,
    Upload,
)
from ushiro.desk.service import change, follow_up, reply, submit, system_reply

__all__ = [
    "Channel", "InstantAnswer", "ReplyTemplate", "addressed_as", "greeting", "reply_template", "InstantCitation", "MessageKind", "Priority", "QueueFilter",
    "ReplyCreate", "Request", "RequestBrief", "RequestChange", "RequestCreate", "RequestFacts",
    "RequestOut", "RequestText", "Status", "Upload", "backdate", "briefs", "change",
    "follow_up", "get_request", "import_mail", "last_request", "on_request_classified",
    "on_request_created", "provide_instant_answer", "recent_briefs", "register_panel",
    "reply", "request_facts", "require_staff", "status_of", "submit", "system_reply",
    "texts_since",
]
