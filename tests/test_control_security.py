"""Security of the control API (issue 4 §5): the socket is private (0600), a stale socket is
replaced and a live one refused, TCP only with a token and 401 without the right one (every
path, the description and the event stream included), and no secret in any answer or log line.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_control_kit import read_events, running_agent, short_dir, wait_for
from test_sync_kit import TEST_KEY, rig

from agent.cli import main
from sandbox.world import SANDBOX_AUTOTASK_INTEGRATION_CODE, SANDBOX_AUTOTASK_SECRET

TOKEN = "control-token-7c1e9f0b2d4a6e8c"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_tcp_without_a_token_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("ATX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ATX_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("ATX_CONTROL_LISTEN", "0.0.0.0:8743")
    assert main(["agent"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ATX_CONTROL_TOKEN" in err[0] and "Traceback" not in err[0]


def test_stale_socket_is_replaced_and_a_live_one_refused(tmp_path: Path) -> None:
    with short_dir() as folder, rig(tmp_path, connect=False, mappings=False) as r:
        path = folder / "c.sock"
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(str(path))
        stale.close()  # the file stays, nobody listens: a crashed agent's socket
        os.chmod(path, 0o666)
        settings = r.settings(oauth_listen="127.0.0.1:0", control_socket=path)
        with running_agent(r, settings) as run, run.client() as c:
            assert c.get("/health").json()["ok"]
            assert path.stat().st_mode & 0o777 == 0o600
            assert not [p for p in folder.iterdir() if p.name.startswith(".atx-sock-")]
            # A second agent on the same socket: one line, exit status 2.
            env = {k: v for k, v in os.environ.items() if not k.startswith("ATX_")}
            env |= r.environment() | {
                "ATX_CONTROL_SOCKET": str(path),
                "ATX_OAUTH_LISTEN": "127.0.0.1:0",
            }
            second = subprocess.run(
                [sys.executable, "-m", "agent.cli", "agent"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "another agent is running" in lines[0]
            # The first agent still answers on its socket.
            assert c.get("/health").json()["ok"]
        assert not path.exists()  # removed on stop


def test_tcp_needs_the_bearer_token_everywhere(tmp_path: Path) -> None:
    with short_dir() as folder, rig(tmp_path, connect=False, mappings=False) as r:
        port = free_port()
        settings = r.settings(
            oauth_listen="127.0.0.1:0",
            control_socket=folder / "c.sock",
            control_listen=f"127.0.0.1:{port}",
            control_token=TOKEN,
        )
        with running_agent(r, settings):
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as tcp:
                for path in ("/health", "/status", "/openapi.json", "/events", "/nothing"):
                    for headers in (
                        {},
                        {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": f"Bearer {TOKEN}x"},
                    ):
                        answer = tcp.get(path, headers=headers)
                        assert answer.status_code == 401, (path, headers)
                        assert answer.json()["error"] and answer.json()["fix"]
                        assert TOKEN not in answer.text
                assert tcp.put("/settings", json={"days_back": 3}).status_code == 401
                good = {"Authorization": f"Bearer {TOKEN}"}
                assert tcp.get("/health", headers=good).json()["ok"]
                assert tcp.get("/openapi.json", headers=good).status_code == 200
                with tcp.stream("GET", "/events", headers=good) as events:
                    assert events.status_code == 200


def test_no_secret_in_any_answer_event_or_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with short_dir() as folder, rig(tmp_path) as r:
        settings = r.settings(
            oauth_listen="127.0.0.1:0",
            control_socket=folder / "c.sock",
            control_listen=f"127.0.0.1:{free_port()}",
            control_token=TOKEN,
            log_level="DEBUG",
        )
        from agent.logs import setup_logging

        handler = setup_logging(settings)
        bodies: list[str] = []
        try:
            leaked = _exercise(r, settings, bodies)
        finally:
            logging.getLogger("atx").removeHandler(handler)
            logging.getLogger("atx").propagate = True
        printed = capsys.readouterr()
        bodies += [printed.out, printed.err]
        everything = "\n".join(bodies)
        for secret in leaked:
            assert secret not in everything, f"a secret leaked ({secret[:4]}...)"


def _exercise(r: Any, settings: Any, bodies: list[str]) -> set[str]:
    """Every kind of answer, event and log line of an agent that has synced; the secrets."""
    with running_agent(r, settings) as run, run.client() as c:
        wait_for(lambda: c.get("/status").json()["agent"]["last_cycle"])
        store = r.store()
        tokens = store.connections.tokens(r.au)
        secrets = {
            SANDBOX_AUTOTASK_SECRET,
            SANDBOX_AUTOTASK_INTEGRATION_CODE,
            TEST_KEY,
            TOKEN,
            tokens.access_token,
            tokens.refresh_token or "refresh",
        }
        comments: list[str] = []
        with c.stream("GET", "/events", headers={"Last-Event-ID": "0"}) as stream:
            events = read_events(stream, lambda evs: len(evs) > 20, comments=comments)
        bodies.append(repr([(e.name, e.data) for e in events]))
        row = c.get("/queue", params={"limit": 1}).json()["items"][0]
        gets: list[tuple[str, dict[str, Any]]] = [
            ("/health", {}),
            ("/status", {}),
            ("/queue", {"limit": 500}),
            (f"/queue/{row['id']}", {}),
            ("/settings", {}),
            ("/mappings", {}),
            (f"/catalogs/{r.au}/accounts", {}),
            ("/autotask/billing_codes", {}),
            ("/connections", {}),
            ("/logs", {"limit": 2000}),
            ("/openapi.json", {}),
        ]
        for path, params in gets:
            answer = c.get(path, params=params)
            assert answer.status_code == 200, (path, answer.text)
            bodies.append(answer.text)
        bodies.append(c.post("/connect").text)
        bodies.append(
            c.post(
                "/sync-invoice", json={"autotask_id": int(row["autotask_id"]), "dry_run": True}
            ).text
        )
        bodies.append(c.put("/settings", json={"autotask_secret": "x"}).text)
        bodies.append(
            c.post(
                "/setup/autotask",
                json={"username": "u", "secret": "another-secret-value", "integration_code": "c"},
            ).text
        )
        log_lines = c.get("/logs", params={"limit": 2000}).json()["items"]
        bodies.append(repr(log_lines))
        assert len(log_lines) > 20
    return secrets
