"""The portal chat as a conversation, in two real browsers: the employee's chat stays open
while the operator answers on the desk, and the reply appears without a reload."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from browser_support import assert_clean_console, log_in, text_of, wait
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from ushiro.desk.views import CHAT_POLL_SECONDS

pytestmark = pytest.mark.browser

QUESTION = "来週の大阪出張の日当はいくらですか？"  # 旅費・出張 by its words (経理)
NOTE = "社内メモ: 規程改定前の金額に注意。"
REPLY = "山田さん　お疲れさまです。\n大阪は政令指定都市のため、日当は1日8,000円です。"
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


def polls(driver: WebDriver) -> int:
    """The chat polls the page made since the resource timings were last cleared."""
    return int(driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/messages?')).length;"))


def test_the_chat_shows_the_reply_without_a_reload(
        live_server: str, browser: WebDriver, second_browser: WebDriver,
        desk_accounts: dict[str, dict[str, object]],
        screenshot: Callable[[str], Path]) -> None:
    """GIVEN a fresh desk with an employee and a 経理 operator
    WHEN the employee asks in the chat without choosing a category, and, while the chat
    stays open, the operator (in another browser) writes an internal note and replies on
    the desk with status 回答待ち; then the employee reloads the chat, and opens it anew
    THEN the question is sorted into 旅費・出張 and reads 「受付済み」; the reply appears
    in the open chat by itself (same document), the note never; the status reads
    「回答があります」; a hidden tab stops polling; after the reload and on /portal/chat the whole conversation is
    still there."""
    base, employee_view, desk_view = live_server, browser, second_browser
    employee, operator = desk_accounts["requester"], desk_accounts["operator"]

    # -- The employee asks; the request lands in 旅費・出張, in the 経理 operator's queue.
    log_in(employee_view, base, employee, "/portal")
    employee_view.get(f"{base}/portal/chat")
    employee_view.find_element(By.ID, "chat-input").send_keys(QUESTION)
    employee_view.find_element(By.ID, "chat-send").click()
    wait(employee_view).until(EC.visibility_of_element_located((By.ID, "chat-state")))
    assert text_of(employee_view, "#chat-state") == "受付済み"
    assert "担当者がここで回答します" in text_of(employee_view, "#chat-status")
    request_id = employee_view.find_element(By.ID, "chat-request-id").get_attribute("value")
    assert request_id and request_id.isdigit()
    assert employee_view.current_url == f"{base}/portal/chat?request_id={request_id}"
    employee_view.execute_script("window.__sameDocument = true;")

    # -- The operator answers on the desk, in their own browser.
    log_in(desk_view, base, operator, "/desk")
    desk_view.get(f"{base}/desk/requests/{request_id}")
    assert "旅費・出張" in desk_view.find_element(By.TAG_NAME, "main").text
    for body, kind, status in ((NOTE, "note", ""), (REPLY, "outbound", "waiting")):
        desk_view.find_element(By.ID, "reply-body").send_keys(body)
        Select(desk_view.find_element(By.ID, "reply-kind")).select_by_value(kind)
        if status:
            Select(desk_view.find_element(By.ID, "reply-status")).select_by_value(status)
        old_thread = desk_view.find_element(By.ID, "thread")
        desk_view.find_element(By.ID, "reply-submit").click()
        wait(desk_view).until(EC.staleness_of(old_thread))
        wait(desk_view).until(EC.text_to_be_present_in_element((By.ID, "thread"),
                                                               body.splitlines()[-1]))
    assert_clean_console(desk_view)

    # -- The open chat shows the reply by itself (the poll), never the note.
    reply_line = REPLY.splitlines()[-1]
    wait(employee_view, 20).until(
        EC.text_to_be_present_in_element((By.ID, "chat-messages"), reply_line))
    assert employee_view.execute_script("return window.__sameDocument === true;"), "reloaded"
    wait(employee_view).until(EC.text_to_be_present_in_element((By.ID, "chat-state"),
                                                               "回答があります"))
    log_text = text_of(employee_view, "#chat-log")
    assert QUESTION in log_text and NOTE not in log_text and "回答待ち" not in log_text
    assert operator["name"] in text_of(employee_view, ".bubble.reply .meta")
    assert_clean_console(employee_view)

    # -- A hidden tab does not poll; shown again, it polls at once.
    employee_view.execute_script(
        "performance.clearResourceTimings();"
        "Object.defineProperty(document, 'hidden', {value: true, configurable: true});")
    time.sleep(2.5 * CHAT_POLL_SECONDS)
    assert polls(employee_view) == 0, "a hidden tab polled"
    employee_view.execute_script(
        "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'));")
    wait(employee_view, 2).until(lambda d: polls(d) >= 1)
    for name, (width, height) in WIDTHS.items():
        employee_view.set_window_size(width, height)
        screenshot(f"chat-reply-{name}")
        overflow = employee_view.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth;")
        assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow}px"
    employee_view.set_window_size(1280, 900)

    # -- After a reload, and when the chat is opened anew, the conversation is there.
    for url in (employee_view.current_url, f"{base}/portal/chat"):
        employee_view.get(url)
        log_text = text_of(employee_view, "#chat-log")
        assert QUESTION in log_text and reply_line in log_text and NOTE not in log_text, url
        assert text_of(employee_view, "#chat-state") == "回答があります"
        assert employee_view.find_element(By.ID, "chat-request-id") \
            .get_attribute("value") == request_id
    employee_view.find_element(By.ID, "chat-new").click()
    wait(employee_view).until(EC.url_to_be(f"{base}/portal/chat?new=1"))
    assert QUESTION not in text_of(employee_view, "#chat-log")
    assert employee_view.find_element(By.ID, "chat-request-id").get_attribute("value") == ""
    assert re.search("バックオフィスへのご質問をどうぞ", text_of(employee_view, "#chat-log"))
    assert_clean_console(employee_view)
