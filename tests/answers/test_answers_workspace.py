"""The operator's workspace on the request page: the draft in the reply editor beside its
cited clauses (what it quotes marked), the status a holding reply leaves, and the internal
register — 「山田さん　お疲れさまです。」, the answer, the signature of the company or of the
operator — in the drafts and in what the editor inserts for a reply typed by hand. (The
settings pages themselves: tests/identity/test_signatures.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from answers_support import QUESTION, People, ask, current_draft
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from httpx import Response

from ushiro import desk
from ushiro.answers import compare
from ushiro.answers import service as answers
from ushiro.core.runtime import Runtime

OFF_TOPIC = "社員食堂の今週のメニューを教えてください"
COMPANY = "総務部　ヘルプデスク"
OWN = "人事部　佐藤 花子\n内線 1234"


def _page(text: str) -> BeautifulSoup:
    return BeautifulSoup(text, "html.parser")


def _main_column(text: str) -> Tag:
    """The request page's main column (the side column is the <aside> beside it)."""
    layout = _page(text).select_one(".layout-2")
    assert layout is not None
    main = layout.find("div", recursive=False)
    assert isinstance(main, Tag)
    return main


def _one(root: Tag | BeautifulSoup, css: str) -> Tag:
    found = root.select_one(css)
    assert found is not None, f"{css} not on the page"
    return found


def _selected(root: Tag, select_id: str) -> str:
    chosen = _one(root, f"#{select_id}").select_one("option[selected]")
    return str(chosen["value"]) if chosen is not None else ""


def _post(client: TestClient, csrf: str, url: str, **data: str) -> Response:
    return client.post(url, data={**data, "csrf_token": csrf}, follow_redirects=False)


def test_the_draft_opens_in_the_reply_editor_beside_its_highlighted_clauses(
        client: TestClient, rt: Runtime, people: People, rules: None,
        login: Callable[[str], str]) -> None:
    """GIVEN an employee's rule question with its automatic draft
    WHEN the operator opens the request
    THEN the draft is the text of the reply editor in the main column, in the internal
    register (「山田さん　お疲れさまです。」, never 「お問い合わせありがとうございます」); beside
    it the cited clause, caption and all, with the sentence the draft quotes in <mark>;
    sending it defaults to 解決済; writing by hand stays available below it."""
    request_id = ask(rt, people.employee_p)
    draft = current_draft(rt, people.operator_p, request_id)
    assert not draft.abstained, draft.reason
    login(people.operator.email)
    main = _main_column(client.get(f"/desk/requests/{request_id}").text)
    editor = _one(main, "#reply-editor textarea#draft-text").get_text()
    assert editor == draft.answer
    assert editor.startswith("山田さん　お疲れさまです。")
    assert "お問い合わせありがとうございます" not in editor
    clause = _one(main, "#reply-editor #draft-clauses #citation-1")
    assert "就業規則 第12条(年次有給休暇)" in _one(clause, ".meta").get_text()
    marked = [m.get_text() for m in clause.select("mark")]
    assert marked and marked[0].startswith("雇入れの日から６か月間継続勤務し"), marked
    assert _selected(main, "draft-then-status") == "resolved"
    plain = _one(main, "#reply-editor details#reply-plain")
    assert plain.select_one("textarea#reply-body") is not None
    assert _selected(plain, "reply-status") == ""  # a reply by hand keeps the status


def test_a_holding_reply_never_defaults_to_resolved(client: TestClient, rt: Runtime,
                                                    people: People, rules: None,
                                                    login: Callable[[str], str]) -> None:
    """GIVEN a question the rules do not answer, so the draft is a holding reply
    WHEN the operator opens it and sends it with the editor's defaults
    THEN the page says it is a holding reply and the status select stands on 対応中, not
    解決済; after sending, the requester has the reply and the request is in progress."""
    request_id = ask(rt, people.employee_p, OFF_TOPIC)
    draft = current_draft(rt, people.operator_p, request_id)
    assert draft.abstained and draft.citations == []
    csrf = login(people.operator.email)
    main = _main_column(client.get(f"/desk/requests/{request_id}").text)
    assert "保留の返信" in _one(main, "#reply-editor #draft-abstained").get_text()
    assert main.select_one("#draft-no-clauses") is not None
    default = _selected(main, "draft-then-status")
    assert default == "in_progress"
    sent = _post(client, csrf, f"/desk/drafts/{draft.id}/approve",
                 text=_one(main, "#draft-text").get_text(), status=default)
    assert sent.status_code == 303
    item = desk.get_request(rt, people.operator_p, request_id)
    assert item.status == "in_progress"
    assert [m.kind for m in item.messages] == ["outbound"]
    assert item.messages[0].body.startswith("山田さん　お疲れさまです。")


