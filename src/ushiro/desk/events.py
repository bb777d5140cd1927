"""Extension points for domains built on the desk (imports run one way: they import the
desk, never the reverse).

A domain registers its functions here when it is imported; the desk calls whatever is
registered and works the same when nothing is.

- :func:`on_request_created`: ``func(session, request)`` runs inside the transaction that
  opens a request (every channel), so work it enqueues as a durable job commits together
  with the request. The desk runs jobs after the commit.
- :func:`on_request_classified`: ``func(session, request)`` runs inside the transaction
  that changes a request's work type or category (a person sorting a mail request, say),
  after the change; same rules as ``on_request_created``.
- :func:`provide_instant_answer`: ``func(rt, principal, request_id, generate)`` gives the
  portal chat an answer to show the employee right away (``generate``: the employee has
  just asked, so the provider may compute one; otherwise it only shows what it has).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ushiro.core.runtime import Runtime
from ushiro.desk.models import Request
from ushiro.identity import Principal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstantCitation:
    document: str
    section: str
    version: int


@dataclass(frozen=True)
class InstantAnswer:
    """An answer shown in the chat before a person has looked at the request."""

    answer: str
    citations: list[InstantCitation] = field(default_factory=list)
    message_id: int | None = None  # the reply it was sent as (auto-send); None: suggested


RequestCreated = Callable[[Session, Request], None]
InstantAnswerProvider = Callable[[Runtime, Principal, int, bool], InstantAnswer | None]
_created: list[RequestCreated] = []
_classified: list[RequestCreated] = []
_instant: list[InstantAnswerProvider] = []


def on_request_created(func: RequestCreated) -> RequestCreated:
    if func not in _created:
        _created.append(func)
    return func


def on_request_classified(func: RequestCreated) -> RequestCreated:
    if func not in _classified:
        _classified.append(func)
    return func


def provide_instant_answer(func: InstantAnswerProvider) -> InstantAnswerProvider:
    if func not in _instant:
        _instant.append(func)
    return func


def request_created(session: Session, request: Request) -> None:
    for func in _created:
        func(session, request)


def request_classified(session: Session, request: Request) -> None:
    for func in _classified:
        func(session, request)


def instant_answer(rt: Runtime, principal: Principal, request_id: int, *,
                   generate: bool = False) -> InstantAnswer | None:
    """The first answer a provider gives, or None. The employee's message is stored
    already, so a provider that fails only means a person answers, as without one."""
    for func in _instant:
        try:
            answer = func(rt, principal, request_id, generate)
        except Exception:  # noqa: BLE001 - never lose the chat over an optional answer
            log.exception("instant answer provider failed for request %s", request_id)
            continue
        if answer is not None:
            return answer
    return None
