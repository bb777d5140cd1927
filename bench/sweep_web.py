"""The sweep's HTTP attacks: cross-tenant access, CSRF, escaping, idempotency, input
validation, and the smaller leaks seen over HTTP. See sweep.py and README.md."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sweep import Actor, Answer, Results, Target, ids_in, sample, strip_volatile

# --------------------------------------------------------------------------- routes


@dataclass
class Route:
    method: str
    path: str
    path_params: list[str]
    query: list[tuple[str, str]]          # (name, annotation)
    form: list[tuple[str, str]]           # (name, annotation) of Form/File fields
    json_body: bool
    page: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _flat(dependant: Any, acc: dict[str, list[Any]]) -> dict[str, list[Any]]:
    acc["path"] += dependant.path_params
    acc["query"] += dependant.query_params
    acc["body"] += dependant.body_params
    for sub in dependant.dependencies:
        _flat(sub, acc)
    return acc


def _api_routes(routes: list[Any]) -> list[Any]:
    out = []
    for r in routes:
        if hasattr(r, "original_router"):      # FastAPI ≥ 0.16x keeps included routers
            out += _api_routes(r.original_router.routes)
        else:
            out.append(r)
    return out


def route_table() -> list[Route]:
    """Every route of the app, from its own route table (pages are not in OpenAPI)."""
    from fastapi import FastAPI
    from fastapi.routing import APIRoute

    from ushiro import domains

    app = FastAPI()
    for router in domains.routers():
        app.include_router(router)
    table = []
    for r in _api_routes(app.routes):
        if not isinstance(r, APIRoute):
            continue
        acc = _flat(r.dependant, {"path": [], "query": [], "body": []})
        form = [(p.name, str(p.field_info.annotation)) for p in acc["body"]
                if type(p.field_info).__name__ in ("Form", "File")]
        json_body = any(type(p.field_info).__name__ == "Body" for p in acc["body"])
        for method in sorted(r.methods - {"HEAD"}):
            table.append(Route(method, r.path, [p.name for p in acc["path"]],
                               [(p.name, str(p.field_info.annotation)) for p in acc["query"]],
                               form, json_body, not r.path.startswith("/api/")))
    return table


def openapi_routes(actor: Actor) -> set[str]:
    doc = actor.call("GET", "/api/v1/openapi.json").json() or {}
    return {f"{m.upper()} {p}" for p, ops in doc.get("paths", {}).items() for m in ops}


def fill(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


# What kind of object an id names, by parameter name.
PATH_KINDS = {"request_id": "request", "attachment_id": "attachment", "draft_id": "draft",
              "document_id": "document", "category_id": "category", "user_id": "user",
              "token_id": "token"}
FORM_ID_KINDS = {"tenant_id": "tenant", "department_id": "department",
                 "category_id": "category", "request_id": "request"}
QUERY_ID_KINDS = {"department_id": "department", "category_id": "category",
                  "assignee_id": "user", "assignee": "user", "request_id": "request"}

# A valid value for each form field that is not an id, so that only the check under test
# (access, CSRF, range) can refuse the form.
FORM_VALUES: dict[str, Any] = {
    "body": "sweep {tag}", "kind": "note", "text": "sweep {tag}", "reason": "sweep {tag}",
    "question": "sweep {tag}?", "answer": "sweep {tag}", "mode": "draft_only",
    "name": "sweep {tag}", "message": "sweep {tag}", "active": "1", "title": "sweep {tag}",
    "priority": "normal", "role": "requester", "email": "sweep-{tag}@example.co.jp",
    "password": "sweep-password-{tag}", "next": "/", "min_role": "",
}
# JSON bodies of the API routes (the route table says only that there is one).
JSON_BODIES: dict[str, Any] = {
    "POST /api/v1/requests": {"title": "sweep {tag}", "body": "sweep {tag}"},
    "PATCH /api/v1/requests/{request_id}": {"priority": "high", "tags": ["sweep {tag}"]},
    "POST /api/v1/requests/{request_id}/replies": {"body": "sweep {tag}", "kind": "note"},
    "POST /api/v1/requests/{request_id}/follow-ups": {"body": "sweep {tag}"},
    "POST /api/v1/drafts/{draft_id}/approve": {"text": "sweep {tag}"},
    "POST /api/v1/drafts/{draft_id}/reject": {"reason": "sweep {tag}"},
    "POST /api/v1/drafts/{draft_id}/promote": {"question": "sweep {tag}?", "answer": "sweep"},
    "PUT /api/v1/categories/{category_id}/automation": {"mode": "draft_only"},
}


def _tagged(value: Any, tag: str) -> Any:
    if isinstance(value, str):
        return value.replace("{tag}", tag)
    if isinstance(value, list):
        return [_tagged(v, tag) for v in value]
    if isinstance(value, dict):
        return {k: _tagged(v, tag) for k, v in value.items()}
    return value


def send(actor: Actor, route: Route, path_values: dict[str, Any], tag: str, *,
         form_over: dict[str, Any] | None = None, query: dict[str, Any] | None = None,
         csrf: str | None = "session", headers: dict[str, Any] | None = None,
         raw_json: bytes | None = None, json_over: Any = None) -> Answer:
    """One call of ``route`` with valid inputs except what the caller overrides."""
    path = fill(route.path, path_values)
    if route.method == "GET":
        return actor.call("GET", path, params=query or {}, headers=headers)
    if not route.page:
        if raw_json is not None:
            return actor.call(route.method, path, content=raw_json,
                              headers={"Content-Type": "application/json", **(headers or {})})
        body = json_over if json_over is not None else _tagged(JSON_BODIES.get(route.key), tag)
        return actor.call(route.method, path, json=body, headers=headers)
    fields: dict[str, Any] = {}
    for name, annotation in route.form:
        if "UploadFile" in annotation or name in FORM_ID_KINDS:
            continue
        if name in FORM_VALUES and "None" not in annotation or name in ("body", "kind", "text"):
            fields[name] = _tagged(FORM_VALUES.get(name, ""), tag)
    fields.update(form_over or {})
    return actor.form(path, fields, csrf=csrf, headers=headers)


# --------------------------------------------------------------------------- seed data


@dataclass
class Seed:
    ids: dict[str, list[int]] = field(default_factory=dict)   # sakura's objects, by kind
    own: dict[str, int] = field(default_factory=dict)         # one sakura object per kind
    marked_requests: list[int] = field(default_factory=list)
    mark: str = ""
    emails: list[str] = field(default_factory=list)           # sakura-only users
    routes: list[Route] = field(default_factory=list)


def seed(target: Target) -> Seed:
    """Objects of tenant sakura carrying the sweep's marker, and every id of sakura."""
    if getattr(target, "seed", None):
        return target.seed  # type: ignore[no-any-return]
    s_req, s_admin = target.actor("s_req"), target.actor("s_admin")
    mark = f"{target.mark} {target.secret}"
    made = []
    for i in range(2):
        files = [("files", (f"{target.secret}-receipt-{i}.txt", f"{mark} 領収書 {i}".encode(),
                            "text/plain"))]
        r = s_req.form("/portal/new", {"title": f"{mark} 出張旅費の精算 {i}",
                                       "body": f"{mark} 大阪出張の旅費精算をお願いします。"},
                       files=files)
        made.append(int(r.headers.get("location", "/0").split("/")[-1].split("?")[0]))
    for i in range(3):
        r = s_req.call("POST", "/api/v1/requests",
                       json={"title": f"{mark} 有給休暇の残日数 {i}",
                             "body": f"{mark} 有給休暇の残りを教えてください。", "category": "経費精算"})
        made.append(r.json()["id"])
    doc = (f"# {mark} 旅費規程\n\n## 第1条(目的)\n出張の旅費は {mark} 規程に従い精算する。\n\n"
           "## 第2条(日当)\n日帰り出張の日当は 2,000 円とする。\n").encode()
    s_admin.form("/admin/knowledge", {"title": f"{mark} 旅費規程"},
                 files=[("files", (f"{target.secret}-travel.md", doc, "text/markdown"))])
    s_admin.form("/admin/departments", {"name": f"{mark} 部門"})
    s_admin.form("/admin/users", {"email": f"{target.secret}@sakura-seiki.example",
                                  "name": f"{mark} 社員", "role": "requester"})
    drafts = []
    for rid in made[:3]:
        r = s_admin.call("POST", f"/api/v1/requests/{rid}/drafts")
        if r.status == 201:
            drafts.append(r.json()["id"])
    result = Seed(marked_requests=made, mark=target.mark)
    listing = s_admin.call("GET", "/api/v1/requests", params={"per_page": 200}).json()
    all_requests = sorted(item["id"] for item in listing["items"])
    attachments = []
    for rid in made[:2]:
        attachments += [a["id"] for a in s_admin.call("GET", f"/api/v1/requests/{rid}")
                        .json()["attachments"]]
    taxonomy = s_admin.call("GET", "/admin/taxonomy").text
    users = s_admin.call("GET", "/admin/users").text
    result.ids = {
        "request": sorted(set(sample(all_requests, 4) + made[:4])),
        "attachment": attachments,
        "draft": drafts,
        "document": ids_in(s_admin.call("GET", "/admin/knowledge").text,
                           r'href="/admin/knowledge/(\d+)"'),
        "category": sample(ids_in(taxonomy, r"/admin/categories/(\d+)/active"), 3),
        "department": sample(ids_in(taxonomy, r'<option value="(\d+)">'), 2),
        "user": sample(ids_in(users, r'action="/admin/users/(\d+)"'), 3),
        "token": sample(ids_in(s_admin.call("GET", "/admin/tokens").text,
                               r"/admin/tokens/(\d+)/revoke"), 2),
        "tenant": [target.tenants["sakura"]],
    }
    result.own = {k: v[0] for k, v in result.ids.items() if v}
    result.emails = ["yamada.hanako@sakura-seiki.example", "sato.kenichi@sakura-seiki.example"]
    result.routes = route_table()
    time.sleep(2.5)  # let the job worker finish the drafts the new requests queued
    target.seed = result  # type: ignore[attr-defined]
    return result


