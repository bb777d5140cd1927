"""Answer drafts: generated from the knowledge base, reviewed by a person, promoted to FAQ.

A draft is made on demand (the desk's button) or automatically after a 判断/案内 request
is received (:mod:`ushiro.answers.hooks`). Retrieval reads as whoever will read the
answer: the requester when the answer reaches them without a person (suggest, auto_send:
their document restrictions apply), otherwise the operator who asked (or the system).

Review: approving stores the edit as a revision (author, diff, reason), then sends the
text through the desk's own reply (by mail for mail requests); rejecting needs a reason.
Every review re-checks the category's self-service mode (:mod:`.selfservice`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ushiro import audit, desk, identity, knowledge
from ushiro.answers import access, compare, repository, selfservice
from ushiro.answers.choices import AutomationMode, DraftStatus, RevisionKind
from ushiro.answers.models import Draft, DraftRevision, FaqPromotion
from ushiro.answers.schemas import ApproveIn, DraftOut, PromoteIn
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.runtime import Runtime
from ushiro.core.text import clean, one_line
from ushiro.desk import MessageKind, ReplyCreate, RequestFacts, Status, request_facts
from ushiro.identity import Principal, Tenant
from ushiro.knowledge import DraftResult, TenantContext, drafter_for

log = logging.getLogger(__name__)

SYSTEM = selfservice.SYSTEM
SYSTEM_LABEL = "自動回答"
K = 5


@dataclass(frozen=True)
class _Author:
    actor: Actor
    label: str

    @classmethod
    def of(cls, who: Principal | Actor) -> _Author:
        if isinstance(who, Principal) and not who.is_system:
            return cls(who.actor, who.name)
        return cls(who.actor if isinstance(who, Principal) else who, SYSTEM_LABEL)


def question_of(facts: RequestFacts) -> str:
    """What the request asks: title and body without the courtesy lines of a mail (人事部
    御中, 営業部の山田です。, よろしくお願いいたします, the signature, quoted mail). The
    drafter counts every word of the question, so those made a mailed rule question look
    off-topic. The title adds nothing when it is the start of the body (chat, mail without
    subject)."""
    # Imported here: recurrence loads numpy, which commands that never draft do not need.
    from ushiro.recurrence import request_text

    title, _, body = request_text(facts.title, facts.body).partition("\n")
    if one_line(facts.body, len(facts.title)) == facts.title:
        title = ""
    return "\n".join(part for part in (title, body) if part) or facts.body


# --- generating -------------------------------------------------------------------------


def system_principal(tenant_id: int) -> Principal:
    """Who drafts on its own (the draft job, the chat's instant answer)."""
    return Principal.system(tenant_id, SYSTEM.label)


def generate_draft(rt: Runtime, who: Principal, request_id: int, *,
                   auto: bool = False) -> Draft | None:
    """Draft an answer to the request. ``who``: a staff member (on demand; a draft they
    asked for is theirs to review) or :func:`system_principal`. ``auto``: only when the
    request has no draft yet; returns None when it had one."""
    facts = access.request_for(rt, who, request_id)
    with rt.db.reading() as session:
        if auto and repository.latest_draft(session, facts.id) is not None:
            return None
        mode = (selfservice.mode_of(session, facts.tenant_id, facts.category_id)
                if auto else AutomationMode.DRAFT_ONLY)
        context = replace(_tenant_context(rt, session, who),
                          team=_team(session, facts.tenant_id, facts.category_id),
                          requester_name=desk.addressed_as(facts.requester_name))
    requester = _requester(rt, facts) if mode.self_service else None
    if requester is None:
        mode = AutomationMode.DRAFT_ONLY  # no self-service for someone we cannot vouch for
    reader = requester if requester is not None and mode.self_service else who
    question = question_of(facts)
    hits = knowledge.search(rt, reader, question, k=K)
    drafter = drafter_for(rt.settings)
    result = drafter.draft(question, hits, context)
    draft = _store(rt, facts, _Author.of(who), question, result, hits, mode,
                   type(drafter).__name__, auto=auto)
    # Only an untouched request is answered by itself: not one a person already took up.
    if (draft is not None and mode is AutomationMode.AUTO_SEND and not draft.abstained
            and facts.status in (Status.NEW.value, Status.TRIAGED.value)):
        _auto_send(rt, draft)
    return draft


def _tenant_context(rt: Runtime, session: Session, principal: Principal) -> TenantContext:
    """The tenant's people and name (masking) and its analyser: the drafter compares the
    question with the passages through the same synonyms as search (ホームオフィス → 在宅勤務).
    The signature is who drafts: their own, else the company's (the system's drafts sign
    with the company's); a request's draft adds the requester as addressed (山田 太郎 → 山田)."""
    tenant_id = principal.tenant_id
    tenant = session.get(Tenant, tenant_id)
    names = [user.name for user, _member in identity.members(session, tenant_id)]
    return TenantContext(user_names=names, tenant_name=tenant.name if tenant else "",
                         analyzer=knowledge.analyzer(rt, principal),
                         signature=identity.reply_signature(session, tenant_id,
                                                            principal.user_id))


def _team(session: Session, tenant_id: int, category_id: int | None) -> str:
    """The department that answers the request's category ("" when not known): named in
    the holding reply when the drafter holds back."""
    if category_id is None:
        return ""
    found = identity.category_with_department(session, tenant_id, category_id=category_id)
    return found[1] if found else ""


def _requester(rt: Runtime, facts: RequestFacts) -> Principal | None:
    """The requester as a member of the tenant, or None (unknown sender, disabled)."""
    if facts.requester_id is None:
        return None
    try:
        return identity.principal(rt.db, facts.requester_id, facts.tenant_id)
    except UshiroError:
        return None


def _citations(result: DraftResult, hits: list[knowledge.SearchHit]) -> list[dict[str, object]]:
    texts = {hit.passage_id: hit.text for hit in hits}
    return [{"document": c.document, "version": c.version, "section": c.section,
             "passage_id": c.passage_id, "text": texts.get(c.passage_id, "")[:4000]}
            for c in result.citations]


def _store(rt: Runtime, facts: RequestFacts, author: _Author, question: str,
           result: DraftResult, hits: list[knowledge.SearchHit], mode: AutomationMode,
           drafter: str, *, auto: bool) -> Draft | None:
    try:
        with rt.db.transaction() as session:
            if auto and repository.latest_draft(session, facts.id) is not None:
                return None
            superseded = repository.supersede_open(session, facts.id)
            draft = Draft(
                tenant_id=facts.tenant_id, request_id=facts.id,
                number=repository.next_number(session, facts.id), category_id=facts.category_id,
                mode=mode.value, drafter=drafter[:50], question=question,
                generated=result.answer, answer=result.answer, abstained=result.abstained,
                reason=(result.reason or "")[:500] or None,
                citations=_citations(result, hits), status=DraftStatus.PROPOSED.value,
                created_by=author.actor.user_id)
            session.add(draft)
            session.flush()
            _revise(session, draft, author, RevisionKind.GENERATED, result.answer, "")
            audit.record(session, tenant_id=facts.tenant_id, actor=author.actor,
                         action="draft.create", object_type="answer_draft", object_id=draft.id,
                         after={"request_id": facts.id, "number": draft.number, "mode": mode.value,
                                "drafter": draft.drafter, "abstained": draft.abstained,
                                "reason": draft.reason, "superseded": superseded,
                                "citations": [f"{c['document']} {c['section']} v{c['version']}"
                                              for c in draft.citations]})
    except IntegrityError:
        if auto:
            return None  # another worker drafted this request at the same moment
        raise UshiroError(ErrorCode.CONFLICT, "同時に別の下書きが作成されました。"
                          "画面を再読み込みしてください。") from None
    return draft


def _revise(session: Session, draft: Draft, author: _Author, kind: RevisionKind, body: str,
            diff: str, reason: str | None = None) -> None:
    session.add(DraftRevision(tenant_id=draft.tenant_id, draft_id=draft.id, kind=kind.value,
                              author_id=author.actor.user_id, author_label=author.label[:254],
                              body=body, diff=diff, reason=reason))


def _auto_send(rt: Runtime, draft: Draft) -> None:
    """auto_send: the answer goes out as the reply at once and the request is resolved; the
    draft is kept, sent by the system. If sending fails, a person takes it as a draft."""
    data = ReplyCreate(body=draft.answer, kind=MessageKind.OUTBOUND, status=Status.RESOLVED)
    try:
        message = desk.system_reply(rt, system_principal(draft.tenant_id), draft.request_id,
                                    data, author_label=SYSTEM_LABEL)
    except UshiroError as error:
        log.warning("automatic answer to request %s not sent: %s", draft.request_id, error)
        return
    with rt.db.transaction() as session:
        found = repository.lock_draft(session, draft.tenant_id, draft.id)
        if found is None or found.status != DraftStatus.PROPOSED.value:
            return
        found.status, found.message_id = DraftStatus.SENT.value, message.id
        found.decided_at, found.edit_ratio = now(), 0.0
        _revise(session, found, _Author.of(SYSTEM), RevisionKind.APPROVE, found.answer, "",
                "自動送信")
        audit.record(session, tenant_id=found.tenant_id, actor=SYSTEM, action="draft.auto_send",
                     object_type="answer_draft", object_id=found.id,
                     after={"request_id": found.request_id, "message_id": message.id})
        draft.status, draft.message_id = found.status, found.message_id


# --- review -----------------------------------------------------------------------------


def _facts_of_draft(rt: Runtime, principal: Principal, draft_id: int) -> RequestFacts:
    with rt.db.reading() as session:
        draft = access.draft_for(rt, session, principal, draft_id)
    return request_facts(rt, principal, draft.request_id)


def _decidable(session: Session, principal: Principal, draft_id: int) -> Draft:
    draft = repository.lock_draft(session, principal.tenant_id, draft_id)
    assert draft is not None, "checked by access.draft_for"
    if not repository.is_open(draft):
        raise UshiroError(ErrorCode.CONFLICT,
                          f"この下書きは既に「{DraftStatus(draft.status).label}」です。"
                          "画面を再読み込みしてください。")
    return draft


def _decide(session: Session, principal: Principal, draft: Draft, facts: RequestFacts) -> None:
    draft.decided_by, draft.decided_at = principal.user_id, now()
    # Reviews count for the category the request is in when it is decided (a request
    # re-categorised by the operator counts where it belongs).
    draft.category_id = facts.category_id


def approve(rt: Runtime, principal: Principal, draft_id: int, data: ApproveIn) -> Draft:
    """Approve (with the operator's edits) and send. The edit is stored as a revision with
    its diff; the reply goes out through the desk. A draft left approved because sending
    failed (no SMTP, say) may be approved again: that retries the sending."""
    text = clean(data.text)
    if not text:
        raise invalid("text", "送信する回答を入力してください。")
    reason = one_line(data.reason or "", 500) or None
    facts = _facts_of_draft(rt, principal, draft_id)
    author = _Author.of(principal)
    with rt.db.transaction() as session:
        draft = _decidable(session, principal, draft_id)
        if text != draft.answer:
            _revise(session, draft, author, RevisionKind.EDIT, text,
                    compare.unified_diff(draft.answer, text), reason)
        draft.answer, draft.status = text, DraftStatus.APPROVED.value
        draft.edit_ratio = compare.edit_ratio(draft.generated, text)
        _decide(session, principal, draft, facts)
        _revise(session, draft, author, RevisionKind.APPROVE, text, "", reason)
        audit.record(session, tenant_id=draft.tenant_id, actor=principal.actor,
                     action="draft.approve", object_type="answer_draft", object_id=draft.id,
                     after={"request_id": draft.request_id, "edit_ratio": draft.edit_ratio,
                            "accepted": _accepted(draft), "reason": reason})
        selfservice.check_fallback(session, rt.settings, draft.tenant_id, draft.category_id)
    reply = ReplyCreate(body=text, kind=MessageKind.OUTBOUND, status=data.status)
    message = desk.reply(rt, principal, draft.request_id, reply)
    with rt.db.transaction() as session:
        found = repository.lock_draft(session, principal.tenant_id, draft_id)
        assert found is not None
        found.status, found.message_id = DraftStatus.SENT.value, message.id
        audit.record(session, tenant_id=found.tenant_id, actor=principal.actor,
                     action="draft.send", object_type="answer_draft", object_id=found.id,
                     after={"message_id": message.id})
    return found


def _accepted(draft: Draft) -> bool | None:
    if draft.status in (DraftStatus.APPROVED.value, DraftStatus.SENT.value):
        return not draft.abstained and compare.accepted(draft.edit_ratio)
    if draft.status == DraftStatus.REJECTED.value:
        return False
    return None


def reject(rt: Runtime, principal: Principal, draft_id: int, reason: str) -> Draft:
    """Reject with a reason (kept as the last revision); nothing is sent."""
    why = one_line(reason, 500)
    if not why:
        raise invalid("reason", "却下の理由を入力してください。")
    facts = _facts_of_draft(rt, principal, draft_id)
    with rt.db.transaction() as session:
        draft = _decidable(session, principal, draft_id)
        draft.status, draft.reject_reason = DraftStatus.REJECTED.value, why
        _decide(session, principal, draft, facts)
        _revise(session, draft, _Author.of(principal), RevisionKind.REJECT, draft.answer, "",
                why)
        audit.record(session, tenant_id=draft.tenant_id, actor=principal.actor,
                     action="draft.reject", object_type="answer_draft", object_id=draft.id,
                     after={"request_id": draft.request_id, "reason": why})
        selfservice.check_fallback(session, rt.settings, draft.tenant_id, draft.category_id)
    return draft


# --- FAQ --------------------------------------------------------------------------------


def faq_text(question: str, answer: str) -> str:
    """One Q&A item (``Q.`` line, ``A.`` and the answer) that the passage splitter keeps as
    one passage: answer lines that would open an article, a question or a heading are
    indented so they stay inside it."""
    lines = [line.rstrip() for line in clean(answer).splitlines()]
    body = [f"A. {lines[0]}" if lines else "A."]
    body += ["　" + line if line[:1] in "第問QqＱ#＃（(" else line for line in lines[1:]]
    return f"Q. {one_line(question, 1000)}\n" + "\n".join(body) + "\n"


def promote_to_faq(rt: Runtime, principal: Principal, draft_id: int,
                   data: PromoteIn) -> tuple[Draft, knowledge.AddResult]:
    """Question + approved answer → the knowledge document ``faq-REQ-n`` (a new version
    when promoted again), which search finds from then on."""
    with rt.db.reading() as session:
        draft = access.draft_for(rt, session, principal, draft_id)
    if draft.status not in (DraftStatus.APPROVED.value, DraftStatus.SENT.value):
        raise UshiroError(ErrorCode.CONFLICT, "FAQ にできるのは承認済みの回答だけです。"
                          "先に下書きを承認して送信してください。")
    question = clean(data.question or "") or draft.question
    answer = clean(data.answer or "") or draft.answer
    facts = access.request_for(rt, principal, draft.request_id)
    name = f"faq-{facts.reference}"
    doc = knowledge.DocumentIn(filename=f"{name}.txt", data=faq_text(question, answer).encode(),
                               name=name, title=f"社内FAQ {facts.reference}")
    added = knowledge.publish_faq(rt, principal, doc)
    with rt.db.transaction() as session:
        row = repository.promotion(session, draft.id)
        if row is None:
            row = FaqPromotion(tenant_id=draft.tenant_id, draft_id=draft.id,
                               document_id=added.document_id, document_name=name,
                               version=added.version, created_by=principal.user_id)
            session.add(row)
        row.version, row.document_id = added.version, added.document_id
        audit.record(session, tenant_id=draft.tenant_id, actor=principal.actor,
                     action="draft.promote", object_type="answer_draft", object_id=draft.id,
                     after={"document": name, "version": added.version,
                            "status": added.status.value})
    return draft, added


# --- reading ----------------------------------------------------------------------------


def drafts_for_request(rt: Runtime, principal: Principal, request_id: int) -> list[DraftOut]:
    """The request's drafts, newest first, each with its revisions."""
    facts = access.request_for(rt, principal, request_id)
    with rt.db.reading() as session:
        drafts = repository.drafts_of(session, facts.id)
        return _outs(session, principal.tenant_id, drafts)


def draft_out(rt: Runtime, principal: Principal, draft_id: int) -> DraftOut:
    with rt.db.reading() as session:
        draft = access.draft_for(rt, session, principal, draft_id)
        return _outs(session, principal.tenant_id, [draft])[0]


def _outs(session: Session, tenant_id: int, drafts: list[Draft]) -> list[DraftOut]:
    ids = [d.id for d in drafts]
    revisions = repository.revisions(session, ids)
    promotions = repository.promotions(session, ids)
    users = {u.id: u.name for u, _m in identity.members(session, tenant_id)}
    out = []
    for d in drafts:
        promoted = promotions.get(d.id)
        out.append(DraftOut.model_validate({
            "id": d.id, "request_id": d.request_id, "number": d.number, "mode": d.mode,
            "drafter": d.drafter, "question": d.question, "generated": d.generated,
            "answer": d.answer, "abstained": d.abstained, "reason": d.reason,
            "citations": d.citations, "status": d.status, "created_at": d.created_at,
            "decided_by": users.get(d.decided_by) if d.decided_by else None,
            "decided_at": d.decided_at, "edit_ratio": d.edit_ratio,
            "accepted": _accepted(d), "reject_reason": d.reject_reason,
            "message_id": d.message_id,
            "faq_document": promoted.document_name if promoted else None,
            "revisions": [{"id": r.id, "kind": r.kind, "author": r.author_label,
                           "created_at": r.created_at, "body": r.body, "diff": r.diff,
                           "reason": r.reason} for r in revisions[d.id]]}))
    return out


def draft_questions(rt: Runtime, principal: Principal, questions: list[str],
                    k: int = 5) -> list[DraftResult]:
    """Drafts for free-standing questions (the `ushiro draft` command): the same retrieval
    and drafter as for requests, with the system's view of the knowledge base."""
    drafter = drafter_for(rt.settings)
    with rt.db.reading() as session:
        context = _tenant_context(rt, session, principal)
    results = []
    for question, hits in knowledge.search_many(rt, principal, questions, k=k):
        results.append(drafter.draft(question, hits, context))
    return results
