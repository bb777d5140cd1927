"""What the answers domain plugs into the desk (registered on import; see desk.events).

- A 判断 (judgment) or 案内 (guidance) request gets a draft right after it is received: the
  desk's "request created" event enqueues the durable job ``answers.draft_request`` in the
  transaction that stores the request; the job runs after the commit. A tenant without
  knowledge documents gets no automatic drafts (there is nothing to cite).
  The same when a person later classifies a request as 判断 or 案内 (mail and uncategorised
  chat arrive without a work type).
- The portal chat asks for an instant answer: in a ``suggest`` or ``auto_send`` category
  the employee sees the cited answer (drafted now if the job has not run yet).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ushiro import jobs, knowledge
from ushiro.answers import repository, service
from ushiro.answers.choices import AutomationMode, DraftStatus
from ushiro.answers.models import Draft
from ushiro.core.runtime import Runtime
from ushiro.desk import (
    InstantAnswer,
    InstantCitation,
    Request,
    on_request_classified,
    on_request_created,
    provide_instant_answer,
    request_facts,
)
from ushiro.identity import Principal, WorkType

DRAFT_WORK_TYPES = frozenset({WorkType.JUDGMENT.value, WorkType.GUIDANCE.value})
JOB = "answers.draft_request"


@on_request_created
@on_request_classified
def draft_new_request(session: Session, request: Request) -> None:
    """Also when a person sorts a request into 判断 or 案内 later (mail arrives without a
    category): the job leaves a request that has a draft alone."""
    # Checked here, not only in the job: a tenant without documents would otherwise pay
    # two more write transactions (the job's claim and finish) for every request.
    if request.work_type in DRAFT_WORK_TYPES and knowledge.has_documents(session,
                                                                         request.tenant_id):
        jobs.enqueue(session, JOB, {"request_id": request.id, "tenant_id": request.tenant_id},
                     tenant_id=request.tenant_id)


@jobs.handler(JOB)
def draft_request_job(rt: Runtime, payload: dict[str, Any]) -> None:
    """Idempotent: a request that has a draft already is left alone."""
    tenant_id = int(payload["tenant_id"])
    system = service.system_principal(tenant_id)
    if not knowledge.counts(rt, system).get("documents"):
        return
    service.generate_draft(rt, system, int(payload["request_id"]), auto=True)


def _shown(draft: Draft | None) -> bool:
    return (draft is not None and draft.mode != AutomationMode.DRAFT_ONLY.value
            and not draft.abstained
            and draft.status not in (DraftStatus.REJECTED.value, DraftStatus.SUPERSEDED.value))


@provide_instant_answer
def instant_answer(rt: Runtime, principal: Principal, request_id: int,
                   generate: bool) -> InstantAnswer | None:
    """The automatic draft of the request, for its requester. An abstention (or a draft a
    person rejected) shows nothing: the request simply waits for a person."""
    facts = request_facts(rt, principal, request_id)  # own requests
    with rt.db.reading() as session:
        draft = repository.first_draft(session, facts.id)
    if draft is None and generate and knowledge.counts(rt, principal).get("documents"):
        service.generate_draft(rt, service.system_principal(facts.tenant_id), facts.id,
                               auto=True)
        with rt.db.reading() as session:
            draft = repository.first_draft(session, facts.id)
    if draft is None or not _shown(draft):
        return None
    by_system = draft.status == DraftStatus.SENT.value and draft.decided_by is None
    citations = [InstantCitation(str(c["document"]), str(c["section"]),
                                        int(c["version"])) for c in draft.citations]
    # What the employee was shown is the generated text, even if a person edits it later.
    return InstantAnswer(draft.generated, citations,
                                draft.message_id if by_system else None)
