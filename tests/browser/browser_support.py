"""Helpers shared by the browser tests: waiting, reading text, signing in and out, and
checking the console for script errors."""

from __future__ import annotations

from selenium.common.exceptions import WebDriverException
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def wait(driver: WebDriver, seconds: float = 15) -> WebDriverWait[WebDriver]:
    """A wait that keeps polling through the errors a page in mid-navigation gives: after a
    form submit, reading an element can fail with a stale reference, a missing element or
    Chromium's "unhandled inspector error" while the old document is torn down (a CI run
    failed on the last). The condition still has to hold before the timeout."""
    return WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,))


def text_of(driver: WebDriver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text


def assert_clean_console(driver: WebDriver, *, expected: tuple[str, ...] = ()) -> None:
    """No script errors (a CSP violation, a failed htmx swap) since the last check, other
    than ``expected`` ones (e.g. "409 (Conflict)": a refused form the page shows)."""
    problems = [entry["message"] for entry in driver.get_log("browser")
                if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]
                and not any(text in entry["message"] for text in expected)]
    assert problems == []


def log_in(driver: WebDriver, base: str, account: dict[str, object], landing: str) -> None:
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "email").send_keys(str(account["email"]))
    driver.find_element(By.ID, "password").send_keys(str(account["password"]))
    driver.find_element(By.ID, "login-submit").click()
    wait(driver).until(EC.url_to_be(f"{base}{landing}"))
    assert text_of(driver, ".who .user").startswith(str(account["name"]))


def log_out(driver: WebDriver, base: str) -> None:
    driver.find_element(By.ID, "logout").click()
    wait(driver).until(EC.url_to_be(f"{base}/login"))
