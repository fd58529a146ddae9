"""The IOC page in a real browser, on the real demo: headless Chromium (Debian's
``chromium``) driven by Playwright, against ``ioc demo`` (Mosquitto, the dataflow, the
cloud API, simulated gauges and a camera) started by the test.

The test logs in with the admin token the demo wrote, waits for an alert that arrives
after the page loaded, acknowledges it in the page and checks the acknowledgement
through the API, opens a violation's evidence images and checks they loaded, saves
screenshots (into ``$IOC_SCREENSHOTS`` when set — ``IOC_SCREENSHOTS=docs/screenshots``
refreshes the README's — else into the test's own folder), and checks that the page
called no address outside this machine. Without Chromium or Playwright it fails, saying
what to install.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


class Demo:
    """``ioc demo`` in a subprocess; its output read line by line in a thread."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.reader: threading.Thread | None = None

    def start(self, duration: float) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ioc.cli", "demo", "--duration", str(duration),
             "--data-dir", str(self.data_dir), "--cameras", "1"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    break
                continue
            found = re.search(pattern, line)
            if found:
                return found
        pytest.fail(f"the demo never printed {pattern!r}:\n{''.join(self.output)}")

    def stop(self) -> str:
        """SIGINT: the demo ends early and prints its summary."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.reader is not None:
            self.reader.join(10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        return "".join(self.output)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    d = Demo(tmp_path / "demo")
    d.start(duration=150)
    yield d
    d.stop()


def _browser(playwright):  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh)")
    return playwright.chromium.launch(executable_path=CHROMIUM,
                                      args=["--headless", "--no-sandbox", "--disable-gpu"])


def _wait_js(page, fn: str, arg: object = None, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    """Poll the JS function ``fn`` (given ``arg``) until it returns true.

    Not ``page.wait_for_function``: Playwright evaluates a string predicate with
    ``eval`` inside the page, which the page's CSP (no 'unsafe-eval') refuses at
    random. ``page.evaluate`` goes through the DevTools protocol, outside the CSP.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(fn, arg):
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {timeout} s: {fn}")
        time.sleep(0.1)


def test_operator_sees_a_live_alert_acknowledges_it_and_opens_evidence(
        demo: Demo, tmp_path: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'")
    found = demo.wait_for(r"IOC page: (http://127\.0\.0\.1:\d+)/ioc", timeout=60)
    base = found.group(1)
    token = (demo.data_dir / "tokens" / "admin").read_text().strip()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=20)
    shots = Path(os.environ.get("IOC_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/ioc")
        page.fill("#token", token)
        page.click("#connect")
        _wait_js(page, "() => document.querySelector('#who').textContent.includes('admin')")
        page.wait_for_selector("#live.on", timeout=20_000)
        page.wait_for_selector(".citymap .place", timeout=20_000)
        at_load = set(page.eval_on_selector_all("#alerts [data-alert]",
                                                "els => els.map(e => e.dataset.alert)"))

        # an alert that arrives after the page loaded, through the live stream
        _wait_js(page,
                 """known => [...document.querySelectorAll('#alerts li[data-alert]')]
                 .some(e => !known.includes(e.dataset.alert) && e.dataset.state === 'open')""",
                 sorted(at_load), timeout=90)
        new_id = page.evaluate(
            """known => [...document.querySelectorAll('#alerts li[data-alert]')]
                 .find(e => !known.includes(e.dataset.alert) && e.dataset.state === 'open')
                 .dataset.alert""", sorted(at_load))
        item = page.locator(f"#alerts li[data-alert='{new_id}']")
        assert item.locator(".alert-text").inner_text().strip()
        item.locator("button.ack").click()
        page.wait_for_selector(f"#alerts li[data-alert='{new_id}'] .alert-ack", timeout=15_000)
        actions = api.get(f"/api/v1/alerts/{new_id}").json()["actions"]
        assert [(a["action"], a["actor"]) for a in actions] == [("acknowledge", "admin-demo")]
        page.screenshot(path=str(shots / "ioc-acknowledged.png"))

        # a violation's evidence, side by side; the images must really have loaded
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            items = api.get("/api/v1/violations").json()["items"]
            if any(e["stored"] for v in items for e in v["evidence"]):
                break
            time.sleep(2)
        else:
            pytest.fail(f"no violation with stored evidence in 90 s:\n{''.join(demo.output)}")
        ready = next(v for v in items if any(e["stored"] for e in v["evidence"]))
        page.click("[data-tab=violations]")
        page.click(f"button.open-evidence[data-violation='{ready['id']}']")
        page.wait_for_selector(".evidence[data-loaded=true]", timeout=20_000)
        _wait_js(page, "() => [...document.querySelectorAll('.evidence img')]"
                 ".every(i => i.complete && i.naturalWidth > 0)", timeout=20)
        shown = page.eval_on_selector_all(".evidence img", "els => els.map(e => e.naturalWidth)")
        # the uplink may have carried more of its images since the API was asked
        assert len(shown) >= sum(e["stored"] for e in ready["evidence"])
        assert min(shown) > 0
        page.screenshot(path=str(shots / "ioc-violation-evidence.png"))

        # English labels, the river levels and the KPIs
        page.click("[data-lang=en]")
        assert page.inner_text("[data-tab=rivers]") == "Rivers & rain"
        page.click("[data-tab=rivers]")
        page.wait_for_selector("#tab-rivers figure[data-station=kimlong] svg path.series")
        page.screenshot(path=str(shots / "ioc-rivers-en.png"))
        page.click("[data-tab=kpi]")
        page.wait_for_selector("#tab-kpi .card")
        page.screenshot(path=str(shots / "ioc-kpi-en.png"))
        page.click("[data-lang=vi]")
        page.click("[data-tab=city]")
        page.wait_for_selector(".citymap .place")
        page.screenshot(path=str(shots / "ioc-city.png"))
        browser.close()
    api.close()
    out = demo.stop()
    hosts = {urlsplit(u).hostname for u in requests if urlsplit(u).scheme in ("http", "https")}
    others = {u for u in requests if not u.startswith(("http:", "https:", "blob:", "data:"))}
    assert hosts <= LOCAL_HOSTS, hosts
    assert not others, others
    assert not errors, errors
    assert "summary" in out, out
    assert sorted(f.name for f in shots.glob("*.png") if f.stat().st_size > 10_000) == [
        "ioc-acknowledged.png", "ioc-city.png", "ioc-kpi-en.png", "ioc-rivers-en.png",
        "ioc-violation-evidence.png"]