# --------------------------------------------------------------------------- cross-tenant


def _leaks(answer: Answer, markers: list[str]) -> list[str]:
    return [m for m in markers if m in answer.text]


def _sakura_state(target: Target, s: Seed) -> dict[str, Any]:
    admin = target.actor("s_admin")
    state: dict[str, Any] = {}
    for rid in s.ids["request"]:
        item = admin.call("GET", f"/api/v1/requests/{rid}").json() or {}
        state[f"request {rid}"] = {k: item.get(k) for k in
                                   ("status", "priority", "tags", "assignee", "category")}
        state[f"request {rid} messages"] = len(item.get("messages", []))
        drafts = admin.call("GET", f"/api/v1/requests/{rid}/drafts").json() or []
        state[f"request {rid} drafts"] = sorted((d.get("id"), d.get("status")) for d in drafts)
    for cid in s.ids["category"]:
        mode = admin.call("GET", f"/api/v1/categories/{cid}/automation").json() or {}
        state[f"category {cid} mode"] = mode.get("mode")
    for page in ("/admin/users", "/admin/taxonomy", "/admin/tokens", "/admin/knowledge"):
        state[page] = strip_volatile(admin.call("GET", page).text)
    for did in s.ids["document"]:
        state[f"document {did}"] = strip_volatile(
            admin.call("GET", f"/admin/knowledge/{did}").text)
    for key in ("s_admin", "s_req"):
        actor = target.actor(key)
        state[f"token of {key} works"] = actor.call("GET", "/api/v1/requests").status == 200
    return state


