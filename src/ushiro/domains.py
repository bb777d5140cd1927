"""The one list of Ushiro's domains, read by the app, the CLI, migrations and backup.

Adding a domain means adding its package and one :class:`Domain` entry here; nothing else
names it. Each entry says, as ``"module"`` or ``"module:attribute"`` strings:

* ``models``: the module whose import defines the domain's tables. Migrations compare
  them with the database and backup copies every table (:func:`tables`).
* ``routers``: FastAPI routers (API and pages), included by the app in this order.
* ``templates``: whether ``<package>/templates/`` holds the domain's Jinja2 templates.
* ``commands``: ``(name, target)`` pairs of the ``ushiro`` command: a Typer app becomes a
  command group, a function a single command.
* ``panels``: side panels of the desk request page, ``provider(rt, principal, request)``
  (contract in ``ushiro.desk.panels``), shown in this list's order.
* ``hooks``: modules that subscribe to other domains' events or register job handlers
  when imported; the app, the worker and every command load them before any work.
* ``stored_files``: ``"table.column"`` that hold the digest of a file in the
  content-addressed store (``ushiro files gc`` keeps every file they name).

The targets are strings, imported on first use, so that this module imports no domain:
the composition points (app, CLI, migrations, backup, maintenance) depend on it, not the
domains, and the import contracts keep checking the domains' own imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Table

from ushiro.core.db import Base

ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Domain:
    name: str
    models: str | None = None
    routers: tuple[str, ...] = ()
    templates: bool = False
    commands: tuple[tuple[str, str], ...] = ()
    panels: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()
    stored_files: tuple[str, ...] = ()


DOMAINS: tuple[Domain, ...] = (
    Domain("jobs", models="ushiro.jobs.models"),
    Domain("audit", models="ushiro.audit.models",
           commands=(("audit", "ushiro.audit.cli:audit_app"),)),
    Domain("identity", models="ushiro.identity.models",
           routers=("ushiro.identity.views:router",), templates=True,
           commands=(("user", "ushiro.identity.cli:user_app"),
                     ("token", "ushiro.identity.cli:token_app"))),
    Domain("desk", models="ushiro.desk.models",
           routers=("ushiro.desk.api:router", "ushiro.desk.views:router"), templates=True,
           commands=(("mail", "ushiro.desk.cli:mail_app"),),
           panels=("ushiro.desk.mail.views:mail_panel",),
           hooks=("ushiro.desk.mail.outbound",),  # the SMTP send job
           stored_files=("attachments.sha256", "mail_quarantine.sha256")),
    Domain("auditlog", routers=("ushiro.auditlog.views:router",), templates=True),
    Domain("knowledge", models="ushiro.knowledge.models",
           routers=("ushiro.knowledge.views:router",), templates=True,
           commands=(("kb", "ushiro.knowledge.cli:kb_app"),),
           stored_files=("kb_versions.sha256",)),
    Domain("answers", models="ushiro.answers.models",
           routers=("ushiro.answers.api:router", "ushiro.answers.views:router"),
           templates=True,
           commands=(("answers", "ushiro.answers.cli:answers_app"),
                     ("draft", "ushiro.answers.cli:draft")),
           panels=("ushiro.answers.views:draft_panel",),
           hooks=("ushiro.answers.hooks",)),
    Domain("recurrence", routers=("ushiro.recurrence.views:router",), templates=True,
           panels=("ushiro.recurrence:panel",)),
    # Operations, not a domain: its one page (the job backlog, /admin/jobs) is served here.
    Domain("maintenance", routers=("ushiro.maintenance.views:router",), templates=True),
)


def resolve(target: str) -> Any:
    """``"module:attribute"`` → the attribute; ``"module"`` → the module."""
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def _each(field: str) -> Iterator[Any]:
    for domain in DOMAINS:
        yield from getattr(domain, field)


def load_models() -> None:
    for domain in DOMAINS:
        if domain.models:
            importlib.import_module(domain.models)


def tables() -> list[Table]:
    """Every table of every domain, parents before children."""
    load_models()
    return list(Base.metadata.sorted_tables)


@cache
def load_hooks() -> None:
    """Subscribe every domain to the events and jobs it handles (once per process), and
    give the desk request page its panels."""
    load_models()
    for module in _each("hooks"):
        importlib.import_module(module)
    from ushiro import desk  # composition: desk's panel registry receives the providers

    for target in _each("panels"):
        desk.register_panel(resolve(target))


def routers() -> list[Any]:
    return [resolve(target) for target in _each("routers")]


def template_dirs() -> list[Path]:
    return [ROOT / d.name / "templates" for d in DOMAINS if d.templates]


def commands() -> list[tuple[str, Any]]:
    return [(name, resolve(target)) for name, target in _each("commands")]


def stored_file_columns() -> list[tuple[str, str]]:
    return [(item.partition(".")[0], item.partition(".")[2]) for item in _each("stored_files")]
