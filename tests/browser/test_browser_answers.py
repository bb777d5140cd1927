"""Knowledge and answers end to end in a real browser: a rule question in the portal chat,
the operator's review of the cited draft, the FAQ, and the self-service mode a category
earns — through the running server, with the 就業規則 loaded by `ushiro kb add` and the
earlier reviews of the category made through the public services on the same database."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from answers.answers_support import CATEGORY, QUESTION, RULES, People, ask, review
from browser_support import assert_clean_console, log_in, log_out, text_of, wait
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from ushiro import identity, knowledge
from ushiro.answers import selfservice
from ushiro.answers import service as answers
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.desk import queries
from ushiro.identity import Principal, Role, UserIn

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-42"
HR_OPERATOR = {"email": "takahashi@sakura.example.co.jp", "name": "高橋 美咲",
               "password": PASSWORD}
ADMIN = {"email": "suzuki@sakura.example.co.jp", "name": "鈴木 一郎", "password": PASSWORD}
CLOSING = "ご不明な点があれば、このままご返信ください。"
EDIT = "申請は勤怠システムの「休暇申請」から行ってください。"
REASON = "申請方法を追記"
OVERTIME = "時間外労働の上限は月に何時間までですか？"
REF = re.compile(r"REQ-\d+")


def ask_in_chat(driver: WebDriver, base: str, question: str) -> tuple[int, str]:
    """The employee's first chat message in CATEGORY; returns (request id, reference).
    A new question (?new=1): /portal/chat itself reopens the current conversation."""
    driver.get(f"{base}/portal/chat?new=1")
    Select(driver.find_element(By.ID, "chat-category")).select_by_visible_text(CATEGORY)
    driver.find_element(By.ID, "chat-input").send_keys(question)
    driver.find_element(By.ID, "chat-send").click()
    status = wait(driver).until(EC.visibility_of_element_located((By.ID, "chat-status")))
    found = REF.search(status.text)
    assert found, status.text
    request_id = driver.find_element(By.ID, "chat-request-id").get_attribute("value") or ""
    assert request_id.isdigit(), request_id
    return int(request_id), found.group(0)


def automation_row(driver: WebDriver, category_id: int) -> WebElement:
    return driver.find_element(By.ID, f"automation-{category_id}")


def choose_mode(driver: WebDriver, category_id: int, mode: str) -> None:
    row = automation_row(driver, category_id)
    Select(row.find_element(By.NAME, "mode")).select_by_value(mode)
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


@pytest.fixture
def desk_rt(live_desk: Any) -> Iterator[Runtime]:
    """The public services on the live server's own database and data directory."""
    settings = Settings(data_dir=live_desk.data_dir, database_url=live_desk.database_url,
                        jobs_inline=True, worker_in_process=False)
    runtime = Runtime.from_settings(settings)
    try:
        yield runtime
    finally:
        runtime.db.dispose()


@pytest.fixture
def people(desk_rt: Runtime, live_desk: Any, tmp_path: Path,
           desk_accounts: dict[str, dict[str, object]]) -> People:
    """The 就業規則 loaded with `ushiro kb add`; a 人事・労務 operator and an administrator
    added through the identity service; the principals the services act as."""
    rules = tmp_path / "就業規則.txt"
    rules.write_text(RULES, encoding="utf-8")
    live_desk.cli("kb", "add", str(rules))
    tenant = identity.resolve_tenant(desk_rt.db, "sakura")
    operator = identity.add_user(desk_rt.db, Principal.system(tenant.id, "test"), UserIn(
        email=HR_OPERATOR["email"], name=HR_OPERATOR["name"], role=Role.OPERATOR,
        password=PASSWORD, departments=["人事・労務"]))
    admin = identity.add_user(desk_rt.db, Principal.system(tenant.id, "test"), UserIn(
        email=ADMIN["email"], name=ADMIN["name"], role=Role.ADMIN, password=PASSWORD))
    with desk_rt.db.reading() as session:
        employee = identity.user_by_email(session, str(desk_accounts["requester"]["email"]))
        assert employee is not None
    principals = [identity.principal(desk_rt.db, u.id, tenant.id)
                  for u in (employee, operator, admin)]
    return People(tenant, employee, operator, admin, *principals)