def _save_signature(client: TestClient, csrf: str, url: str, text: str) -> None:
    saved = client.post(url, data={"signature": text, "csrf_token": csrf},
                        follow_redirects=False)
    assert saved.status_code == 303, saved.text


def test_signatures_sign_new_drafts_and_the_editor_template(
        client: TestClient, rt: Runtime, people: People, rules: None,
        login: Callable[[str], str]) -> None:
    """GIVEN the company's signature set by its administrator
    WHEN an employee asks (the system drafts), then the operator sets their own signature
    and drafts again, then empties it
    THEN the system's draft greets 山田さん and ends with the company's signature; the
    operator's ends with theirs, and so does what the editor inserts for a reply typed by
    hand; with theirs emptied, the editor inserts the company's again."""
    _save_signature(client, login(people.admin.email), "/admin/signature", COMPANY)
    request_id = ask(rt, people.employee_p)
    system_draft = current_draft(rt, people.operator_p, request_id)
    assert system_draft.answer.startswith("山田さん　お疲れさまです。")
    assert system_draft.answer.endswith(f"\n\n{COMPANY}")

    csrf = login(people.operator.email)
    _save_signature(client, csrf, "/settings", OWN)
    answers.generate_draft(rt, people.operator_p, request_id)
    own_draft = current_draft(rt, people.operator_p, request_id)
    assert own_draft.number == 2 and own_draft.answer.endswith(f"\n\n{OWN}")
    assert COMPANY not in own_draft.answer
    insert = _one(_main_column(client.get(f"/desk/requests/{request_id}").text),
                  "#reply-insert-template")
    assert (insert["data-greeting"], insert["data-signature"]) == ("山田さん　お疲れさまです。", OWN)

    _save_signature(client, csrf, "/settings", "")
    insert = _one(_main_column(client.get(f"/desk/requests/{request_id}").text),
                  "#reply-insert-template")
    assert insert["data-signature"] == COMPANY


def test_free_standing_drafts_greet_without_a_name(rt: Runtime, people: People,
                                                  rules: None) -> None:
    """The CLI's free-standing drafts (no request, no requester) greet without a name."""
    [result] = answers.draft_questions(rt, people.admin_p, [QUESTION])
    assert result.answer.startswith("お疲れさまです。")


# From the CC0 rules in bench/data/docs/real/tuqulore (就業規則 第40条, 出張旅費規程 日当).
ITEMS = """### 第40条　慶弔休暇

1. 社員が申請した場合は、次のとおり慶弔休暇を与える。
    1. 本人が結婚したとき・・・5日
    2. 妻が出産したとき・・・3日
    3. 配偶者、子又は父母が死亡したとき・・・5日
"""
TABLE = """    | 移動距離 | 支給額 |
    | :- | -: |
    | 50km以上100km未満 | 1,500円に出張日数を乗じたもの |
    | 100km以上 | 3,000円に出張日数を乗じたもの |
"""


@pytest.mark.parametrize("passage, answer, marked", [
    (ITEMS, "山田さん　お疲れさまです。\n本人が結婚したときは5日の慶弔休暇が取れます。\n"
            "・本人が結婚したとき：5日", ["本人が結婚したとき・・・5日"]),
    (ITEMS, "ご結婚の場合、「本人が結婚したとき　５日」です。", ["本人が結婚したとき・・・5日"]),
    (TABLE, "100km以上の出張は、3,000円に出張日数を乗じた額です。",
     ["| 100km以上 | 3,000円に出張日数を乗じたもの |"]),
    (TABLE, "日当は出ません。", []),
])
def test_highlight_marks_items_and_table_rows_however_they_are_quoted(
        passage: str, answer: str, marked: list[str]) -> None:
    """GIVEN a clause whose fact is a list item or a table row
    WHEN the draft states it with other spacing, leaders or width (：5日, ５日, no bars)
    THEN exactly that line is marked, and the passage is shown unchanged."""
    segments = compare.highlight(passage, answer)
    assert "".join(s.text for s in segments) == passage
    assert [s.text.strip() for s in segments if s.marked] == marked