def cross_tenant(target: Target, results: Results) -> None:
    """Minato's admin, requester and the BPaaS operator (member of both, acting in minato)
    use every route with sakura's ids, by token and by session. Defended: 4xx (not found or
    forbidden), never 2xx/3xx/5xx for a foreign id, no sakura data in any answer, and
    sakura's objects unchanged afterwards."""
    cat = "cross-tenant"
    s = seed(target)
    before = _sakura_state(target, s)
    table = s.routes
    api_table = {r.key for r in table if not r.page}
    documented = openapi_routes(target.actor("s_admin"))
    for missing in sorted(documented - api_table):
        results.note(cat, f"in OpenAPI but not in the route table: {missing}")
    unmapped: set[str] = set()
    attempts = 0
    tag = f"xt{secrets.token_hex(4)}"
    strict = [target.secret, "さくら精機", "@sakura-seiki.example"]
    for key in ("m_admin", "m_req", "bpaas"):
        actor = target.actor(key)
        # The BPaaS operator is a member of sakura too: sakura's name is in her tenant
        # menu, and switching her session there is her right (her minato session and
        # token must still show nothing of sakura).
        markers = [target.secret] if key == "bpaas" else strict
        for route in table:
            if route.path in ("/login", "/logout") or route.path.startswith("/docs"):
                continue
            if key == "bpaas" and route.path == "/switch-tenant":
                continue
            attempts += _attack_route(results, cat, actor, route, s, tag, markers, unmapped)
        for email in s.emails:     # a token for a sakura user, made by a minato admin
            r = actor.form("/admin/tokens", {"email": email, "name": "sweep"})
            ok = 400 <= r.status < 500 and 'id="new-token"' not in r.text
            results.add(cat, f"{key}: POST /admin/tokens for sakura user {email}", ok,
                        f"status {r.status}")
            attempts += 1
    for name in sorted(unmapped):
        results.note(cat, f"route parameter without a sakura id to try: {name}")
    after = _sakura_state(target, s)
    changed = [k for k in before if before[k] != after.get(k)]
    results.add(cat, "sakura's requests, drafts, categories, users, tokens and documents "
                     "unchanged after the attempts", not changed, ", ".join(changed[:8]))
    for rid in s.ids["request"]:
        item = target.actor("s_admin").call("GET", f"/api/v1/requests/{rid}").text
        results.add(cat, f"no minato text written into sakura request {rid}", tag not in item)
    results.note(cat, f"{attempts} attempts by 3 minato actors on {len(table)} routes")


