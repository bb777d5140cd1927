"""End to end in a real browser: an employee asks, the 経理 operator answers, the employee
reads the answer — through the running server, its forms, its htmx fragments and its CLI."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from browser_support import assert_clean_console, log_in, log_out, text_of, wait
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

pytestmark = pytest.mark.browser

TITLE = "新幹線の立替経費の精算について"
SEARCH_WORD = "新幹線"
SCRIPT = "<script>alert('x')</script>"
BODY = f"大阪出張の交通費を立て替えました。\n{SCRIPT}\n領収書を添付します。"
CHAT_FIRST = "会議室Bのプロジェクターが映りません。"
CHAT_SECOND = "ケーブルを交換しても同じでした。"
REPLY = "領収書を確認しました。往復の日付を教えてください。"
REF = re.compile(r"REQ-\d+")


def assert_no_alert(driver: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - the property access is the check


def queue_rows(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#queue tbody tr")


def test_request_reply_and_chat_round_trip(live_server: str, browser: WebDriver,
                                           desk_accounts: dict[str, dict[str, object]],
                                           screenshot: Callable[[str], Path],
                                           tmp_path: Path) -> None:
    """GIVEN a fresh desk with an employee and a 経理 operator
    WHEN the employee files an expense request with a receipt and asks in chat, and the
    operator finds it with the search box and answers asking for details
    THEN the employee sees the answer and the status 回答があります (the desk: 回答待ち), and the HTML in the body
    is shown as text, never run."""
    base, driver = live_server, browser
    employee, operator = desk_accounts["requester"], desk_accounts["operator"]
    receipt = tmp_path / "領収書.txt"
    receipt.write_text("東京→新大阪 のぞみ 往復 29,440円\n", encoding="utf-8")

    # -- The employee logs in (Japanese UI) and files a request with an attachment.
    driver.get(f"{base}/login")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja"
    assert "ログイン" in driver.title and "ログイン" in text_of(driver, "h1")
    screenshot("01-login")
    log_in(driver, base, employee, "/portal")

    driver.get(f"{base}/portal/new")
    Select(driver.find_element(By.ID, "category")).select_by_visible_text("経費精算")
    driver.find_element(By.ID, "title").send_keys(TITLE)
    driver.find_element(By.ID, "body").send_keys(BODY)
    driver.find_element(By.ID, "files").send_keys(str(receipt))
    screenshot("02-new-request")
    driver.find_element(By.ID, "submit-request").click()

    notice = wait(driver).until(EC.visibility_of_element_located((By.ID, "created-notice")))
    match = REF.search(notice.text)
    assert match, notice.text
    reference = match.group(0)
    request_id = re.search(r"/portal/requests/(\d+)\?created=1$", driver.current_url)
    assert request_id, driver.current_url
    portal_url = f"{base}/portal/requests/{request_id.group(1)}"
    assert reference in text_of(driver, "h1") and TITLE in text_of(driver, "h1")
    assert SCRIPT in text_of(driver, "#thread .msg.inbound .body")
    assert driver.find_elements(By.CSS_SELECTOR, "#thread script") == []
    assert_no_alert(driver)
    attachment = driver.find_element(By.LINK_TEXT, "領収書.txt")
    assert re.fullmatch(rf"{re.escape(base)}/attachments/\d+", attachment.get_attribute("href") or "")
    assert_clean_console(driver)
    screenshot("03-created")

    # -- The employee also asks in the portal chat: the log is swapped in by htmx, and the
    #    second message joins the request the first one opened.
    driver.get(f"{base}/portal/chat")
    driver.execute_script("window.__sameDocument = true;")
    driver.find_element(By.ID, "chat-input").send_keys(CHAT_FIRST)
    driver.find_element(By.ID, "chat-send").click()
    status = wait(driver).until(EC.visibility_of_element_located((By.ID, "chat-status")))
    chat_match = REF.search(status.text)
    assert chat_match and chat_match.group(0) != reference, status.text
    chat_reference = chat_match.group(0)
    assert driver.execute_script("return window.__sameDocument === true;"), "page reloaded"
    assert driver.find_element(By.ID, "chat-input").get_attribute("value") == ""
    driver.find_element(By.ID, "chat-input").send_keys(CHAT_SECOND)
    driver.find_element(By.ID, "chat-send").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "chat-log"), CHAT_SECOND))
    log_text = text_of(driver, "#chat-log")
    assert CHAT_FIRST in log_text and chat_reference in text_of(driver, "#chat-status")
    assert driver.execute_script("return window.__sameDocument === true;"), "page reloaded"
    assert driver.find_element(By.ID, "chat-input").get_attribute("value") == ""
    assert_clean_console(driver)
    screenshot("04-chat")
    log_out(driver, base)

    # -- The operator finds the request in the queue with the htmx search box.
    log_in(driver, base, operator, "/desk")
    queue_text = text_of(driver, "#queue")
    assert reference in queue_text and chat_reference in queue_text
    assert len(queue_rows(driver)) == 2
    old_queue = driver.find_element(By.ID, "queue")
    driver.execute_script("window.__sameDocument = true;")
    driver.find_element(By.ID, "q").send_keys(SEARCH_WORD)
    wait(driver).until(EC.staleness_of(old_queue))  # replaced by the htmx swap
    wait(driver).until(lambda d: len(queue_rows(d)) == 1)
    (row,) = queue_rows(driver)
    assert reference in row.text and TITLE in row.text
    assert chat_reference not in text_of(driver, "#queue")
    assert driver.execute_script("return window.__sameDocument === true;"), "page reloaded"
    assert "q=" in driver.current_url  # hx-push-url keeps the filter in the address bar
    assert_clean_console(driver)
    screenshot("05-queue-filtered")

    row.find_element(By.LINK_TEXT, TITLE).click()
    wait(driver).until(EC.url_matches(r"/desk/requests/\d+$"))
    assert reference in text_of(driver, "#request-title")
    assert SCRIPT in text_of(driver, "#thread .msg.inbound .body")
    assert_no_alert(driver)
    driver.find_element(By.ID, "reply-body").send_keys(REPLY)
    assert Select(driver.find_element(By.ID, "reply-kind")).first_selected_option \
        .get_attribute("value") == "outbound"
    Select(driver.find_element(By.ID, "reply-status")).select_by_value("waiting")
    old_thread = driver.find_element(By.ID, "thread")
    driver.find_element(By.ID, "reply-submit").click()
    wait(driver).until(EC.staleness_of(old_thread))  # the form posts and redirects back
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "thread"), REPLY))
    assert text_of(driver, "#request-title .badge.st-waiting") == "回答待ち"
    assert Select(driver.find_element(By.ID, "status-select")).first_selected_option \
        .get_attribute("value") == "waiting"
    assert_clean_console(driver)
    screenshot("06-replied")
    log_out(driver, base)

    # -- The employee reads the answer and sees the new status.
    log_in(driver, base, employee, "/portal")
    assert "回答があります" in text_of(driver, "#my-requests")
    driver.get(portal_url)
    assert REPLY in text_of(driver, "#thread .msg.outbound .body")
    assert text_of(driver, "h1 .badge.st-waiting") == "回答があります"
    assert SCRIPT in text_of(driver, "#thread .msg.inbound .body")
    assert_no_alert(driver)
    assert_clean_console(driver)
    screenshot("07-employee-sees-reply")