@pytest.fixture
def category_id(desk_rt: Runtime, people: People) -> int:
    return selfservice.resolve_category(desk_rt, people.tenant.id, CATEGORY)


def test_rule_question_review_faq_and_earned_self_service(
        live_server: str, browser: WebDriver, desk_rt: Runtime, people: People,
        category_id: int, desk_accounts: dict[str, dict[str, object]],
        screenshot: Callable[[str], Path]) -> None:
    """GIVEN a desk whose knowledge base holds the 就業規則, and the category 勤怠・休暇 in
    draft-only mode
    WHEN an employee asks about paid leave in the portal chat, the 人事 operator edits the
    cited draft in the browser, approves and sends it and adds it to the FAQ; the
    administrator then tries to switch the category to suggest, once with that one review
    and once with 30; and the employee asks another rule question in the chat
    THEN the first question gets no automatic answer; the operator sees the draft citing
    第12条 with the quoted sentence highlighted; the edit is a revision with author,
    reason and diff; the FAQ is searchable; the employee reads the operator's reply; the
    first switch is refused with the numbers (1 review), the second succeeds; the new
    question gets an automatic answer labelled as such with its citation and the
    「担当者に確認する」 button, which puts the request in front of a person."""
    base, driver = live_server, browser
    employee = desk_accounts["requester"]

    # -- The employee asks in the chat: draft-only, so a person will answer.
    log_in(driver, base, employee, "/portal")
    request_id, reference = ask_in_chat(driver, base, QUESTION)
    assert "担当者がここで回答します" in text_of(driver, "#chat-status")
    assert driver.find_elements(By.ID, "auto-answer") == []
    assert_clean_console(driver, expected=("409 (Conflict)",))
    screenshot("answers-01-chat-draft-only")
    log_out(driver, base)

    # -- The 人事 operator opens the request from the queue and reviews the draft.
    log_in(driver, base, HR_OPERATOR, "/desk")
    driver.find_element(By.LINK_TEXT, QUESTION).click()
    wait(driver).until(EC.url_to_be(f"{base}/desk/requests/{request_id}"))
    assert reference in text_of(driver, "#request-title")
    assert text_of(driver, "#draft-status") == "提案中"
    # The draft is in the reply editor, its cited clauses beside it.
    clauses = driver.find_element(By.CSS_SELECTOR, "#reply-editor #draft-clauses")
    assert "就業規則 第12条(年次有給休暇)" in text_of(driver, "#citation-1 .meta")
    marked = [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#citation-1 mark")]
    assert marked and marked[0].startswith("雇入れの日から６か月間継続勤務し"), marked
    # Passage text is shown as text: 第12条's "<重要>" never becomes an element.
    assert "<重要>" in clauses.text
    assert driver.execute_script(
        "return arguments[0].getElementsByTagName('重要').length;", clauses) == 0
    draft_box = driver.find_element(By.CSS_SELECTOR, "#reply-editor #draft-text")
    drafted = draft_box.get_attribute("value") or ""
    assert "１０日の年次有給休暇" in drafted and CLOSING in drafted
    screenshot("answers-02-draft")

    # -- … edits the text in the browser, gives a reason, approves and sends.
    edited = drafted.replace(CLOSING, EDIT)
    draft_box.clear()
    draft_box.send_keys(edited)
    driver.find_element(By.ID, "draft-edit-reason").send_keys(REASON)
    assert Select(driver.find_element(By.ID, "draft-then-status")).first_selected_option \
        .get_attribute("value") == "resolved"
    driver.find_element(By.ID, "draft-approve").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "draft-status"), "送信済"))
    assert EDIT in text_of(driver, "#thread .msg.outbound .body")
    assert CLOSING not in text_of(driver, "#thread .msg.outbound .body")
    assert "実質的な修正なしで承認" in text_of(driver, "#draft-edit-ratio")
    driver.find_element(By.CSS_SELECTOR, "#draft-history summary").click()
    history = text_of(driver, "#draft-history")
    assert REASON in history and HR_OPERATOR["name"] in history
    diff = text_of(driver, "#draft-history pre.diff")
    assert f"-{CLOSING}" in diff and f"+{EDIT}" in diff

    # -- … and adds the answer to the FAQ.
    driver.find_element(By.CSS_SELECTOR, "#draft-promote summary").click()
    wait(driver).until(EC.element_to_be_clickable((By.ID, "draft-promote-submit"))).click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "draft-faq"),
                                                        f"faq-{reference}"))
    assert_clean_console(driver, expected=("409 (Conflict)",))
    screenshot("answers-03-sent-and-promoted")
    log_out(driver, base)

    # What the browser did is what the services record.
    [draft] = answers.drafts_for_request(desk_rt, people.operator_p, request_id)
    assert draft.status == "sent" and draft.answer == edited
    assert [r.kind for r in draft.revisions] == ["generated", "edit", "approve"]
    edit = draft.revisions[1]
    assert (edit.author, edit.reason) == (HR_OPERATOR["name"], REASON)
    assert draft.accepted is True and draft.faq_document == f"faq-{reference}"
    hits = knowledge.search(desk_rt, people.employee_p, "入社して何か月で有給休暇がもらえますか",
                            k=3)
    assert f"社内FAQ {reference}" in [h.document for h in hits]

    # -- The employee reads the operator's reply in the portal.
    log_in(driver, base, employee, "/portal")
    assert reference in text_of(driver, "#my-requests")
    driver.get(f"{base}/portal/requests/{request_id}")
    reply = text_of(driver, "#thread .msg.outbound .body")
    assert EDIT in reply and "１０日の年次有給休暇" in reply
    assert text_of(driver, "h1 .badge.st-resolved") == "解決済"
    log_out(driver, base)

    # -- The administrator asks for suggest too early: refused, with the numbers.
    log_in(driver, base, ADMIN, "/desk")
    driver.get(f"{base}/admin/automation")
    choose_mode(driver, category_id, "suggest")
    error = wait(driver).until(EC.visibility_of_element_located((By.ID, "automation-error")))
    assert f"カテゴリ「{CATEGORY}」は「自動回答の提示」にできません" in error.text
    assert "レビュー 1 件、修正なしの承認 1 件、承認率 100.0%" in error.text
    assert "90%" in error.text and "self_service_not_earned" in error.text
    row = automation_row(driver, category_id)
    assert "error-row" in (row.get_attribute("class") or "")
    assert "1 / 30" in row.text and "100.0%" in row.text
    assert Select(row.find_element(By.NAME, "mode")).first_selected_option \
        .get_attribute("value") == "draft_only"
    assert_clean_console(driver, expected=("409 (Conflict)",))
    screenshot("answers-04-refused")

    # -- 29 more reviews, sent as drafted, make 30: now it is allowed.
    for _ in range(29):
        review(desk_rt, people, accepted=True)
    driver.get(f"{base}/admin/automation")
    row = automation_row(driver, category_id)
    assert "30 / 30" in row.text and "100.0%" in row.text and "条件達成" in row.text
    choose_mode(driver, category_id, "suggest")
    wait(driver).until(EC.url_to_be(f"{base}/admin/automation?saved=1"))
    assert "保存しました。" in text_of(driver, ".alert.notice")
    assert Select(automation_row(driver, category_id).find_element(By.NAME, "mode")) \
        .first_selected_option.get_attribute("value") == "suggest"
    assert selfservice.get_mode(desk_rt, people.admin_p, category_id).mode == "suggest"
    assert_clean_console(driver, expected=("409 (Conflict)",))
    screenshot("answers-05-suggest")
    log_out(driver, base)

    # -- The employee's next question gets the cited answer at once, marked automatic.
    log_in(driver, base, employee, "/portal")
    second_id, second_ref = ask_in_chat(driver, base, OVERTIME)
    auto = driver.find_element(By.ID, "auto-answer")
    assert text_of(driver, "#auto-answer .auto-label") == "自動回答"
    assert "１か月４５時間" in text_of(driver, "#auto-answer .body")
    assert "就業規則 第9条(時間外労働及び休日労働)" in text_of(driver, "#auto-answer-citations")
    assert "この回答は社内規程をもとに自動で作成されました。" in text_of(driver, "#chat-box")
    escalate = driver.find_element(By.ID, "chat-escalate")
    assert escalate.text == "担当者に確認する"
    assert auto.is_displayed()
    assert_clean_console(driver, expected=("409 (Conflict)",))
    screenshot("answers-06-automatic-answer")

    # -- 「担当者に確認する」: the request goes to a person, tagged so the desk sees why.
    driver.execute_script("window.__sameDocument = true;")
    escalate.click()
    escalated = wait(driver).until(EC.visibility_of_element_located((By.ID, "escalated")))
    assert escalated.text == "担当者に確認を依頼しました。担当者がここで回答します。"
    assert driver.find_elements(By.ID, "chat-escalate") == []
    assert driver.execute_script("return window.__sameDocument === true;"), "page reloaded"
    assert second_ref in text_of(driver, "#chat-status")
    assert_clean_console(driver, expected=("409 (Conflict)",))
    screenshot("answers-07-escalated")
    log_out(driver, base)

    seen = queries.get_request(desk_rt, people.operator_p, second_id)
    assert "エスカレーション" in seen.tags and seen.messages == []  # nothing sent yet
    [suggested] = answers.drafts_for_request(desk_rt, people.operator_p, second_id)
    assert (suggested.mode, suggested.status) == ("suggest", "proposed")
    log_in(driver, base, HR_OPERATOR, "/desk")
    row_link = driver.find_element(By.LINK_TEXT, OVERTIME)
    row_text = row_link.find_element(By.XPATH, "./ancestor::tr").text
    assert second_ref in row_text and "エスカレーション" in row_text


