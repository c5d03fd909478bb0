"""``atx demo``: the simulated Autotask and Xero, the agent against them, the TUI attached.

Three processes, as a real installation has them: the sandbox (``atx sandbox``) and the agent
(``atx agent``) run as children of this command, the TUI runs in the foreground. The agent starts
unconfigured, so the whole setup wizard can be walked through: the Autotask step is tested against
the sandbox, the Xero connect flow goes through the sandbox's consent page. The accountant's
mappings for the seeded MSP (``sandbox.demo``) are loaded through the control API once the agent
answers, so the test invoice of the last step maps.

Nothing here is used by a real installation; the sandbox's addresses and credentials are the only
thing that makes it a demo.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx

from sandbox.demo import MappingRow, accountant_mappings
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
    SANDBOX_XERO_PKCE_CLIENT_ID,
)

DEFAULT_OAUTH_PORT = 8742
KEY_FILE = "demo-secret-key"


class DemoError(Exception):
    """A demo that could not start; the message says why and what to do."""


@dataclass(frozen=True)
class DemoHints:
    """What the wizard may pre-fill in a demo: the sandbox's own credentials."""

    autotask_username: str = SANDBOX_AUTOTASK_USERNAME
    autotask_secret: str = SANDBOX_AUTOTASK_SECRET
    autotask_integration_code: str = SANDBOX_AUTOTASK_INTEGRATION_CODE
    xero_custom_client_id: str = SANDBOX_XERO_CUSTOM_CLIENT_ID
    xero_custom_client_secret: str = SANDBOX_XERO_CUSTOM_CLIENT_SECRET


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """``preferred`` when nothing listens on it, else a port the system picks."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port or 0))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise DemoError("no free TCP port on 127.0.0.1")


def demo_secret_key(data_dir: Path) -> str:
    """One key per demo data folder, kept beside the database (0600), so a kept demo reopens."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text("utf-8").strip()
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


@dataclass
class Demo:
    data_dir: Path
    invoices: int = 200
    seed: int = 1
    oauth_port: int = DEFAULT_OAUTH_PORT
    startup_timeout: float = 60.0
    hints: DemoHints = field(default_factory=DemoHints)
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)
    _logs: list[IO[bytes]] = field(default_factory=list, repr=False)
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def control_socket(self) -> Path:
        return self.data_dir / "control.sock"

    # -- start and stop ------------------------------------------------------------------------

    def start(self, progress: Any = print) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        autotask_port, xero_port = free_port(), free_port()
        oauth_port = free_port(self.oauth_port)
        progress(f"Starting the sandbox ({self.invoices} invoices, seed {self.seed}) ...")
        self._spawn(
            "sandbox",
            [
                "sandbox",
                "--autotask-port",
                str(autotask_port),
                "--xero-port",
                str(xero_port),
                "--invoices",
                str(self.invoices),
                "--seed",
                str(self.seed),
                "--xero-redirect-uri",
                f"http://localhost:{oauth_port}/callback",
            ],
            dict(os.environ),
        )
        zone_lookup = f"http://127.0.0.1:{autotask_port}/atservicesrest/"
        self._wait(
            "the sandbox",
            lambda: _http_ok(f"{zone_lookup}v1.0/zoneInformation?user={SANDBOX_AUTOTASK_USERNAME}"),
        )
        self.environment = {
            "ATX_DATA_DIR": str(self.data_dir),
            "ATX_SECRET_KEY": demo_secret_key(self.data_dir),
            "ATX_AUTOTASK_ZONE_LOOKUP_URL": zone_lookup,
            "ATX_XERO_API_URL": f"http://127.0.0.1:{xero_port}",
            "ATX_XERO_IDENTITY_URL": f"http://127.0.0.1:{xero_port}",
            "ATX_XERO_LOGIN_URL": f"http://127.0.0.1:{xero_port}",
            "ATX_XERO_CLIENT_ID": SANDBOX_XERO_PKCE_CLIENT_ID,
            "ATX_OAUTH_LISTEN": f"127.0.0.1:{oauth_port}",
            "ATX_CONTROL_SOCKET": str(self.control_socket),
        }
        # The user's own ATX_* settings must not leak into the demo (a real Autotask user!).
        agent_env = {k: v for k, v in os.environ.items() if not k.startswith("ATX_")}
        progress("Starting the agent ...")
        self._spawn("agent", ["agent"], agent_env | self.environment)
        self._wait("the agent", lambda: self.get("/health") is not None)

    def stop(self) -> None:
        for child in reversed(self._children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in reversed(self._children):
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._children.clear()
        for handle in self._logs:
            handle.close()
        self._logs.clear()

    def __enter__(self) -> Demo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the control API, for the little the demo does itself -----------------------------------

    @contextlib.contextmanager
    def _client(self) -> Iterator[httpx.Client]:
        transport = httpx.HTTPTransport(uds=str(self.control_socket))
        with httpx.Client(transport=transport, base_url="http://agent", timeout=10) as client:
            yield client

    def get(self, path: str) -> Any:
        try:
            with self._client() as client:
                response = client.get(path)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def mapping_rows(self) -> list[MappingRow]:
        """The accountant's mappings for the seeded MSP."""
        from sandbox import seed

        # The same world as the sandbox child's (same size, seed and day): the same tenant ids.
        world = seed.generate(self.invoices, seed=self.seed, today=datetime.now(UTC).date())
        return accountant_mappings(world)

    def load_mappings(self, rows: list[MappingRow]) -> list[MappingRow]:
        """Those of ``rows`` the agent can take now (every organisation's, and those of the
        organisations connected so far), through the agent, its database's only writer.
        Returns the rows loaded."""
        with self._client() as client:
            answer = client.get("/connections")
            if answer.status_code != 200:
                return []
            connected = {item["tenant_id"] for item in answer.json().get("items") or []}
            loaded = []
            for row in rows:
                if row.org and row.org not in connected:
                    continue
                response = client.put("/mappings", json=row._asdict())
                if response.status_code != 200:
                    raise DemoError(f"loading the demo mappings failed: {response.text[:200]}")
                loaded.append(row)
        return loaded

    def load_mappings_as_orgs_connect(self, stop: threading.Event, every: float = 1.0) -> None:
        """Until ``stop`` or every row is in: load the rows that became loadable (a thread)."""
        waiting = self.mapping_rows()
        while waiting and not stop.is_set():
            try:
                done = self.load_mappings(waiting)
            except (httpx.HTTPError, DemoError):
                done = []  # the agent restarting: try again
            waiting = [row for row in waiting if row not in done]
            stop.wait(every)

    # -- helpers -------------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.data_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        child = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl+C in the TUI does not reach the children
        )
        self._children.append(child)

    def _wait(self, what: str, ready: Any) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            for child in self._children:
                if child.poll() is not None:
                    raise DemoError(
                        f"{what} stopped at start (exit {child.returncode}); see the logs in"
                        f" {self.data_dir}"
                    )
            if ready():
                return
            time.sleep(0.2)
        raise DemoError(
            f"{what} did not answer within {self.startup_timeout:.0f} s; see the logs in"
            f" {self.data_dir}"
        )


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


