"""The `atx` command as a user runs it: exit codes, one-line errors, no tracebacks, no secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.world import SANDBOX_AUTOTASK_USERNAME

REPO = Path(__file__).resolve().parent.parent


def run_atx(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ATX_")}
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_bad_setting_exits_2_with_one_line_and_no_traceback() -> None:
    result = run_atx("config", "show", env={"ATX_XERO_AUTH_MODE": "device"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "atx: ATX_XERO_AUTH_MODE: expected one of pkce, code, client_credentials (got 'device')"
    ]


def test_non_numeric_interval_exits_2() -> None:
    result = run_atx("config", "show", env={"ATX_SYNC_INTERVAL_MINUTES": "often"})
    assert result.returncode == 2
    assert "ATX_SYNC_INTERVAL_MINUTES: expected a whole number" in result.stderr


def test_config_show_masks_secrets() -> None:
    result = run_atx(
        "config",
        "show",
        env={
            "ATX_AUTOTASK_SECRET": "hunter2-autotask",
            "ATX_SECRET_KEY": "hunter2-key",
            "ATX_AUTOTASK_USERNAME": "api@example.com",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert re.search(r"^ATX_AUTOTASK_SECRET\s+\*{8}$", result.stdout, re.M)
    assert re.search(r"^ATX_AUTOTASK_USERNAME\s+api@example.com$", result.stdout, re.M)


def test_unknown_command_is_a_usage_error() -> None:
    result = run_atx("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.fixture
def sandbox_process() -> Iterator[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATX_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "sandbox",
            "--autotask-port",
            "0",
            "--xero-port",
            "0",
            "--invoices",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(urls) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if match := re.match(r"(Autotask|Xero) sandbox:\s+(\S+)", line):
            urls[match.group(1)] = match.group(2)
    try:
        assert len(urls) == 2, "atx sandbox did not announce both services"
        yield urls["Autotask"], urls["Xero"]
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_atx_sandbox_serves_both_services(sandbox_process: tuple[str, str]) -> None:
    autotask_zone_url, xero_url = sandbox_process
    lookup = autotask_zone_url.replace("/ATServicesRest/", "/atservicesrest/")
    zone = httpx.get(f"{lookup}v1.0/zoneInformation", params={"user": SANDBOX_AUTOTASK_USERNAME})
    assert zone.status_code == 200
    assert zone.json()["url"] == autotask_zone_url
    connections = httpx.get(f"{xero_url}/connections")
    assert connections.status_code == 401  # a bearer token is required, as on the real one
