"""Shared helpers for the workbench tests: a real server in a thread, a headless Chromium.

``LiveWorkbench`` runs uvicorn on a free port of 127.0.0.1 in a thread, over an
in-memory store and an engine whose clock the test moves (so deadline timers can
fall due without waiting, and time never runs backwards within a case).

``chromium`` starts Debian's Chromium through chromedriver with the flags that
work on the CI machine. Without a browser the tests are skipped on a developer's
machine but FAIL when ``CI=true``. ``browser_problems`` reads the browser log for
Content-Security-Policy violations and script errors, and ``no_alert`` checks
that no dialog opened: either is a failure of the injection tests.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from engine.runtime.engine import Engine
from engine.server import Principal, TokenTable, create_app, token_hash
from engine.storage.memory import MemoryStore

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
CLERK_TOKEN = "clerk-token-5c7e9a1b3d"
"""A village clerk holding every role of 四议两公开, so one person can run a case through."""
OTHER_TOKEN = "other-token-8d0f2b4c6e"
ADMIN_TOKEN = "admin-token-1a3c5e7f9b"
WEB_PRINCIPALS = {
    CLERK_TOKEN: Principal(
        actor="王文书",
        roles=(
            "branch_secretary",
            "village_director",
            "village_committee",
            "supervision_committee",
        ),
    ),
    OTHER_TOKEN: Principal(actor="李主任", roles=("branch_secretary", "village_director")),
    ADMIN_TOKEN: Principal(actor="ops", admin=True),
}


class MovableClock:
    """A clock the test moves forward; the server reads it for every record's time."""

    def __init__(self) -> None:
        self._at = datetime.now(UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            self._at += timedelta(seconds=1)
            return self._at

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._at += delta


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LiveWorkbench:
    """uvicorn serving the API and the workbench in a thread, on 127.0.0.1."""

    def __init__(self) -> None:
        self.clock = MovableClock()
        self.engine = Engine(store=MemoryStore(), clock=self.clock)
        tokens = TokenTable([(token_hash(t), who) for t, who in WEB_PRINCIPALS.items()])
        self.app = create_app(self.engine, tokens)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveWorkbench:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the workbench server did not start within 30 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class SecondSession:
    """Another person's workbench session, over plain HTTP with its own cookies."""

    def __init__(self, base: str) -> None:
        import http.cookiejar
        import urllib.request

        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as answer:
            text: str = answer.read().decode("utf-8")
            return text

    def post(self, path: str, form: dict[str, str]) -> str:
        from urllib.parse import urlencode

        with self.opener.open(self.base + path, urlencode(form).encode(), timeout=30) as answer:
            text: str = answer.read().decode("utf-8")
            return text

    def csrf(self, text: str) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', text)
        assert found is not None
        return found.group(1)

    def sign_in(self, token: str) -> None:
        pre = self.csrf(self.get("/ui/signin"))
        self.post("/ui/signin", {"csrf": pre, "token": token})


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(program) is None:
            return f"{program} is not installed (make system-deps installs it)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[dev]')"
    return None


def require_browser() -> None:
    """Skip without a browser on a developer's machine; fail under CI=true."""
    missing = browser_missing()
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing} (CI=true: the browser tests must run)")
    pytest.skip(missing)


def chromium(width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, closed (and its profile removed) after."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="yishi-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument("--lang=zh-CN")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def browser_problems(driver: Any) -> list[str]:
    """CSP violations and script errors the browser logged since the last call."""
    found = []
    for entry in driver.get_log("browser"):
        message = str(entry.get("message", ""))
        if entry.get("level") == "SEVERE" or "Content Security Policy" in message:
            # A page answered 409/422 on purpose (a conflict, a refusal) is logged as a
            # failed load, as is the browser's own favicon request: neither is a script
            # or policy problem.
            if entry.get("source") == "network" or "favicon.ico" in message:
                continue
            found.append(message)
    return found


def no_alert(driver: Any) -> bool:
    """True when no alert, confirm or prompt dialog is open."""
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert  # noqa: B018 - raises when there is none
    except NoAlertPresentException:
        return True
    return False


def screenshots_dir() -> Path | None:
    """Where screenshots go: ``$YISHI_SCREENSHOTS``, or None (no screenshots) when unset.

    Screenshots are for a person to look at; no assertion reads them. Taken into a
    tmp dir nobody opens they cost ~0.1 s of Chromium each, seventeen a run.
    """
    chosen = os.environ.get("YISHI_SCREENSHOTS")
    if not chosen:
        return None
    target = Path(chosen)
    target.mkdir(parents=True, exist_ok=True)
    return target


POLL = 0.05
"""Seconds between two looks of a wait. Selenium's default (0.5 s) made every wait that
was not already over at its first look cost half a second of nothing."""


def click_and_wait(driver: Any, element_id: str, seconds: int = 30) -> None:
    """Click a submit button and wait until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, element_id).click()
    WebDriverWait(driver, seconds, POLL).until(_replaced(expected_conditions.staleness_of(old)))
    WebDriverWait(driver, seconds, POLL).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def _replaced(stale: Any) -> Any:
    """``stale`` (a ``staleness_of`` condition), also true when Chromium answers that the
    element is in no document.

    Asked about an element of a page it is replacing, Chromium may answer "Node with
    given id does not belong to the document" (an unknown error, not a stale element):
    the page is gone, which is what the wait is for. (Seen once in a full run.)
    """
    from selenium.common.exceptions import WebDriverException

    def gone(driver: Any) -> bool:
        try:
            return bool(stale(driver))
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise

    return gone


def shot(
    driver: Any, folder: Path | None, name: str, *, full: bool = False, cap: int = 2600
) -> Path | None:
    """Save a PNG screenshot (the viewport, or the whole page up to ``cap`` px) and return it;
    nothing when ``folder`` is None (``screenshots_dir`` found none asked for)."""
    import base64

    if folder is None:
        return None

    options: dict[str, Any] = {"format": "png"}
    if full:
        width = driver.execute_script("return document.documentElement.clientWidth")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        options["captureBeyondViewport"] = True
        options["clip"] = {"x": 0, "y": 0, "width": width, "height": min(cap, height), "scale": 1}
    data = driver.execute_cdp_cmd("Page.captureScreenshot", options)["data"]
    target = folder / f"{name}.png"
    target.write_bytes(base64.b64decode(data))
    return target


def sign_in(driver: Any, base: str, token: str) -> None:
    """Sign in through the form."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/ui/signin")
    driver.find_element(By.ID, "token").send_keys(token)
    click_and_wait(driver, "signin")


def fill(driver: Any, form_id: str, values: dict[str, str]) -> None:
    """Type values into a form's fields (``f.<name>`` inputs), clearing them first."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    form = driver.find_element(By.ID, form_id)
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)


def text_of(driver: Any, element_id: str) -> str:
    """The visible text of an element."""
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def cookie_header(driver: Any) -> str:
    """The browser's cookies for the server, as a Cookie header (to fetch what a page links)."""
    return "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())


def strip_ws(text: str) -> str:
    """Text with runs of whitespace made one space."""
    return re.sub(r"\s+", " ", text).strip()
