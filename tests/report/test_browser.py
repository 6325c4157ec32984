"""The report page in a real browser: headless Chromium opens index.html from disk with the network off.

Chromium is driven over the DevTools protocol (a websocket; ``websockets`` comes with
Prefect), which reports console errors, exceptions and failed requests as events: the
page must have none, every image must decode, and a screenshot is kept for a person to
look at (also copied to $POSE3D_SCREENSHOT_DIR when set). The harness first checks a
page that *does* reach for the network, so a silent harness cannot pass the real page.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-default-apps",
    "--disable-extensions", "--mute-audio", "--hide-scrollbars", "--remote-debugging-port=0",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing resolves: a request to any host fails
]


def chromium() -> str:
    """The browser binary; installed with apt (Debian's ``chromium``) when absent."""
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        proc = subprocess.run([apt, "install", "-y", "--no-install-recommends", "chromium"], capture_output=True,
                              text=True, timeout=900, env=env)
        if proc.returncode != 0:
            subprocess.run([apt, "update"], capture_output=True, timeout=600, env=env)
            proc = subprocess.run([apt, "install", "-y", "--no-install-recommends", "chromium"], capture_output=True,
                                  text=True, timeout=900, env=env)
        if Path(CHROMIUM).is_file():
            return CHROMIUM
        pytest.skip(f"chromium is not installed and `apt-get install -y chromium` failed: {proc.stderr[-300:]}")
    pytest.skip("chromium is not installed and there is no apt-get to install it")


class DevTools:
    """A minimal DevTools-protocol client for one page: commands, and every event kept in order."""

    def __init__(self, url: str):
        from websockets.sync.client import connect

        self.ws = connect(url, max_size=None, open_timeout=20)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def send(self, method: str, timeout: float = 30, **params) -> dict:
        n = next(self.ids)
        self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)

    def drain(self, seconds: float) -> None:
        """Collect events that arrive in the next ``seconds`` (late console messages, failed loads)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                break

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium; yields a function that opens a fresh page and returns its DevTools client."""
    binary = chromium()
    pytest.importorskip("websockets.sync.client", reason="the DevTools client needs the websockets package")
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or len(port_file.read_text().split()) < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start: {proc.stderr.read()[-2000:] if proc.poll() is not None else 'timeout'}")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        browser_ws = DevTools(f"ws://127.0.0.1:{port}{path}")
        pages = []

        def open_page() -> DevTools:
            target = browser_ws.send("Target.createTarget", url="about:blank")["targetId"]
            page = DevTools(f"ws://127.0.0.1:{port}/devtools/page/{target}")
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.send(f"{domain}.enable")
            page.send("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=-1,
                      uploadThroughput=-1)
            pages.append(page)
            return page

        yield open_page
        for page in pages:
            page.close()
        browser_ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load(page: DevTools, path: Path) -> dict:
    """Open a file from disk; returns the problems seen and what the page reports about its images."""
    page.send("Page.navigate", url=path.resolve().as_uri())
    page.wait_for("Page.loadEventFired", timeout=60)
    page.drain(0.5)
    images = page.send("Runtime.evaluate", returnByValue=True, expression="""
        Array.from(document.images).map(i => ({src: i.src.slice(0, 40), complete: i.complete, width: i.naturalWidth}))
    """)["result"]["value"]
    sections = page.send("Runtime.evaluate", returnByValue=True,
                         expression="Array.from(document.querySelectorAll('section')).map(s => s.id)")["result"]["value"]
    problems = []
    for ev in page.events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            problems.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
        elif m == "Runtime.exceptionThrown":
            problems.append(f"exception: {p['exceptionDetails'].get('text')}")
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            problems.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Network.loadingFailed":
            problems.append(f"request failed: {p.get('errorText')} ({p.get('type')})")
        elif m == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if not url.startswith(("file:", "data:")):
                problems.append(f"request to {url}")
    return {"problems": problems, "images": images, "sections": sections}


def screenshot(page: DevTools, out: Path) -> Path:
    """The whole page as a PNG, 1280 px wide."""
    metrics = page.send("Page.getLayoutMetrics")
    height = min(int(metrics["cssContentSize"]["height"]) + 1, 16000)
    page.send("Emulation.setDeviceMetricsOverride", width=1280, height=height, deviceScaleFactor=1, mobile=False)
    data = page.send("Page.captureScreenshot", format="png", captureBeyondViewport=True, timeout=60)["data"]
    out.write_bytes(base64.b64decode(data))
    return out


def test_the_harness_sees_a_page_that_reaches_for_the_network(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                   '<img src="https://example.org/missing.png"><script>console.error("boom")</script></body></html>')
    seen = load(browser(), bad)
    assert any("request" in p for p in seen["problems"]), seen
    assert any("console.error" in p for p in seen["problems"]), seen
    assert seen["images"] and seen["images"][0]["width"] == 0


def test_the_report_opens_offline_without_errors_and_every_image_loads(browser, report_ws, tmp_path):
    index = report_ws / "data/reports/index.html"
    page = browser()
    seen = load(page, index)
    assert seen["problems"] == []
    assert seen["sections"][:2] == ["data", "results"] and "comparison" in seen["sections"]
    assert len(seen["images"]) >= 8
    broken = [i for i in seen["images"] if not i["complete"] or i["width"] <= 0]
    assert broken == []
    shot = screenshot(page, tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("POSE3D_SCREENSHOT_DIR"):
        dest = Path(os.environ["POSE3D_SCREENSHOT_DIR"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, dest / "report.png")
