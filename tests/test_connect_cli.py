"""``atx xero connect`` as a user runs it, against the sandbox: the paste-back path (stdin), the
callback path, a custom connection, set-up missing, Ctrl+C."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from test_connect_kit import TEST_KEY
from test_sandbox_xero_support import AU, GB, REDIRECT, make_world

from agent.store import Store
from sandbox.core import Sandbox
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    SANDBOX_XERO_PKCE_CLIENT_ID,
)

REPO = Path(__file__).resolve().parent.parent
WAIT = 30.0


@dataclass
class Running:
    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None]
    seen: list[str]

    def until(self, pattern: str) -> re.Match[str]:
        """Read stdout until a line matches (the lines read so far stay in ``seen``)."""
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"no {pattern!r} in: {self.seen}") from None
            if line is None:
                raise AssertionError(f"exited before {pattern!r}: {self.seen}")
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str, str]:
        status = self.proc.wait(timeout=WAIT)
        while (line := self.lines.get(timeout=WAIT)) is not None:
            self.seen.append(line)
        assert self.proc.stderr is not None
        return status, "".join(self.seen), self.proc.stderr.read()


def base_env(urls: SandboxUrls, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATX_")}
    env |= {
        "PYTHONPATH": str(REPO),
        **urls.environment(),
        "ATX_DATA_DIR": str(data_dir),
        "ATX_SECRET_KEY": TEST_KEY,
        "ATX_XERO_CLIENT_ID": SANDBOX_XERO_PKCE_CLIENT_ID,
        "ATX_OAUTH_LISTEN": "127.0.0.1:0",
        **extra,
    }
    return env


@contextmanager
def sandbox_urls() -> Iterator[tuple[Sandbox, SandboxUrls]]:
    sandbox = Sandbox(make_world())
    with running_sandbox(sandbox) as urls:
        yield sandbox, urls


@contextmanager
def atx_connect(env: dict[str, str], *args: str) -> Iterator[Running]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "xero", "connect", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        yield Running(proc, lines, [])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def browser_consents(link: str, code: str, *, follow: bool = False) -> str:
    """Type the code on /link, let the sandbox's Xero consent; Xero's redirect address."""
    with httpx.Client(timeout=10) as http:
        to_xero = http.get(link, params={"code": code})
        assert to_xero.status_code == 302, to_xero.text
        back = http.get(to_xero.headers["location"])
        assert back.status_code == 302, back.text
        location = str(back.headers["location"])
        if follow:
            page = http.get(location.replace("//localhost:", "//127.0.0.1:"))
            assert page.status_code == 200, page.text
        return location


def connected_tenants(data_dir: Path) -> set[str]:
    store = Store.open(data_dir, secret_key=TEST_KEY)
    try:
        return {c.tenant_id for c in store.connections.list_connections()}
    finally:
        store.close()


def test_the_pasted_redirect_address_connects(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sandbox_urls() as (_sandbox, urls):
        # The browser is "elsewhere": Xero sends it to the registered localhost:8742 address,
        # which fails to load; the user pastes it.
        env = base_env(urls, data, ATX_OAUTH_REDIRECT_URI=REDIRECT)
        with atx_connect(env) as atx:
            link = atx.until(r"Open (http://\S+/link) in a browser").group(1)
            assert "ssh -L 8742:127.0.0.1:" in atx.until(r"ssh -L").string
            code = atx.until(r"Type the code ([A-Z]{4}-[A-Z]{4}) \(valid until").group(1)
            atx.until(r"^Waiting")
            atx.send("http://localhost:8742/callback?code=abc&state=not-this-flow")
            redirect = browser_consents(link, code)
            assert redirect.startswith(REDIRECT + "?")
            atx.send(redirect)
            status, out, err = atx.finish()
    assert status == 0, out + err
    assert "That address did not work: that address does not belong to this connect flow" in err
    assert "Traceback" not in err
    assert "Connected to Xero:" in out
    assert "Sandbox Services Pty Ltd" in out and "Sandbox Services Ltd" in out
    assert connected_tenants(data) == {AU, GB}
    state = re.search(r"state=([^&]+)", redirect).group(1)  # type: ignore[union-attr]
    assert state not in out + err


def test_paste_only_prints_the_xero_address_and_reads_the_redirect(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"ATX_OAUTH_REDIRECT_URI": REDIRECT}
    with (
        sandbox_urls() as (_sandbox, urls),
        atx_connect(base_env(urls, data, **env), "--paste-only") as atx,
    ):
        atx.until(r"Open this address in a browser")
        authorize = atx.until(r"^  (http://\S+/identity/connect/authorize\?\S+)$").group(1)
        atx.until(r"^Waiting")
        with httpx.Client(timeout=10) as http:
            back = http.get(authorize + "&tenants=!AU01")
        assert back.status_code == 302, back.text
        atx.send(back.headers["location"])
        status, out, err = atx.finish()
    assert status == 0, out + err
    assert "The code was accepted" not in out
    assert connected_tenants(data) == {AU}


def test_access_denied_exits_1_with_one_line_and_stores_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sandbox_urls() as (_sandbox, urls):
        env = base_env(urls, data, ATX_OAUTH_REDIRECT_URI=REDIRECT)
        with atx_connect(env, "--paste-only") as atx:
            authorize = atx.until(r"^  (http://\S+/identity/connect/authorize\?\S+)$").group(1)
            with httpx.Client(timeout=10) as http:
                back = http.get(authorize + "&tenants=nobody")
            atx.send(back.headers["location"])
            status, out, err = atx.finish()
    assert status == 1, out + err
    assert err.splitlines() == [
        "atx xero: Xero access was not granted (access_denied): nothing was connected;"
        " start the connect again"
    ]
    assert connected_tenants(data) == set()


def test_the_callback_reaching_the_connect_pages_connects(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sandbox_urls() as (sandbox, urls), atx_connect(base_env(urls, data)) as atx:
        link = atx.until(r"Open (http://\S+/link) in a browser").group(1)
        code = atx.until(r"Type the code ([A-Z]{4}-[A-Z]{4})").group(1)
        redirect_uri = atx.until(r"starting with (http://\S+/callback)\?").group(1)
        for app in sandbox.world.xero_apps:
            app.redirect_uris.append(redirect_uri)  # as the user registers it at Xero
        browser_consents(link, code, follow=True)
        status, out, err = atx.finish()
    assert status == 0, out + err
    assert "The code was accepted" in out
    assert connected_tenants(data) == {AU, GB}


def test_a_custom_connection_connects_without_a_browser(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sandbox_urls() as (_sandbox, urls):
        env = base_env(
            urls,
            data,
            ATX_XERO_AUTH_MODE="client_credentials",
            ATX_XERO_CLIENT_ID=SANDBOX_XERO_CUSTOM_CLIENT_ID,
            ATX_XERO_CLIENT_SECRET=SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
        )
        result = subprocess.run(
            [sys.executable, "-m", "agent.cli", "xero", "connect"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Connected to Xero:\n  Sandbox Services Pty Ltd" in result.stdout
    assert SANDBOX_XERO_CUSTOM_CLIENT_SECRET not in result.stdout + result.stderr
    assert connected_tenants(data) == {AU}


@pytest.mark.parametrize(
    ("missing", "message"),
    [("ATX_XERO_CLIENT_ID", "ATX_XERO_CLIENT_ID is not set"), ("ATX_SECRET_KEY", "ATX_SECRET_KEY")],
)
def test_setup_missing_exits_2_with_one_line(tmp_path: Path, missing: str, message: str) -> None:
    env = base_env(SandboxUrls(1, 1), tmp_path / "data")
    del env[missing]
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli", "xero", "connect"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("atx xero: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_ends_cleanly(tmp_path: Path) -> None:
    with sandbox_urls() as (_sandbox, urls), atx_connect(base_env(urls, tmp_path / "data")) as atx:
        atx.until(r"^Waiting")
        atx.proc.send_signal(signal.SIGINT)
        status, _out, err = atx.finish()
    assert status == 130
    assert "Traceback" not in err
