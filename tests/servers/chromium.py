"""A real browser for system tests: Debian's headless Chromium, driven over the DevTools protocol.

Chromium listens on 127.0.0.1 on a port it picks itself (`--remote-debugging-port=0`, read back from
`DevToolsActivePort` in its fresh profile dir), and this module talks to one page over a websocket
(websocket-client). Nothing is downloaded: the flags keep the browser off the network, and a test can
read `Page.requests` to check that a document loaded nothing but itself.

Without a `chromium` binary the tests that need it skip with the reason; with NUDGE_REQUIRE_CHROMIUM
set (as .ci/run does) they fail instead.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.servers.loopback import HOST

REQUIRE_ENV = "NUDGE_REQUIRE_CHROMIUM"
NAMES = ("chromium", "chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root here and in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",  # a scrollbar would take width from the page and differ between machines
    f"--remote-debugging-address={HOST}",
    "--remote-debugging-port=0",
)
START_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0


def chromium_binary() -> str | None:
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The binary, or skip the test (fail it in CI, where NUDGE_REQUIRE_CHROMIUM is set)."""
    binary = chromium_binary()
    if binary:
        return binary
    reason = (
        "chromium is not installed (apt-get install --no-install-recommends chromium); "
        "the digest's look is checked in a real browser"
    )
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}; {REQUIRE_ENV} is set, so this is an error, not a skip")
    pytest.skip(reason)


class DevToolsError(RuntimeError):
    pass


@dataclass
class Page:
    """One browser tab: call DevTools methods, evaluate JavaScript, take screenshots."""

    ws: websocket.WebSocket
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL asked for since Network.enable
    next_id: int = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_TIMEOUT
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise DevToolsError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            if "method" in msg:
                self._event(msg)
        raise DevToolsError(f"{method}: no answer in {CALL_TIMEOUT:.0f} s")

    def wait_for(self, event: str) -> dict[str, Any]:
        """The first `event` since the last wait, reading more messages if it has not come yet."""
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            for i, msg in enumerate(self.events):
                if msg["method"] == event:
                    del self.events[: i + 1]
                    params: dict[str, Any] = msg.get("params", {})
                    return params
            if time.monotonic() > deadline:
                raise DevToolsError(f"no {event} in {CALL_TIMEOUT:.0f} s")
            self._event(json.loads(self.ws.recv()))

    def _event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)
        if msg["method"] == "Network.requestWillBeSent":
            self.requests.append(msg["params"]["request"]["url"])

    def open(self, path: Path, width: int, dark: bool = False) -> None:
        """Load a file at this viewport width, in light or dark colour scheme."""
        self.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False
        )
        scheme = "dark" if dark else "light"
        self.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])
        self.events.clear()
        self.call("Page.navigate", url=path.as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise DevToolsError(f"JavaScript failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the viewport) as a PNG."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes], log: Path) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DevToolsError(f"chromium exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with suppress(FileNotFoundError, ValueError, IndexError):
            return int(marker.read_text().splitlines()[0])
        time.sleep(0.05)
    raise DevToolsError(f"chromium did not open its DevTools port in {START_TIMEOUT:.0f} s")


@contextmanager
def browser(binary: str, workdir: Path) -> Iterator[Page]:
    """Start Chromium with a fresh profile in `workdir`, yield its first tab, stop it at the end."""
    profile = workdir / "profile"
    profile.mkdir(parents=True)
    log = workdir / "chromium.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        port = _devtools_port(profile, proc, log)
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
        with direct.open(f"http://{HOST}:{port}/json/list", timeout=CALL_TIMEOUT) as answer:
            targets = json.loads(answer.read())
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        ws = websocket.create_connection(url, timeout=CALL_TIMEOUT, suppress_origin=True)
        try:
            page = Page(ws)
            page.call("Page.enable")
            page.call("Network.enable")
            yield page
        finally:
            ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