def _attack_route(results: Results, cat: str, actor: Actor, route: Route, s: Seed, tag: str,
                  markers: list[str], unmapped: set[str]) -> int:
    name = f"{actor.label} {route.key}"
    kinds = [PATH_KINDS.get(p) for p in route.path_params]
    if route.path_params:
        if None in kinds:
            unmapped.update(f"{route.key} {{{p}}}" for p in route.path_params
                            if p not in PATH_KINDS)
            return 0
        count = 0
        for value in s.ids.get(kinds[0] or "", []):   # one path id per route here
            values = {route.path_params[0]: value}
            r = send(actor, route, values, tag)
            leaked = _leaks(r, markers)
            ok = 400 <= r.status < 500 and not leaked
            results.add(cat, f"{name} with sakura id {value}", ok,
                        f"status {r.status}" + (f", shows {leaked}" if leaked else ""))
            count += 1
        return count
    id_fields = [n for n, _a in route.form if n in FORM_ID_KINDS]
    if route.method != "GET" and id_fields:
        count = 0
        for field_name in id_fields:
            for value in s.ids.get(FORM_ID_KINDS[field_name], [])[:3]:
                r = send(actor, route, {}, tag, form_over={field_name: value})
                leaked = _leaks(r, markers)
                ok = 400 <= r.status < 500 and not leaked
                results.add(cat, f"{name} with sakura {field_name}={value}", ok,
                            f"status {r.status}" + (f", shows {leaked}" if leaked else ""))
                count += 1
        return count
    if route.method != "GET":
        return 0   # acts on the actor's own tenant only (covered by other categories)
    count = 0
    id_query = [n for n, _a in route.query if n in QUERY_ID_KINDS]
    variants: list[dict[str, Any]] = [{"q": s.mark}] \
        if any(n == "q" for n, _a in route.query) else [{}]
    for n in id_query:
        for value in s.ids.get(QUERY_ID_KINDS[n], [])[:2]:
            variants.append({n: value})
    for params in variants:
        r = send(actor, route, {}, tag, query=params)
        leaked = _leaks(r, markers)
        ok = r.status != 0 and r.status < 500 and not leaked
        results.add(cat, f"{name} {params or ''}".rstrip(), ok,
                    f"status {r.status}" + (f", shows {leaked}" if leaked else ""))
        count += 1
    return count


# --------------------------------------------------------------------------- CSRF


def csrf(target: Target, results: Results) -> None:
    """Every form post of a signed-in sakura admin, with a valid form but no token, a wrong
    token, or another session's token (also as the X-CSRF-Token header of htmx). Defended:
    refused with a 4xx before anything changes (the form would be accepted with the token)."""
    cat = "csrf"
    s = seed(target)
    victim, other = target.actor("s_admin2"), target.actor("m_admin")
    variants = [("no token", None, None), ("wrong token", "x" * 43, None),
                ("another session's token", other.csrf, None),
                ("wrong X-CSRF-Token header", None, {"X-CSRF-Token": "y" * 43,
                                                     "HX-Request": "true"})]
    for route in s.routes:
        if not route.page or route.method != "POST" or route.path == "/logout":
            continue
        values = {p: s.own.get(PATH_KINDS.get(p, ""), 0) for p in route.path_params}
        over = {n: s.own.get(FORM_ID_KINDS[n], 0) for n, _a in route.form if n in FORM_ID_KINDS}
        if route.path == "/login":
            over = {"email": victim.email, "password": target.password}
        elif route.path == "/admin/tokens":
            over["email"] = victim.email
        for label, token, headers in variants:
            tag = f"csrf{secrets.token_hex(3)}"   # a unique name: no conflict can refuse it
            r = send(victim, route, values, tag, form_over=over, csrf=token, headers=headers)
            ok = 400 <= r.status < 500 and "csrf" in r.text.lower()
            results.add(cat, f"{route.key} with {label}", ok, f"status {r.status}")
    # Logout last: it would end the session the other checks use.
    logout = Route("POST", "/logout", [], [], [], False, True)
    for label, token, headers in variants:
        r = send(victim, logout, {}, "csrf", csrf=token, headers=headers)
        still = victim.call("GET", "/portal").status == 200
        results.add(cat, f"POST /logout with {label}",
                    400 <= r.status < 500 and "csrf" in r.text.lower() and still,
                    f"status {r.status}, still signed in: {still}")


# --------------------------------------------------------------------------- escaping


def _payload(tag: str) -> str:
    return f'<script>alert("{tag}")</script><img src=x onerror=alert("{tag}")>"\'><b>{tag}</b>'