COMPANY_SIGNATURE = "総務部　ヘルプデスク"
OWN_SIGNATURE = "人事部　高橋 美咲"
OFF_TOPIC = "社員食堂の今週のメニューを教えてください"


def _rect(driver: WebDriver, css: str) -> dict[str, float]:
    rect: dict[str, float] = driver.execute_script(
        "return arguments[0].getBoundingClientRect().toJSON();",
        driver.find_element(By.CSS_SELECTOR, css))
    return rect


def _no_sideways_scroll(driver: WebDriver) -> bool:
    return bool(driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth;"))


def _save_signature(driver: WebDriver, text: str) -> None:
    box = driver.find_element(By.ID, "signature")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "signature-save").click()


def test_operator_workspace_draft_in_the_editor_with_signatures(
        live_server: str, browser: WebDriver, desk_rt: Runtime, people: People,
        screenshot: Callable[[str], Path]) -> None:
    """GIVEN a desk whose knowledge base holds the 就業規則
    WHEN the administrator sets the company's reply signature (once too long), the 人事
    operator sets their own, an employee asks a rule question and one the rules do not
    answer, and the operator works both on a wide and on a phone-sized screen
    THEN the too long signature is refused with its reason and kept for editing; the rule
    draft is the text of the reply editor, greeting the employee as 山田さん and signed
    with the company's signature, beside its cited clause with the quoted sentence marked
    (side by side at 1366 px, one under the other at 390 px, nothing wider than the
    screen); 「挨拶と署名を挿入」 puts the greeting and the operator's own signature around
    the cursor; the holding reply's status stands on 対応中 and leaves the request in
    progress; the rule answer sent with the defaults resolves its request."""
    base, driver = live_server, browser

    # -- The administrator sets the company's signature.
    log_in(driver, base, ADMIN, "/desk")
    driver.get(f"{base}/admin/signature")
    _save_signature(driver, "総" * 201)
    error = wait(driver).until(EC.visibility_of_element_located((By.ID, "signature-error")))
    assert "署名は200文字以内で入力してください" in error.text
    assert driver.find_element(By.ID, "signature").get_attribute("value") == "総" * 201
    _save_signature(driver, COMPANY_SIGNATURE)
    wait(driver).until(EC.url_to_be(f"{base}/admin/signature?saved=1"))
    assert text_of(driver, "#signature-preview .body").endswith(COMPANY_SIGNATURE)
    assert_clean_console(driver, expected=("422 (Unprocessable",))
    screenshot("workspace-00-company-signature")
    log_out(driver, base)

    rule_id = ask(desk_rt, people.employee_p)
    holding_id = ask(desk_rt, people.employee_p, OFF_TOPIC)

    # -- The operator sets their own signature and opens the rule question, wide screen.
    log_in(driver, base, HR_OPERATOR, "/desk")
    driver.find_element(By.LINK_TEXT, "個人設定").click()
    wait(driver).until(EC.url_to_be(f"{base}/settings"))
    assert COMPANY_SIGNATURE in text_of(driver, "#signature-company")
    _save_signature(driver, OWN_SIGNATURE)
    wait(driver).until(EC.url_to_be(f"{base}/settings?saved=1"))
    screenshot("workspace-00-own-signature")
    driver.set_window_size(1366, 900)
    driver.get(f"{base}/desk/requests/{rule_id}")
    drafted = driver.find_element(By.CSS_SELECTOR, "#reply-editor #draft-text") \
        .get_attribute("value") or ""
    assert drafted.startswith("山田さん　お疲れさまです。"), drafted
    assert drafted.rstrip().endswith(COMPANY_SIGNATURE), drafted
    assert "お問い合わせありがとうございます" not in drafted
    assert "就業規則 第12条(年次有給休暇)" in text_of(driver, "#draft-clauses #citation-1 .meta")
    marked = [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#draft-clauses mark")]
    assert marked and marked[0].startswith("雇入れの日から６か月間継続勤務し"), marked
    editor, clauses = _rect(driver, "#draft-text"), _rect(driver, "#draft-clauses")
    assert clauses["left"] >= editor["right"] and clauses["top"] < editor["bottom"]
    assert _no_sideways_scroll(driver)
    assert Select(driver.find_element(By.ID, "draft-then-status")).first_selected_option \
        .get_attribute("value") == "resolved"
    assert_clean_console(driver)
    screenshot("workspace-01-draft-1366")

    # -- Writing by hand: the greeting and the operator's own signature, cursor between.
    driver.find_element(By.CSS_SELECTOR, "#reply-plain summary").click()
    driver.find_element(By.ID, "reply-insert-template").click()
    box = driver.find_element(By.ID, "reply-body")
    box.send_keys("確認します。")
    assert box.get_attribute("value") == (
        f"山田さん　お疲れさまです。\n\n確認します。\n\n{OWN_SIGNATURE}")
    driver.find_element(By.ID, "reply-insert-template").click()  # again: nothing doubles
    assert box.get_attribute("value") == (
        f"山田さん　お疲れさまです。\n\n確認します。\n\n{OWN_SIGNATURE}")
    assert_clean_console(driver)

    # -- The same page on a phone: the clauses under the editor, nothing sideways.
    driver.set_window_size(390, 844)
    driver.get(f"{base}/desk/requests/{rule_id}")
    editor, clauses = _rect(driver, "#draft-text"), _rect(driver, "#draft-clauses")
    assert clauses["top"] >= editor["bottom"]
    assert _no_sideways_scroll(driver)
    screenshot("workspace-02-draft-390")
    driver.execute_script("document.getElementById('draft-clauses').scrollIntoView();")
    screenshot("workspace-03-clauses-390")

    # -- The holding reply: 対応中 by default, and it stays in progress once sent.
    driver.set_window_size(1366, 900)
    driver.get(f"{base}/desk/requests/{holding_id}")
    assert "保留の返信" in text_of(driver, "#reply-editor #draft-abstained")
    status = Select(driver.find_element(By.ID, "draft-then-status"))
    assert status.first_selected_option.get_attribute("value") == "in_progress"
    screenshot("workspace-04-holding-1366")
    driver.find_element(By.ID, "draft-approve").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "draft-status"), "送信済"))
    assert text_of(driver, "#request-title .badge.st-in_progress") == "対応中"

    # -- The rule answer sent as drafted resolves its request.
    driver.get(f"{base}/desk/requests/{rule_id}")
    driver.find_element(By.ID, "draft-approve").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "draft-status"), "送信済"))
    assert text_of(driver, "#request-title .badge.st-resolved") == "解決済"
    assert COMPANY_SIGNATURE in text_of(driver, "#thread .msg.outbound .body")
    assert_clean_console(driver)
    screenshot("workspace-05-sent-1366")
