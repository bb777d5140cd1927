"""Opening a request: the portal form, the API (with idempotency keys) and the chat."""

from __future__ import annotations

import hashlib

from sqlalchemy.exc import IntegrityError

from ushiro import identity
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.runtime import Runtime
from ushiro.core.text import clean, one_line
from ushiro.desk import repository
from ushiro.desk.access import access_request_by_id
from ushiro.desk.choices import Channel
from ushiro.desk.models import Request
from ushiro.desk.schemas import RequestCreate, Submitted, Upload
from ushiro.desk.service.common import (
    category_named,
    check_uploads,
    clean_tags,
    open_request,
    store_uploads,
)
from ushiro.desk.service.replies import follow_up
from ushiro.identity import Principal

MAX_IDEMPOTENCY_KEY = 1000
_KEY_FIELD = "Idempotency-Key"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _idempotency(key: str | None, data: RequestCreate) -> tuple[str, str] | None:
    """Digests of the whole key and of the payload it came with: any length of key is
    stored in 64 characters, and no two keys share a stored value by a common prefix."""
    if key is None:
        return None
    key = key.strip()
    if not key:
        raise invalid(_KEY_FIELD, "Idempotency-Key ヘッダーが空です。"
                                  "再送を安全にする一意の文字列を指定するか、ヘッダーを省いてください。")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise invalid(_KEY_FIELD, f"Idempotency-Key ヘッダーが長すぎます({len(key):,} 文字)。"
                                  f"{MAX_IDEMPOTENCY_KEY:,} 文字以内にしてください。")
    return _digest(key), _digest(data.model_dump_json())


def _replayed(rt: Runtime, principal: Principal, idem: tuple[str, str]) -> Request | None:
    """The request this user stored under the key; refused when the key came with another
    payload then (answering the first request would lose the second)."""
    with rt.db.reading() as session:
        found = repository.request_by_idempotency_key(session, principal.tenant_id,
                                                      principal.user_id, idem[0])
    if found is not None and found.idempotency_payload not in (None, idem[1]):
        raise UshiroError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                          f"この Idempotency-Key は別の内容の申請(REQ-{found.number})に使われています。"
                          "新しい申請には新しいキーを指定してください。", field=_KEY_FIELD)
    return found


def submit(rt: Runtime, principal: Principal, data: RequestCreate, *, channel: Channel,
           uploads: list[Upload] | None = None, idempotency_key: str | None = None) -> Request:
    """A signed-in user (portal, chat, API) opens a request. A repeated idempotency key
    returns the request stored the first time instead of a second one."""
    return submit_request(rt, principal, data, channel=channel, uploads=uploads,
                          idempotency_key=idempotency_key).request


def submit_request(rt: Runtime, principal: Principal, data: RequestCreate, *,
                   channel: Channel, uploads: list[Upload] | None = None,
                   idempotency_key: str | None = None) -> Submitted:
    """:func:`submit`, telling whether the request is new and what its answer names."""
    uploads = uploads or []
    title, body = _clean_text(rt, data.title, data.body)
    check_uploads(rt, uploads)
    idem = _idempotency(idempotency_key, data)
    try:
        # No look-up of the key first: the unique (tenant, key) constraint refuses a replay,
        # and a replay is rare, a first delivery the rule (one query less per request).
        with rt.db.transaction() as session:
            chosen = category_named(session, principal.tenant_id, data.category)
            tags = clean_tags(data.tags)
            request = open_request(
                session, tenant_id=principal.tenant_id, title=title, body=body, channel=channel,
                category=chosen[0] if chosen else None, priority=data.priority,
                actor=principal.actor, requester=(principal.user_id, principal.email,
                                                  principal.name),
                tags=tags, idempotency=idem)
            store_uploads(rt, session, request, None, uploads)
    except IntegrityError:
        if idem is None:
            raise
        # A replay, or two deliveries of the same key raced: the stored one is the answer.
        found = _replayed(rt, principal, idem)
        if found is None:
            raise
        return Submitted(found, created=False)
    return Submitted(request, created=True, category=chosen[0].name if chosen else None,
                     department=chosen[1] if chosen else None, tags=tuple(tags))


def _clean_text(rt: Runtime, title: str, body: str) -> tuple[str, str]:
    title, body = one_line(title, 300), clean(body)
    if not title:
        raise invalid("title", "件名を入力してください。")
    if not body:
        raise invalid("body", "内容を入力してください。")
    if len(body) > rt.settings.max_body_chars:
        raise invalid("body", f"内容が長すぎます。{rt.settings.max_body_chars:,} 文字以内にしてください。")
    return title, body


def _guessed_category(rt: Runtime, principal: Principal, body: str) -> str | None:
    """The category the question's words point to (identity.guess_category), so that its
    work type and self-service mode apply as if the employee had chosen it."""
    with rt.db.reading() as session:
        cats = identity.categories(session, principal.tenant_id, active_only=True)
    found = identity.guess_category(body, [(c.id, c.name) for c in cats])
    return None if found is None else str(found)


def chat_send(rt: Runtime, principal: Principal, request_id: int | None, text: str,
              category: str | None = None) -> Request:
    """The portal chat: the first message opens a request (in ``category`` when the
    employee chose one, else in the one its words point to), later ones join it."""
    body = clean(text)
    if not body:
        raise invalid("message", "メッセージを入力してください。")
    if request_id is None:
        chosen = category or _guessed_category(rt, principal, body)
        data = RequestCreate(title=one_line(body, 60), body=body, category=chosen)
        return submit(rt, principal, data, channel=Channel.CHAT)
    follow_up(rt, principal, request_id, body)
    with rt.db.reading() as session:
        return access_request_by_id(session, principal, request_id)