def _raw_in(page: str, tag: str) -> list[str]:
    """The parts of the payload that came out as markup."""
    found = []
    for piece in (f'<script>alert("{tag}")', f'<img src=x onerror=alert("{tag}")',
                  f"<b>{tag}</b>", f"<i>{tag}</i>"):
        if piece in page:
            found.append(piece)
    return found


def escaping(target: Target, results: Results) -> None:
    """HTML/script in every text a user controls, then every page that shows it. Defended:
    the markup comes out escaped (the raw ``<script>``/``<img onerror>``/``<b>`` never)."""
    cat = "escaping"
    s = seed(target)
    admin, req = target.actor("s_admin"), target.actor("s_req")
    t = {k: f"xs{secrets.token_hex(3)}{k}" for k in
         ("title", "body", "tag", "reply", "note", "follow", "user", "dept", "cat", "doc",
          "file", "chat", "next", "q", "flash", "docbody")}
    created = req.call("POST", "/api/v1/requests", json={
        "title": _payload(t["title"])[:300], "body": _payload(t["body"])}).json()
    rid = created["id"]
    admin.call("PATCH", f"/api/v1/requests/{rid}",
               json={"tags": [f"<i>{t['tag']}</i>"], "priority": "high"})
    admin.call("POST", f"/api/v1/requests/{rid}/replies",
               json={"body": _payload(t["reply"]), "kind": "outbound"})
    admin.call("POST", f"/api/v1/requests/{rid}/replies",
               json={"body": _payload(t["note"]), "kind": "note"})
    req.call("POST", f"/api/v1/requests/{rid}/follow-ups", json={"body": _payload(t["follow"])})
    admin.form("/admin/users", {"email": f"{t['user']}@sakura-seiki.example",
                                "name": _payload(t["user"])[:200], "role": "requester"})
    admin.form("/admin/departments", {"name": f"<b>{t['dept']}</b>"})
    dept = s.own["department"]
    admin.form("/admin/categories", {"department_id": dept, "name": f"<b>{t['cat']}</b>"})
    admin.form("/admin/knowledge", {"title": f"<b>{t['doc']}</b>"},
               files=[("files", (f"<b>{t['docbody']}</b>.md",
                                 f"# 規程\n\n<b>{t['docbody']}</b> 本文です。\n".encode(),
                                 "text/markdown"))])
    req.form(f"/portal/requests/{rid}/follow-up", {"body": "添付します"},
             files=[("files", (f"<b>{t['file']}</b>.txt", b"x", "text/plain"))])
    chat = req.form("/portal/chat", {"message": _payload(t["chat"])})
    chat_id = chat.headers.get("location", "=0").split("=")[-1]
    doc_ids = ids_in(admin.call("GET", "/admin/knowledge").text, r'href="/admin/knowledge/(\d+)"')
    pages: list[tuple[Actor, str, list[str]]] = [
        (admin, "/desk", ["title", "tag"]),
        (admin, f"/desk/requests/{rid}", ["title", "body", "tag", "reply", "note", "follow",
                                          "file"]),
        (req, "/portal", ["title"]),
        (req, f"/portal/requests/{rid}", ["title", "body", "reply", "follow", "file"]),
        (req, f"/portal/chat?request_id={chat_id}", ["chat"]),
        (admin, "/admin/users", ["user"]),
        (admin, "/admin/tokens", ["user"]),
        (admin, "/admin/taxonomy", ["dept", "cat"]),
        (admin, "/admin/automation", ["cat"]),
        (req, "/portal/new", ["cat"]),
        (admin, "/admin/knowledge", ["doc"]),
        (admin, "/admin/audit", ["title", "user"]),
    ]
    pages += [(admin, f"/admin/knowledge/{d}", ["docbody"]) for d in doc_ids[-1:]]
    for actor, path, fields in pages:
        page = actor.call("GET", path)
        for name in fields:
            raw = _raw_in(page.text, t[name])
            shown = t[name] in page.text
            results.add(cat, f"{name} on {path.split('?')[0]}", page.status == 200 and not raw,
                        f"status {page.status}" + (f", raw {raw}" if raw else "")
                        + ("" if shown else ", not shown"))
    reflected = [
        ("login next", req, "GET", f'/login?next=/"><b>{t["next"]}</b>', t["next"]),
        ("desk search q", admin, "GET", f"/desk?q=<b>{t['q']}</b>", t["q"]),
    ]
    for label, actor, method, path, tag in reflected:
        page = actor.call(method, path)
        raw = _raw_in(page.text, tag)
        results.add(cat, f"reflected {label}", page.status < 500 and not raw,
                    f"status {page.status}" + (f", raw {raw}" if raw else ""))
    flash = req.form("/portal/new", {"title": "x", "body": "y", "category": f"<b>{t['flash']}</b>"},
                     headers={"HX-Request": "true"})
    raw = _raw_in(flash.text, t["flash"])
    results.add(cat, "error flash (htmx) with the category typed", flash.status < 500 and not raw,
                f"status {flash.status}" + (f", raw {raw}" if raw else ""))
    target.escaping_request = rid  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- idempotency


