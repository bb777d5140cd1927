"""Browser tests: a real `ushiro serve` in a subprocess and a headless Chromium driving it.

Fixtures: ``desk_accounts`` (who logs in), ``live_desk`` (the desk's data directory and
environment, for `ushiro` commands and services run by the test against the same data),
``live_server`` (base URL of that freshly initialised desk on its own database),
``browser`` (a Selenium Chrome session; ``second_browser`` another one), ``screenshot`` (saves PNGs into tmp_path and, if
USHIRO_SCREENSHOTS=dir, there too).

Only the Debian packages are used (/usr/bin/chromium, /usr/bin/chromedriver): with both
paths explicit, Selenium Manager never runs and nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORD = "correct-horse-42"
TENANT = ("sakura", "さくら精機株式会社")
START_TIMEOUT = 60.0  # generous: a loaded CI box takes seconds just to import

ACCOUNTS = {
    "requester": {"email": "yamada@sakura.example.co.jp", "name": "山田 太郎",
                  "role": "requester", "departments": []},
    "operator": {"email": "sato@sakura.example.co.jp", "name": "佐藤 花子",
                 "role": "operator", "departments": ["経理"]},
}


def _ushiro_command() -> list[str]:
    """The `ushiro` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "ushiro"
    if script.exists():
        return [str(script)]
    found = shutil.which("ushiro")
    if found:
        return [found]
    return [sys.executable, "-c", "from ushiro.cli import app; app()"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    result = subprocess.run([*_ushiro_command(), *args], env=env, input=stdin,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"`ushiro {' '.join(args)}` exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole process group, then SIGKILL if it lingers: no leftovers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


def _copy_out(path: Path) -> None:
    extra = os.environ.get("USHIRO_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)


@pytest.fixture
def desk_accounts() -> dict[str, dict[str, object]]:
    return {role: {**account, "password": PASSWORD} for role, account in ACCOUNTS.items()}


@dataclass(frozen=True)
class LiveDesk:
    """Where the live server keeps its data: ``data_dir`` and ``env`` (its database URL)."""

    data_dir: Path
    env: dict[str, str]

    @property
    def database_url(self) -> str:
        return self.env["USHIRO_DATABASE_URL"]

    def cli(self, *args: str, stdin: str | None = None) -> None:
        """`ushiro ARGS… --data-dir DIR` in a subprocess, as an administrator would run it."""
        _cli(self.env, *args, "--data-dir", str(self.data_dir), stdin=stdin)


@pytest.fixture
def live_desk(tmp_path: Path, db_url_factory: Any) -> LiveDesk:
    """`ushiro init` + two users via the CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("USHIRO_")}
    # Jobs run inline, right after the commit that queued them, and only there: with the
    # worker thread on as well, it could claim a draft job first and finish it after the
    # page that shows the draft had loaded (a flaky test on a busy machine).
    env.update({"USHIRO_DATABASE_URL": db_url_factory.new_url(), "USHIRO_JOBS_INLINE": "true",
                "USHIRO_WORKER_IN_PROCESS": "false", "PYTHONUNBUFFERED": "1"})
    desk = LiveDesk(tmp_path / "data", env)
    desk.cli("init", "--tenant", TENANT[0], "--name", TENANT[1])
    for account in ACCOUNTS.values():
        departments = [arg for d in account["departments"] for arg in ("--department", d)]
        desk.cli("user", "add", str(account["email"]), "--name", str(account["name"]),
                 "--role", str(account["role"]), *departments, "--password-stdin",
                 stdin=PASSWORD + "\n")
    return desk


@pytest.fixture
def live_server(tmp_path: Path, live_desk: LiveDesk) -> Iterator[str]:
    """`ushiro serve` on a free port over ``live_desk``."""
    data_dir, env = live_desk.data_dir, live_desk.env
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_ushiro_command(), "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)  # its own process group, so teardown reaches children
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(f"{base_url}/login"):
            if process.poll() is not None:
                pytest.fail(f"`ushiro serve` exited {process.returncode}:\n"
                            f"{log_path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail(f"`ushiro serve` did not answer /login within {START_TIMEOUT:.0f}s:\n"
                            f"{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield base_url
    finally:
        _stop(process)


@pytest.fixture(autouse=True)
def _chromium_present() -> None:
    """Autouse, so it skips before the server is started for nothing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"browser tests need Debian's chromium and chromium-driver; missing: "
                    f"{', '.join(missing)} (apt-get install chromium chromium-driver)")


def _chrome(profile: Path, log: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--lang=ja-JP",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(log))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_window_size(1280, 900)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    driver = _chrome(tmp_path / "chrome-profile", tmp_path / "chromedriver.log")
    try:
        yield driver
        if request.node.stash.get(_FAILED, False):
            # The page as it was when the test failed, for whoever reads the CI log.
            shot = tmp_path / f"FAILED-{request.node.name}.png"
            driver.save_screenshot(str(shot))
            (tmp_path / f"FAILED-{request.node.name}.html").write_text(driver.page_source)
            _copy_out(shot)
    finally:
        driver.quit()


@pytest.fixture
def second_browser(tmp_path: Path) -> Iterator[Any]:
    """Another person's browser (own profile, own cookies) beside ``browser``: the
    operator answering while the employee's chat stays open."""
    driver = _chrome(tmp_path / "chrome-profile-2", tmp_path / "chromedriver-2.log")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: Any, tmp_path: Path) -> Callable[[str], Path]:
    """``screenshot("03-queue")`` → tmp_path/screenshots/03-queue.png (+ $USHIRO_SCREENSHOTS)."""
    own = tmp_path / "screenshots"
    own.mkdir()

    def take(name: str) -> Path:
        path = own / f"{name}.png"
        browser.save_screenshot(str(path))
        _copy_out(path)
        return path

    return take
