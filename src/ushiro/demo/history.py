"""The demo company's answered questions: why two categories may show answers at once.

A category reaches ``suggest`` only through its reviews (answers.selfservice: 90 % of the
last 30 reviewed drafts accepted without substantive edit). The sample's ``selfservice``
section holds, per category, past rule questions and how a person reviewed each automatic
draft: sent as it was, touched up (a line added), or rewritten. They go through the real
services: the request, its classification (which enqueues the draft job), the job, the
review, then the administrator switching the category to suggest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ushiro import answers, desk, jobs
from ushiro.answers import ApproveIn, AutomationMode
from ushiro.core.errors import UshiroError
from ushiro.core.runtime import Runtime
from ushiro.desk import Channel, Priority, RequestChange, RequestCreate, Status
from ushiro.identity import Principal, Role, WorkType

log = logging.getLogger(__name__)
TOUCH_UP = "\nご不明な点があれば、経理部までお気軽にお問い合わせください。"


def drain_jobs(rt: Runtime) -> None:
    """Run what the services enqueued (drafts, indexing) now, as the worker would."""
    while sum(jobs.run_pending(rt, limit=200)):
        pass


def _answered(rt: Runtime, item: dict[str, Any], principals: dict[str, Principal],
              categories: dict[str, int]) -> None:
    requester, operator = principals[item["requester"]], principals[item["assignee"]]
    request = desk.submit(rt, requester, RequestCreate(
        title=item["title"], body=item["body"], priority=Priority.NORMAL),
        channel=Channel(item["channel"]))
    desk.change(rt, operator, request.id, RequestChange(
        category_id=categories[item["category"]], work_type=WorkType(item["work_type"]),
        assignee_id=operator.user_id))
    drain_jobs(rt)  # the automatic draft
    draft = answers.drafts_for_request(rt, operator, request.id)[0]
    review = item["review"]
    if draft.abstained or review == "rewritten":
        text, reason = item["answer"], "規程の説明を補足"
    else:
        text = draft.answer + (TOUCH_UP if review == "touched" else "")
        reason = None
    answers.approve(rt, operator, draft.id, ApproveIn(text=text, reason=reason,
                                                      status=Status.RESOLVED))
    desk.change(rt, operator, request.id, RequestChange(status=Status.CLOSED))
    desk.backdate(rt, operator, request.id, timedelta(days=item["days_ago"], hours=3))


def earn_selfservice(rt: Runtime, section: dict[str, Any], principals: dict[str, Principal],
                     categories: dict[str, int],
                     progress: Callable[[], None] | None = None) -> dict[str, str]:
    """Answer the history, then switch its categories to suggest. Returns each category's
    mode (a category whose reviews fall short of the rule stays in draft_only: the demo
    still starts, and says so)."""
    for item in section["history"]:
        _answered(rt, item, principals, categories)
        if progress:
            progress()
    admin = next(p for p in principals.values() if p.role is Role.ADMIN)
    modes = {}
    for name in section["categories"]:
        try:
            modes[name] = answers.set_mode(rt, admin, categories[name],
                                           AutomationMode.SUGGEST).mode.value
        except UshiroError as error:
            log.warning("demo category %s stays in draft_only: %s", name, error)
            modes[name] = AutomationMode.DRAFT_ONLY.value
    return modes