def _post(actor: Actor, key: str | bytes, title: str, body: str) -> Answer:
    return actor.call("POST", "/api/v1/requests", json={"title": title, "body": body},
                      headers={"Idempotency-Key": key})


def _stored(actor: Actor, answer: Answer, body: str) -> bool:
    """The request the answer names exists for this actor and holds this body."""
    data = answer.json() or {}
    if answer.status not in (200, 201) or "id" not in data:
        return False
    got = actor.call("GET", f"/api/v1/requests/{data['id']}").json() or {}
    return got.get("body") == body


def _refused_clearly(answer: Answer) -> bool:
    return 400 <= answer.status < 500 and answer.error_format_ok


def idempotency(target: Target, results: Results) -> None:
    """Defended: no acknowledged request is lost or answered with someone else's; the whole
    key counts (or a too long key is refused with a clear 4xx), keys are per client, and a
    replay with another payload is refused (422 with a code)."""
    cat = "idempotency"
    a, b, admin = target.actor("s_req"), target.actor("s_req2"), target.actor("s_admin")
    m = target.actor("m_req")
    h = secrets.token_hex(4)
    prefix = f"sweep-{h}-" + "k" * 190
    first = _post(a, prefix + "-first", f"idem {h} 1", f"idem {h} first body")
    second = _post(a, prefix + "-second", f"idem {h} 2", f"idem {h} second body")
    ok = (_stored(a, first, f"idem {h} first body") and _stored(a, second, f"idem {h} second body")
          and first.json()["id"] != second.json()["id"]) or \
         (_refused_clearly(first) and _refused_clearly(second))
    results.add(cat, "two keys sharing a 200-character prefix: both stored (or both refused)",
                ok, f"statuses {first.status}/{second.status}")
    huge = _post(a, "z" * 5000 + h, f"idem {h} huge", f"idem {h} huge body")
    results.add(cat, "a 5,000-character key: stored or refused with a clear 4xx",
                _stored(a, huge, f"idem {h} huge body") or _refused_clearly(huge),
                f"status {huge.status}")
    for label, other in (("another requester", b), ("an admin", admin), ("another tenant", m)):
        key = f"sweep-{h}-shared-{other.label}"
        mine = _post(a, key, f"idem {h} a", f"idem {h} body of {a.label}")
        theirs = _post(other, key, f"idem {h} o", f"idem {h} body of {other.label}")
        got = theirs.json() or {}
        ok = _stored(other, theirs, f"idem {h} body of {other.label}") and \
            got.get("id") != (mine.json() or {}).get("id")
        results.add(cat, f"same key used by {label}: gets its own new request", ok,
                    f"statuses {mine.status}/{theirs.status}, "
                    f"ids {(mine.json() or {}).get('id')}/{got.get('id')}")
    key = f"sweep-{h}-payload"
    one = _post(a, key, f"idem {h} p", f"idem {h} payload one")
    two = _post(a, key, f"idem {h} p", f"idem {h} payload two")
    results.add(cat, "same key, different payload: refused with 422 and a code",
                one.status == 201 and two.status == 422 and two.error_format_ok,
                f"statuses {one.status}/{two.status}")
    again = _post(a, key, f"idem {h} p", f"idem {h} payload one")
    results.add(cat, "same key, same payload: answers the first request again",
                again.status in (200, 201) and (again.json() or {}).get("id") == one.json()["id"],
                f"status {again.status}")
    odd = _post(a, f"sweep-{h}-\x7f\u3042".encode(), f"idem {h} odd", f"idem {h} odd body")
    results.add(cat, "a key with non-ASCII/control characters: no 5xx",
                odd.status != 0 and odd.status < 500, f"status {odd.status}")


# --------------------------------------------------------------------------- validation


BIG_INTS = ["99999999999999999999", "9223372036854775808", "-9223372036854775809"]


def _no_500(answer: Answer, api: bool) -> tuple[bool, str]:
    if answer.status == 0:
        return False, f"connection dropped ({answer.error[:60]})"
    if answer.status >= 500:
        return False, f"status {answer.status}"
    if api and answer.status >= 400 and not answer.error_format_ok:
        return False, f"status {answer.status} without the error format: {answer.text[:80]}"
    return True, f"status {answer.status}"


