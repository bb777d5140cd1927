"""The tenant's mail account: the admin page, saving it, and its passwords, encrypted at
rest with the instance key (core/secretbox).

Rows saved before encryption hold the password in plain text. They keep working, and the
first use (a poll or a reply sent) re-encrypts them: lazy migration, because a migration
script has no instance key to encrypt with.
"""

from __future__ import annotations

from dataclasses import dataclass

from ushiro import audit
from ushiro.core import secretbox
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.runtime import Runtime
from ushiro.desk import repository
from ushiro.desk.choices import MailSecurity
from ushiro.desk.mail import quarantine
from ushiro.desk.mail.schemas import MAIL_ACTOR, MailAccountIn
from ushiro.desk.models import MailAccount
from ushiro.identity import Principal, Role, require

PURPOSE = "mail-account-password"
_FIELDS = ("imap_password", "smtp_password")


@dataclass(frozen=True)
class Login:
    imap_password: str
    smtp_password: str


def seal_password(rt: Runtime, plain: str) -> str:
    return secretbox.seal(rt.settings.resolved_secret_key(), PURPOSE, plain)


def credentials(rt: Runtime, account: MailAccount) -> Login:
    """The plain passwords of ``account``; plain-text rows are encrypted on the way."""
    key = rt.settings.resolved_secret_key()
    try:
        plain = {f: secretbox.open_sealed(key, PURPOSE, getattr(account, f) or "")
                 for f in _FIELDS}
    except secretbox.UnreadableSecret:
        raise UshiroError(ErrorCode.MAIL_NOT_CONFIGURED,
                          "保存されているメールのパスワードを復号できません(インスタンスの鍵が"
                          "変わった可能性があります)。管理画面の「メール設定」でパスワードを"
                          "入力し直してください。") from None
    legacy = [f for f in _FIELDS if getattr(account, f) and not secretbox.is_sealed(getattr(account, f))]
    if legacy:
        _encrypt_legacy(rt, account.tenant_id, legacy)
    return Login(**plain)


def _encrypt_legacy(rt: Runtime, tenant_id: int, fields: list[str]) -> None:
    with rt.db.transaction() as session:
        stored = repository.mail_account(session, tenant_id)
        if stored is None:
            return
        for name in fields:
            value = getattr(stored, name)
            if value and not secretbox.is_sealed(value):
                setattr(stored, name, seal_password(rt, value))
        audit.record(session, tenant_id=tenant_id, actor=MAIL_ACTOR,
                     action="mail_account.encrypt_passwords", object_type="mail_account",
                     object_id=tenant_id, after={"fields": fields})

@dataclass(frozen=True)
class MailSettingsPage:
    account: MailAccount | None
    quarantined: list[quarantine.QuarantineOut]


def settings_page(rt: Runtime, principal: Principal) -> MailSettingsPage:
    """The admin mail page: the account and the mail held in quarantine."""
    return MailSettingsPage(get_account(rt, principal), quarantine.listing(rt, principal))


def get_account(rt: Runtime, principal: Principal) -> MailAccount | None:
    require(principal, Role.ADMIN)
    with rt.db.reading() as session:
        return repository.mail_account(session, principal.tenant_id)


def save_account(rt: Runtime, principal: Principal, data: MailAccountIn) -> None:
    """Admins edit the mailbox; a blank password field keeps the stored password."""
    require(principal, Role.ADMIN)
    if data.address and "@" not in data.address:
        raise invalid("address", "送信元アドレスの形式が正しくありません。")
    actor, tenant_id = principal.actor, principal.tenant_id
    with rt.db.transaction() as session:
        account = repository.mail_account(session, tenant_id)
        if account is None:
            account = MailAccount(tenant_id=tenant_id)
            session.add(account)
        values = data.model_dump()
        for key, value in values.items():
            if key.endswith("password"):
                if value:  # blank keeps the stored one
                    setattr(account, key, seal_password(rt, str(value)))
                continue
            setattr(account, key, value.value if isinstance(value, MailSecurity) else value)
        account.updated_at = now()
        shown = {k: v for k, v in values.items() if not k.endswith("password")}
        audit.record(session, tenant_id=tenant_id, actor=actor, action="mail_account.save",
                     object_type="mail_account", object_id=tenant_id, after=shown)