MARKER = KEY_FILE  # a folder holding it is a demo's, which a new demo may empty


def prepare_data_dir(data_dir: Path | None) -> tuple[Path, bool]:
    """The folder for the demo's database and logs, empty; and whether to remove it at the end.

    The sandbox starts afresh each time, so a kept database would remember invoices the new
    sandbox never saw: a given folder is emptied, but only when it is empty or a demo's own.
    """
    if data_dir is None:
        return Path(tempfile.mkdtemp(prefix="atx-demo-")), True
    if data_dir.exists():
        if not data_dir.is_dir():
            raise DemoError(f"--data-dir {data_dir} is a file; give a folder")
        if any(data_dir.iterdir()):
            if not (data_dir / MARKER).exists():
                raise DemoError(
                    f"--data-dir {data_dir} holds files that are not a demo's; give an empty"
                    " or new folder"
                )
            shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    return data_dir, False


def run_demo(
    *,
    invoices: int = 200,
    seed: int = 1,
    data_dir: Path | None = None,
    tui: bool = True,
    out: Callable[[str], None] = print,
) -> int:
    """``atx demo``: start the children, load the mappings as Xero gets connected, run the TUI
    (or wait for Ctrl+C), stop everything."""
    folder, temporary = prepare_data_dir(data_dir)
    stop = threading.Event()
    demo = Demo(folder, invoices=invoices, seed=seed)
    # The children run in their own session (Ctrl+C in the UI is a key, not a signal for them):
    # a closed terminal or SSH connection (SIGHUP) or a SIGTERM must stop them through `finally`.
    previous = {
        signum: signal.signal(signum, _interrupted) for signum in (signal.SIGHUP, signal.SIGTERM)
    }
    try:
        demo.start(progress=out)
        loader = threading.Thread(
            target=demo.load_mappings_as_orgs_connect, args=(stop,), daemon=True
        )
        loader.start()
        hints = demo.hints
        if tui:
            from tui.app import AtxApp
            from tui.client import ControlClient, ControlTarget

            AtxApp(ControlClient(ControlTarget(socket=demo.control_socket)), demo=hints).run()
        else:
            out(
                "\n".join(
                    [
                        "The demo agent runs. Attach the terminal UI from another terminal with:",
                        f"  atx tui --socket {demo.control_socket}",
                        "Sandbox Autotask API user, for the wizard's first step:",
                        f"  username {hints.autotask_username}",
                        f"  secret {hints.autotask_secret}",
                        f"  integration code {hints.autotask_integration_code}",
                        "Press Ctrl+C to stop.",
                    ]
                )
            )
            _wait_for_interrupt()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            out("Stopping the demo ...")
        demo.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                out(f"The demo's database and logs are in {folder}")
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for_interrupt() -> None:
    """Until Ctrl+C, SIGTERM or SIGHUP (each ends the demo the same way)."""
    while True:
        time.sleep(3600)