def validation(target: Target, results: Results) -> None:
    """Integers beyond int64 in every int path, query and form parameter, extreme dates,
    lone surrogates, malformed and non-UTF-8 JSON. Defended: a 4xx (on /api with
    {"error": {"code", "message", "field"}}), never a 5xx or a dropped connection."""
    cat = "validation"
    s = seed(target)
    admin, req = target.actor("s_admin"), target.actor("s_req")
    rid = s.own["request"]
    for route in s.routes:
        if route.path in ("/logout", "/login") or route.path.startswith("/docs"):
            continue
        actor = admin
        own = {p: s.own.get(PATH_KINDS.get(p, ""), 1) for p in route.path_params}
        for p in route.path_params:
            for big in BIG_INTS[:2]:
                r = send(actor, route, {**own, p: big}, "val")
                ok, why = _no_500(r, not route.page)
                results.add(cat, f"{route.key} {{{p}}}={big}", ok, why)
        ints = [n for n, a in route.query if "int" in a or n in QUERY_ID_KINDS]
        for n in ints:
            r = send(actor, route, own, "val", query={n: BIG_INTS[0]})
            ok, why = _no_500(r, not route.page)
            results.add(cat, f"{route.key} ?{n}={BIG_INTS[0]}", ok, why)
        if any(n == "page" for n, _a in route.query):
            r = send(actor, route, own, "val", query={"page": "9223372036854775807"})
            ok, why = _no_500(r, not route.page)
            results.add(cat, f"{route.key} ?page=int64 max", ok, why)
        ids = [n for n, a in route.form if n in FORM_ID_KINDS or n.endswith("_id")]
        if route.method == "POST" and route.page:
            for n in ids:
                r = send(actor, route, own, "val", form_over={n: BIG_INTS[0]})
                ok, why = _no_500(r, False)
                results.add(cat, f"{route.key} form {n}={BIG_INTS[0]}", ok, why)
    for name, value in (("category_id", 10**20), ("assignee_id", 10**20)):
        r = admin.call("PATCH", f"/api/v1/requests/{rid}", json={name: value})
        ok, why = _no_500(r, True)
        results.add(cat, f"PATCH JSON {name}=1e20", ok, why)
    _dates(target, results, cat, rid)
    _surrogates(target, results, cat, rid)
    _malformed(target, results, cat, s, rid)
    _ = req


def _dates(target: Target, results: Results, cat: str, rid: int) -> None:
    admin = target.actor("s_admin")
    for value in ("9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-14:00",
                  "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", "99999-01-01T00:00:00Z"):
        r = admin.call("PATCH", f"/api/v1/requests/{rid}", json={"due_at": value})
        ok, why = _no_500(r, True)
        reads = [admin.call("GET", f"/api/v1/requests/{rid}"), admin.call("GET", "/api/v1/requests"),
                 admin.call("GET", f"/desk/requests/{rid}"), admin.call("GET", "/desk")]
        broken = [a.status for a in reads if a.status == 0 or a.status >= 500]
        results.add(cat, f"due_at {value}, then the request, list and desk pages",
                    ok and not broken, why + (f", reads {broken}" if broken else ""))
        admin.call("PATCH", f"/api/v1/requests/{rid}", json={"due_at": "2030-01-01T00:00:00+09:00"})


