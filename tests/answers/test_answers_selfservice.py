"""Self-service is earned per category: suggest/auto_send only after N reviewed drafts at
the threshold, and back to draft_only by itself when acceptance drops."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from answers_support import CATEGORY, People, ask, csrf_of, review, set_mode_directly
from fastapi.testclient import TestClient
from typer.testing import Result

from ushiro import audit
from ushiro.answers import selfservice
from ushiro.answers.choices import AutomationMode
from ushiro.audit import AuditEvent
from ushiro.core.runtime import Runtime
from ushiro.identity import User

# (description, accepted as drafted, heavily edited, may switch to suggest)
EARNING = [
    ("29 reviews, all accepted: too few", 29, 0, False),
    ("30 reviews, 27 accepted: exactly 90 %", 27, 3, True),
    ("30 reviews, 26 accepted: 86.7 %", 26, 4, False),
]


@pytest.mark.parametrize(("accepted", "edited", "allowed"), [r[1:] for r in EARNING],
                         ids=[r[0] for r in EARNING])
def test_suggest_must_be_earned(client: TestClient, rt: Runtime, people: People, rules: None,
                                category_id: int,
                                api_headers: Callable[[User], dict[str, str]],
                                accepted: int, edited: int, allowed: bool) -> None:
    """GIVEN a category whose drafts were reviewed: some sent as drafted, some rewritten
    WHEN the administrator switches it to suggest (window 30, threshold 90 %)
    THEN it is allowed only with at least 30 reviews of which at least 90 % were accepted
    without substantive edit; a refusal is a 409 with the current numbers in Japanese and
    changes nothing."""
    for _ in range(accepted):
        review(rt, people, accepted=True)
    for _ in range(edited):
        review(rt, people, accepted=False)
    url = f"/api/v1/categories/{category_id}/automation"
    headers = api_headers(people.admin)
    response = client.put(url, json={"mode": "suggest"}, headers=headers)
    reviewed = accepted + edited
    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["mode"] == "suggest"
    else:
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "self_service_not_earned"
        assert f"レビュー {reviewed} 件" in error["message"]
        assert f"修正なしの承認 {accepted} 件" in error["message"] and "90%" in error["message"]
        assert CATEGORY in error["message"]
    state = client.get(url, headers=headers).json()
    assert state["mode"] == ("suggest" if allowed else "draft_only")
    assert (state["reviewed"], state["accepted"], state["eligible"]) == (reviewed, accepted,
                                                                         allowed)


def _fallbacks(rt: Runtime, tenant_id: int) -> list[AuditEvent]:
    with rt.db.reading() as session:
        return [e for e in audit.recent_events(session, tenant_id, 10_000)
                if e.action == "automation.fallback"]


def test_acceptance_drop_falls_back_to_draft_only(client: TestClient, rt: Runtime,
                                                  people: People, rules: None,
                                                  category_id: int,
                                                  login: Callable[[str], str]) -> None:
    """GIVEN a category that earned suggest with 30 accepted reviews
    WHEN operators then rewrite drafts heavily, one review after another
    THEN it stays in suggest while 90 % of the last 30 are accepted (3 rewrites), falls
    back to draft_only by itself at the 4th, with the audit event automation.fallback
    carrying the numbers; the admin page shows mode, reviewed count and acceptance."""
    for _ in range(30):
        review(rt, people, accepted=True)
    token = login(people.admin.email)
    saved = client.post("/admin/automation", follow_redirects=False,
                        data={"category_id": str(category_id), "mode": "suggest",
                              "csrf_token": token})
    assert saved.status_code == 303, saved.text
    for _ in range(3):
        review(rt, people, accepted=False)
        assert selfservice.get_mode(rt, people.admin_p, category_id).mode == "suggest"
    assert _fallbacks(rt, people.tenant.id) == []
    review(rt, people, accepted=False)
    state = selfservice.get_mode(rt, people.admin_p, category_id)
    assert (state.mode, state.reviewed, state.accepted) == ("draft_only", 30, 26)
    [event] = _fallbacks(rt, people.tenant.id)
    assert event.object_id == str(category_id)
    assert event.before == {"mode": "suggest"}
    assert event.after is not None
    assert (event.after["mode"], event.after["reviewed"], event.after["accepted"]) == (
        "draft_only", 30, 26)
    page = client.get("/admin/automation")
    row = page.text.split(f'id="automation-{category_id}"')[1].split("</tr>")[0]
    assert "30 / 30" in row and "86.7%" in row and "90%" in row
    assert 'value="draft_only" selected' in row


def test_admin_page_refusal_shows_the_numbers(client: TestClient, rt: Runtime,
                                              people: People, category_id: int,
                                              login: Callable[[str], str]) -> None:
    """GIVEN a category without reviews
    WHEN the administrator chooses auto_send on /admin/automation
    THEN the page answers 409 with a Japanese explanation and the current numbers, and the
    mode stays draft_only."""
    login(people.admin.email)
    token = csrf_of(client, "/admin/automation")
    page = client.post("/admin/automation", data={"category_id": str(category_id),
                                                  "mode": "auto_send", "csrf_token": token})
    assert page.status_code == 409
    assert 'id="automation-error"' in page.text
    assert "自動送信" in page.text and "レビュー 0 件" in page.text
    assert selfservice.get_mode(rt, people.admin_p, category_id).mode == "draft_only"


def test_cli_sets_and_lists_modes(ushiro_cli: Callable[..., Result]) -> None:
    """GIVEN an initialised data directory
    WHEN `ushiro answers mode` asks for suggest without reviews, then for draft_only
    THEN the first is refused (exit 2, Japanese message with the numbers), the second is
    stored, and `ushiro answers modes --json` lists every category."""
    assert ushiro_cli("init", "--tenant", "sakura").exit_code == 0
    refused = ushiro_cli("answers", "mode", CATEGORY, "suggest")
    assert refused.exit_code == 2
    flat = "".join(refused.output.split())  # Rich wraps long lines
    assert "self_service_not_earned" in flat and "レビュー0件" in flat
    done = ushiro_cli("answers", "mode", CATEGORY, "draft_only", "--json")
    assert done.exit_code == 0, done.output
    assert '"mode": "draft_only"' in done.output
    unknown = ushiro_cli("answers", "mode", "存在しない", "draft_only")
    assert unknown.exit_code == 2 and "存在しません" in "".join(unknown.output.split())
    listed = ushiro_cli("answers", "modes", "--json")
    assert listed.exit_code == 0 and CATEGORY in listed.output


def test_auto_sent_answers_do_not_vouch_for_themselves(rt: Runtime, people: People,
                                                       rules: None, category_id: int) -> None:
    """GIVEN a category in auto_send
    WHEN answers go out without a person
    THEN they are not reviews: the category's reviewed count stays 0."""
    set_mode_directly(rt, people.tenant.id, category_id, AutomationMode.AUTO_SEND)
    for _ in range(3):
        ask(rt, people.employee_p)
    state = selfservice.get_mode(rt, people.admin_p, category_id)
    assert (state.reviewed, state.mode) == (0, "auto_send")
