"""The closed vocabulary of audit actions.

Every event names one of these actions. The registry says, for each, what a person reads
on the audit page (an English msgid, translated there) and what the event's ``before`` and
``after`` hold, so that an auditor can read an event without knowing the code. ``record``
refuses a name that is not here: a new kind of change is added to this table first.

The table is data about other domains' changes, not code of theirs: audit imports no
domain, so that every domain can record into it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ushiro.core.i18n import N_, _


@dataclass(frozen=True)
class AuditAction:
    name: str
    label: str  # English msgid, shown translated
    before: str = ""  # what ``before`` holds (empty: nothing)
    after: str = ""  # what ``after`` holds

    @property
    def title(self) -> str:
        return _(self.label)


_TABLE: tuple[AuditAction, ...] = (
    # identity
    AuditAction("tenant.create", N_("Company created"), after="slug, name"),
    AuditAction("user.add", N_("User added"), after="email, name, role, departments"),
    AuditAction("user.update", N_("User changed"), "the changed fields' old values",
                "the changed fields' new values (role, departments, name, active)"),
    AuditAction("user.password", N_("Password changed")),
    AuditAction("user.invite", N_("User invited from another company"),
                after="email, role, departments (never the person's name)"),
    AuditAction("invitation.accept", N_("Invitation accepted"), after="role, departments"),
    AuditAction("invitation.decline", N_("Invitation declined")),
    AuditAction("token.create", N_("API token issued"), after="user (e-mail), prefix of the token"),
    AuditAction("token.revoke", N_("API token revoked")),
    AuditAction("department.add", N_("Department added"), after="name"),
    AuditAction("category.add", N_("Category added"), after="name, department_id"),
    AuditAction("category.update", N_("Category changed"), "active (old)", "active (new)"),
    AuditAction("tenant.signature", N_("Company reply signature changed"), "signature (old)",
                "signature (new; empty: none)"),
    AuditAction("user.signature", N_("Own reply signature changed"), "signature (old)",
                "signature (new; empty: the company's)"),
    # desk
    AuditAction("request.create", N_("Request received"),
                after="number, title, channel, category_id, requester (e-mail), tags"),
    AuditAction("request.update", N_("Request changed"), "the changed fields' old values",
                "the changed fields' new values (status, assignee, category, work type…)"),
    AuditAction("request.tags", N_("Tags changed"), "tags (old)", "tags (new)"),
    AuditAction("request.escalate", N_("Request escalated to a person"), "tags (old)",
                "tags (new, with the escalation tag)"),
    AuditAction("request.backdate", N_("Request moved to its real time (history)"),
                "created_at (old)", "created_at (new)"),
    AuditAction("message.add", N_("Message added"), after="message_id, kind, length"),
    AuditAction("message.sent", N_("Mail sent")),
    AuditAction("message.failed", N_("Mail could not be sent"), after="error"),
    AuditAction("mail_account.save", N_("Mail settings saved"),
                after="the settings without passwords"),
    AuditAction("mail_account.encrypt_passwords", N_("Stored mail passwords encrypted"),
                after="fields"),
    AuditAction("mail.quarantine", N_("Mail quarantined"), after="code, reason, sender, size"),
    AuditAction("mail.quarantine_release", N_("Quarantined mail imported again"),
                after="request_id"),
    AuditAction("mail.quarantine_delete", N_("Quarantined mail deleted")),
    # knowledge
    AuditAction("knowledge.document.added", N_("Document added"),
                after="name, title, version, departments, roles"),
    AuditAction("knowledge.document.new_version", N_("New version of a document"),
                after="name, title, version, departments, roles"),
    AuditAction("knowledge.document.unchanged", N_("Document uploaded again unchanged"),
                after="name, title, version, departments, roles"),
    AuditAction("knowledge.document.update", N_("Document details changed"),
                "the changed fields' old values", "the changed fields' new values"),
    AuditAction("knowledge.document.restrict", N_("Document access changed"),
                "departments, roles (old)", "departments, roles (new)"),
    AuditAction("knowledge.document.retire", N_("Document taken out of search"),
                "name, version", "status"),
    AuditAction("knowledge.synonyms.seed", N_("Synonym dictionary set up"), after="pairs"),
    AuditAction("knowledge.synonyms.add", N_("Synonyms added"), after="canonical, variants, rows"),
    AuditAction("knowledge.synonyms.remove", N_("Synonyms removed"),
                after="canonical, variants, rows"),
    # answers
    AuditAction("draft.create", N_("Reply draft written"),
                after="request_id, number, mode, drafter, abstained, citations"),
    AuditAction("draft.approve", N_("Reply draft approved"),
                after="request_id, edit_ratio, accepted, reason"),
    AuditAction("draft.send", N_("Approved draft sent"), after="message_id"),
    AuditAction("draft.auto_send", N_("Draft sent without review (self-service)"),
                after="request_id, message_id"),
    AuditAction("draft.reject", N_("Reply draft rejected"), after="request_id, reason"),
    AuditAction("draft.promote", N_("Answer made an FAQ entry"), after="document, version, status"),
    AuditAction("automation.set", N_("Self-service mode changed"), "mode (old)",
                "mode (new) and the acceptance figures it was based on"),
    AuditAction("automation.fallback", N_("Self-service withdrawn automatically"), "mode (old)",
                "mode (new) and the acceptance figures that fell short"),
)

ACTIONS: dict[str, AuditAction] = {action.name: action for action in _TABLE}


def action(name: str) -> AuditAction:
    """The registered action; ``ValueError`` for a name nobody registered (a bug)."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise ValueError(f"unregistered audit action {name!r}: add it to audit/actions.py") \
            from None


def label(name: str) -> str:
    """What the audit page shows for a stored action (older, unknown names as they are)."""
    found = ACTIONS.get(name)
    return found.title if found is not None else name