def _surrogates(target: Target, results: Results, cat: str, rid: int) -> None:
    admin, req = target.actor("s_admin"), target.actor("s_req")
    lone = '"x\\ud800y"'
    cases = [
        ("POST /api/v1/requests title", req, "POST", "/api/v1/requests",
         f'{{"title": {lone}, "body": "b"}}'),
        ("POST /api/v1/requests body", req, "POST", "/api/v1/requests",
         f'{{"title": "t", "body": {lone}}}'),
        ("POST /api/v1/requests tag", req, "POST", "/api/v1/requests",
         f'{{"title": "t", "body": "b", "tags": [{lone}]}}'),
        ("POST /api/v1/requests category", req, "POST", "/api/v1/requests",
         f'{{"title": "t", "body": "b", "category": {lone}}}'),
        ("PATCH tags", admin, "PATCH", f"/api/v1/requests/{rid}", f'{{"tags": [{lone}]}}'),
        ("reply body", admin, "POST", f"/api/v1/requests/{rid}/replies",
         f'{{"body": {lone}, "kind": "note"}}'),
        ("follow-up body", req, "POST", f"/api/v1/requests/{rid}/follow-ups",
         f'{{"body": {lone}}}'),
    ]
    for label, actor, method, path, text in cases:
        r = actor.call(method, path, content=text.encode(),
                       headers={"Content-Type": "application/json"})
        ok, why = _no_500(r, True)
        created = (r.json() or {}).get("id") if path == "/api/v1/requests" else rid
        later = [actor.call("GET", f"/api/v1/requests/{created}"),
                 admin.call("GET", "/desk"), admin.call("GET", "/api/v1/requests")] \
            if r.status in (200, 201) and created else []
        broken = [a.status for a in later if a.status == 0 or a.status >= 500]
        results.add(cat, f"lone surrogate in {label}", ok and not broken,
                    why + (f", later reads {broken}" if broken else ""))
    r = req.call("POST", "/portal/new", content=b"title=%ED%A0%80&body=%FF%FE&csrf_token="
                 + (req.csrf or "").encode(),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    ok, why = _no_500(r, False)
    results.add(cat, "portal form with a surrogate and non-UTF-8 bytes", ok, why)


def _malformed(target: Target, results: Results, cat: str, s: Seed, rid: int) -> None:
    admin = target.actor("s_admin")
    bodies = [("truncated JSON", b'{"title": "a", "body": '),
              ("non-UTF-8 JSON", b'{"title": "\xff\xfe", "body": "\x81\x40"}'),
              ("not JSON", b"title=a&body=b"),
              ("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000)]
    for route in s.routes:
        if route.page or not route.json_body:
            continue
        own = {p: s.own.get(PATH_KINDS.get(p, ""), rid) for p in route.path_params}
        for label, raw in bodies:
            r = send(admin, route, own, "val", raw_json=raw)
            ok = 400 <= r.status < 500 and r.error_format_ok
            results.add(cat, f"{route.key} with {label}: 4xx in the error format", ok,
                        f"status {r.status} {r.text[:70]!r}")


# --------------------------------------------------------------------------- leaks (HTTP)


def leaks(target: Target, results: Results) -> None:
    """Adding another tenant's user by e-mail; Cache-Control on private answers; mail
    passwords at rest and in backups; file modes; orphaned files after a failed upload."""
    cat = "leaks"
    s = seed(target)
    _add_foreign_user(target, results, cat)
    admin, req = target.actor("s_admin"), target.actor("s_req")
    rid, att = s.own["request"], s.own.get("attachment")
    private = [(admin, "/desk"), (admin, f"/desk/requests/{rid}"), (req, "/portal"),
               (req, f"/portal/requests/{s.marked_requests[0]}"), (admin, "/admin/users"),
               (admin, "/admin/mail"), (admin, "/admin/audit"), (admin, "/api/v1/requests"),
               (admin, f"/api/v1/requests/{rid}")]
    if att:
        private.append((admin, f"/attachments/{att}"))
    for actor, path in private:
        r = actor.call("GET", path)
        cc = r.headers.get("cache-control", "")
        results.add(cat, f"Cache-Control: no-store on {re.sub(r'/[0-9]+', '/{id}', path)}",
                    r.status == 200 and "no-store" in cc, f"status {r.status}, {cc or 'none'}")
    import sweep_attacks

    sweep_attacks.stored_secrets(target, results, cat)
    sweep_attacks.file_modes(target, results, cat)
    sweep_attacks.orphan_after_rollback(target, results, cat)


def _add_foreign_user(target: Target, results: Results, cat: str) -> None:
    """Minato's admin adds sakura's Yamada by e-mail under a made-up name."""
    m_admin, victim = target.actor("m_admin"), target.actor("s_req")
    real_name = "山田 花子"
    r = m_admin.form("/admin/users", {"email": victim.email, "name": "調査 太郎",
                                      "role": "requester"})
    page = m_admin.call("GET", "/admin/users")
    shown = real_name in r.text or real_name in page.text
    results.add(cat, "adding another tenant's user by e-mail does not show their real name",
                not shown, f"status {r.status}")
    switched = victim.form("/switch-tenant", {"tenant_id": target.tenants["minato"]})
    joined = switched.status == 303
    if joined:
        victim.form("/switch-tenant", {"tenant_id": target.tenants["sakura"]})
    victim.refresh_csrf()
    results.add(cat, "adding another tenant's user by e-mail does not make them a member "
                     "without their consent", not joined, f"switch-tenant {switched.status}")


def login_lock(target: Target, results: Results) -> None:
    """21 failed logins from loopback, each with another X-Forwarded-For. Defended: the
    per-address lock (20 failures) still applies: the next attempt is refused with 429."""
    cat = "leaks"
    from sweep import CSRF_FIELD

    probe = Actor(target.server.base_url, "probe", "nobody@example.co.jp")
    try:
        token = CSRF_FIELD.search(probe.call("GET", "/login").text)
        assert token is not None
        for i in range(21):
            probe.form("/login", {"email": f"guess{i}@example.co.jp", "password": "wrong-pass"},
                       csrf=token.group(1), headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})
        last = probe.form("/login", {"email": "guess-last@example.co.jp",
                                     "password": "wrong-pass"}, csrf=token.group(1),
                          headers={"X-Forwarded-For": "198.51.100.7"})
        results.add(cat, "X-Forwarded-For from loopback does not bypass the per-IP login lock",
                    last.status == 429, f"attempt 22 answered {last.status}")
    finally:
        probe.close()


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)[:200]
