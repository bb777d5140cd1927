"""Load ``data/sample_company.json`` through the same services the desk uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from importlib import resources
from typing import Any

from ushiro import desk, identity
from ushiro.audit import Actor
from ushiro.core.errors import UshiroError
from ushiro.core.runtime import Runtime
from ushiro.demo.history import drain_jobs, earn_selfservice
from ushiro.demo.rules import RULES_TENANT, add_rules
from ushiro.desk import (
    Channel,
    MessageKind,
    Priority,
    ReplyCreate,
    RequestChange,
    RequestCreate,
    Status,
)
from ushiro.identity import Principal, Role, UserIn, WorkType

DEMO_PASSWORD = "ushiro-demo-2026"
DEMO_ACTOR = Actor(None, "demo")


def sample() -> dict[str, Any]:
    text = resources.files("ushiro.demo").joinpath("data/sample_company.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _mail(item: dict[str, Any], requester_name: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{requester_name} <{item['requester']}>"
    msg["To"] = "desk@example.co.jp"
    msg["Subject"] = item["title"]
    msg["Message-ID"] = make_msgid(domain="demo.ushiro.local")
    msg.set_content(item["body"])
    return msg.as_bytes()


def _create(rt: Runtime, tenant_id: int, item: dict[str, Any],
            principals: dict[str, Principal]) -> int:
    requester = principals[item["requester"]]
    if item["channel"] == Channel.MAIL.value:
        return desk.import_mail(rt, Principal.system(tenant_id, DEMO_ACTOR.label),
                                _mail(item, requester.name)).request_id
    data = RequestCreate(title=item["title"][:300], body=item["body"],
                         priority=Priority(item["priority"]), tags=item.get("tags", []))
    return desk.submit(rt, requester, data, channel=Channel(item["channel"])).id


def _work(rt: Runtime, request_id: int, item: dict[str, Any],
          principals: dict[str, Principal], categories: dict[str, int]) -> None:
    staff = next(p for p in principals.values() if p.role is Role.ADMIN)
    assignee = principals.get(item.get("assignee") or "")
    final = Status(item["status"])
    desk.change(rt, staff, request_id, RequestChange(
        category_id=categories[item["category"]], work_type=WorkType(item["work_type"]),
        priority=Priority(item["priority"]),
        assignee_id=assignee.user_id if assignee else None, tags=item.get("tags", []),
        status=Status.NEW if final is Status.NEW else None))
    for message in item.get("messages", []):
        # Sample history may have colleagues helping outside their departments.
        author = replace(principals[message["author"]], department_ids=frozenset())
        if message["kind"] == "inbound":
            desk.follow_up(rt, author, request_id, message["body"])
        else:
            desk.reply(rt, author, request_id,
                          ReplyCreate(body=message["body"], kind=MessageKind(message["kind"])),
                          record_only=True)
    if final is not desk.status_of(rt, staff, request_id):
        try:
            desk.change(rt, staff, request_id, RequestChange(status=final))
        except UshiroError:
            pass  # the sample's history allows no such step; keep the reached status
    desk.backdate(rt, staff, request_id, timedelta(days=item["days_ago"], hours=3))


def _people(rt: Runtime, data: dict[str, Any], tenants: dict[str, int]) -> None:
    for user in data["users"]:
        for slug in user["tenants"]:
            identity.add_user(rt.db, Principal.system(tenants[slug], DEMO_ACTOR.label), UserIn(
                email=user["email"], name=user["name"], role=Role(user["role"]),
                password=DEMO_PASSWORD, departments=user.get("departments", [])),
                join_existing=True)  # the sample people work for both companies


def _members(rt: Runtime, tenants: dict[str, int]) -> tuple[
        dict[int, dict[str, Principal]], dict[int, dict[str, int]]]:
    principals: dict[int, dict[str, Principal]] = {}
    categories: dict[int, dict[str, int]] = {}
    with rt.db.reading() as session:
        for tenant_id in tenants.values():
            principals[tenant_id] = {u.email: identity.principal(rt.db, u.id, tenant_id)
                                     for u, _m in identity.members(session, tenant_id)}
            categories[tenant_id] = {c.name: c.id for c in
                                     identity.categories(session, tenant_id)}
    return principals, categories


def load_demo(rt: Runtime, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Create the sample tenants, users, the demo company's rules, its answered history
    (which earns two categories suggest mode) and the requests, each 判断/案内 request
    with its automatic draft. Returns what to print."""
    data = sample()
    tenants = {t["slug"]: identity.create_tenant(rt.db, DEMO_ACTOR, t["slug"], t["name"]).id
               for t in data["tenants"]}
    _people(rt, data, tenants)
    principals, categories = _members(rt, tenants)
    company = tenants[RULES_TENANT]
    documents = add_rules(rt, Principal.system(company, DEMO_ACTOR.label))
    history = data["selfservice"]["history"]
    total, done = len(history) + len(data["requests"]), 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    modes = earn_selfservice(rt, data["selfservice"], principals[company],
                             categories[company], step)
    for item in data["requests"]:
        tenant_id = tenants[item["tenant"]]
        request_id = _create(rt, tenant_id, item, principals[tenant_id])
        _work(rt, request_id, item, principals[tenant_id], categories[tenant_id])
        step()
    drain_jobs(rt)  # the automatic drafts of the requests
    return {"tenants": data["tenants"], "users": data["users"], "password": DEMO_PASSWORD,
            "requests": len(data["requests"]), "history": len(history),
            "documents": [d.name for d in documents], "suggest": modes}
