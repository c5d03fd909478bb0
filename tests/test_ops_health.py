"""`atx health` against a stand-in agent: a tiny Starlette app on a temporary Unix socket.

(The real control API is built in agent/control/; this pins the contract the health check relies
on: `GET /health` -> {"ok": true, ...} on ATX_CONTROL_SOCKET.)
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from agent.cli import main
from agent.config import Settings
from agent.health import Healthy, probe


@contextmanager
def short_dir() -> Iterator[Path]:
    # Unix socket paths are limited to about 100 bytes: pytest's tmp_path can be longer.
    folder = Path(tempfile.mkdtemp(prefix="atx-h-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def stand_in(answer: str) -> Starlette:
    async def health(request: Request) -> JSONResponse | PlainTextResponse:
        if answer == "ok":
            return JSONResponse({"ok": True, "version": "0.1.0"})
        if answer == "not ok":
            return JSONResponse({"ok": False, "error": "stopping"})
        if answer == "error":
            return JSONResponse({"error": "agent is stopping", "fix": None}, status_code=503)
        if answer == "garbage":
            return PlainTextResponse("hello")
        await asyncio.sleep(1.5)  # "slow"
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/health", health)])


@contextmanager
def serving(app: Starlette, socket: Path) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, uds=str(socket), log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the stand-in agent did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def settings_for(folder: Path) -> Settings:
    return Settings(_env_file=None, data_dir=folder)  # type: ignore[call-arg]


def test_healthy_agent_exits_0_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with short_dir() as folder:
        # The default socket: <ATX_DATA_DIR>/control.sock.
        monkeypatch.setenv("ATX_DATA_DIR", str(folder))
        with serving(stand_in("ok"), folder / "control.sock"):
            status = main(["health"])
        out, err = capsys.readouterr()
    assert status == 0, err
    assert out.startswith("ok: agent 0.1.0 answers on ") and out.count("\n") == 1


def test_an_explicit_control_socket_is_used(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with short_dir() as folder:
        monkeypatch.setenv("ATX_DATA_DIR", str(folder / "elsewhere"))
        monkeypatch.setenv("ATX_CONTROL_SOCKET", str(folder / "c.sock"))
        with serving(stand_in("ok"), folder / "c.sock"):
            assert main(["health"]) == 0


def test_no_socket_exits_1_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATX_DATA_DIR", str(tmp_path))
    assert main(["health"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("atx health: no control socket at ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_settings_exit_1_not_2_which_docker_reserves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATX_SYNC_INTERVAL_MINUTES", "often")
    assert main(["health"]) == 1
    _, err = capsys.readouterr()
    assert "ATX_SYNC_INTERVAL_MINUTES" in err and err.count("\n") == 1


def test_a_socket_nobody_listens_on_is_unhealthy() -> None:
    import socket as sockets

    with short_dir() as folder:
        path = folder / "control.sock"
        stale = sockets.socket(sockets.AF_UNIX)
        stale.bind(str(path))  # the file exists, nothing accepts: an agent that died
        stale.close()
        found = probe(settings_for(folder))
    assert isinstance(found, str) and "nothing answers on" in found


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("not ok", "the agent says it is not healthy: stopping"),
        ("error", "the agent answered HTTP 503: agent is stopping"),
        ("garbage", "the agent says it is not healthy"),
    ],
)
def test_unhealthy_answers(answer: str, expected: str) -> None:
    with short_dir() as folder, serving(stand_in(answer), folder / "control.sock"):
        found = probe(settings_for(folder), timeout=0.5)
    assert isinstance(found, str) and expected in found, found


def test_slow_agent_is_given_up_on_within_the_timeout() -> None:
    with short_dir() as folder, serving(stand_in("slow"), folder / "control.sock"):
        started = time.monotonic()
        found = probe(settings_for(folder), timeout=0.5)
        took = time.monotonic() - started
    assert isinstance(found, str) and "within 0.5 s" in found
    assert took < 1.4


def test_probe_reports_the_version() -> None:
    with short_dir() as folder, serving(stand_in("ok"), folder / "control.sock"):
        found = probe(settings_for(folder))
    assert found == Healthy("0.1.0", str(folder / "control.sock"))
