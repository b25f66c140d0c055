"""Browser suite: the app served by a real gunicorn process on loopback, on its own SQLite file migrated with
`flask db upgrade` and loaded with `flask dost demo`, driven by Debian's Chromium through Playwright.

One server and one browser per session; every journey gets its own browser context (JavaScript on or off).
axe-core (npm, test-only: tests/browser/node_modules) checks the pages the journeys visit.

Environment: DOST_REQUIRE_BROWSER=1 turns a missing Chromium or axe-core into a failure (CI);
DOST_SCREENSHOTS=1 (`make screenshots`) rewrites the walkthrough screenshots in dost/static/walkthrough/.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser import support

BROWSER_DIR = Path(__file__).resolve().parent
ROOT = BROWSER_DIR.parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--headless=new",
]


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: end-to-end test in Chromium against a live server")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BROWSER_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter):
    if support.AXE_RESULTS:
        pages = len(support.AXE_RESULTS)
        serious = sum(len(found) for found in support.AXE_RESULTS.values())
        minor = Counter(finding for found in support.AXE_MINOR.values() for finding in found)
        terminalreporter.write_line(
            f"axe-core: {pages} page states checked, {serious} serious/critical violations; minor/moderate: "
            + (", ".join(f"{finding} ×{count}" for finding, count in sorted(minor.items())) or "none")
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("live_server")
    if report.failed and server is not None:
        report.sections.append(("server log (last lines)", server.log_tail()))


# --- the server ------------------------------------------------------------------------------------------------


class LiveServer:
    """A gunicorn process serving the app on a loopback port."""

    def __init__(self, url: str, database_url: str, log_path: Path, process: subprocess.Popen):
        self.url = url
        self.database_url = database_url
        self.log_path = log_path
        self.process = process
        self.host = url.split("://", 1)[1]

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DOST_")}
    env.update(
        DOST_DATABASE_URL=database_url,
        DOST_SECRET_KEY="browser-suite-secret",
        DOST_SIGN_IN_RATE_LIMIT="10000 per minute",
        DOST_VERIFY_RATE_LIMIT="10000 per minute",
        # The journeys confirm Asan İmza requests on the demo provider's simulated phone (off by default).
        DOST_DEMO_PROVIDERS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited:\n" + log_path.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not answer /healthz within 60 s")


@contextmanager
def serve(extra_env: dict[str, str] | None = None, port: int | None = None) -> Iterator[LiveServer]:
    """The app under gunicorn on a loopback port (free, or the one given), on a fresh migrated SQLite file with the
    demo data; extra_env adds settings (the national login's, say)."""
    workdir = Path(tempfile.mkdtemp(prefix="dost-browser-"))
    database_url = f"sqlite:///{workdir / 'dost.sqlite3'}"
    env = _server_env(database_url)
    # Not the project's instance/: the audit key and checkpoints belong to this throwaway database.
    env.update(DOST_AUDIT_KEY="browser-suite-audit-key-0123456789abcdef",
               DOST_AUDIT_CHECKPOINT_FILE=str(workdir / "audit-checkpoints.jsonl"),
               DOST_DEMO_IDP_DATABASE_URL=f"sqlite:///{workdir / 'demo-idp.sqlite3'}",
               **(extra_env or {}))
    log_path = workdir / "server.log"
    for command in (["db", "upgrade"], ["dost", "demo"]):
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    process = None
    for _attempt in range(1 if port else 3):
        bound = port or _free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{bound}", "--workers", "1", "--threads", "8",
                 "--graceful-timeout", "2", "--no-control-socket", "app:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        url = f"http://127.0.0.1:{bound}"
        try:
            _wait_until_up(url, process, log_path)
            break
        except RuntimeError:
            if process.poll() is None:
                process.terminate()
            process.wait(10)
            process = None
    if process is None:
        raise RuntimeError("could not start the server:\n" + log_path.read_text(errors="replace")[-3000:])
    server = LiveServer(url, database_url, log_path, process)
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """The app under gunicorn on a free loopback port, on a fresh migrated SQLite file with the demo data, signing in
    at the demo identity provider as `make run` does."""
    port = _free_port()
    with serve({"DOST_DEMO_IDP_ISSUER": f"http://127.0.0.1:{port}/demo-idp"}, port=port) as server:
        yield server


@pytest.fixture(scope="session")
def demo(live_server) -> support.DemoData:
    """What the demo data holds (people to apply for), read from the server's database."""
    return support.DemoData.load(live_server.database_url)


# --- the browser -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, installed from the npm registry into tests/browser/node_modules (never served)."""
    path = BROWSER_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists() and shutil.which("npm"):
        subprocess.run(["npm", "ci", "--prefix", str(BROWSER_DIR), "--no-audit", "--no-fund", "--silent"],
                       cwd=ROOT, capture_output=True, timeout=300)
    if not path.exists():
        support.unavailable("axe-core is not installed: npm ci --prefix tests/browser")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def chromium_browser(axe_source):
    """Debian's Chromium, launched once per session (never a downloaded browser)."""
    executable = shutil.which("chromium")
    if executable is None:
        support.unavailable("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        support.unavailable("the playwright package is not installed")
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    except Exception as error:
        manager.stop()
        support.unavailable(f"chromium did not start: {error}")
    yield browser
    browser.close()
    manager.stop()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    if support.SCREENSHOT_DIR is None:
        support.SCREENSHOT_DIR = tmp_path_factory.mktemp("screenshots")
    return support.SCREENSHOT_DIR


@pytest.fixture
def ui(chromium_browser, live_server, axe_source, screenshot_dir, request) -> Iterator[support.Ui]:
    """Pages in fresh browser contexts (one per call), the axe check and the screenshot helper for one test."""
    session = support.Ui(chromium_browser, live_server, axe_source, test_name=request.node.name)
    try:
        yield session
    finally:
        problems = session.close()
    assert not problems, "browser console reported errors:\n" + "\n".join(problems)
