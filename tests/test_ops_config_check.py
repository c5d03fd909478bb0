"""`atx config check` against the sandbox: right and wrong credentials, each problem with its fix,
exit 2 when there is any."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_sync_kit import Rig, rig, seeded_world

from agent.cli import main


def now() -> datetime:
    # The command line runs on the real clock: so does this sandbox.
    return datetime.now(UTC).replace(microsecond=0)


@contextmanager
def sandbox(tmp_path: Path, mode: str, *, connect: bool = True) -> Iterator[Rig]:
    start = now()
    with rig(
        tmp_path,
        seeded_world(10, seed_value=5, start=start),
        start=start,
        mode=mode,
        connect=connect,
        mappings=False,
    ) as made:
        yield made


def check(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = main(["config", "check"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def problems(out: str) -> list[tuple[str, str]]:
    lines = out.splitlines()
    return [
        (line.removeprefix("PROBLEM  "), lines[n + 1].removeprefix("  fix:   "))
        for n, line in enumerate(lines)
        if line.startswith("PROBLEM  ")
    ]


def test_a_custom_connection_with_the_right_credentials_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox(tmp_path, "client_credentials") as made:
        status, out, err = check(capsys, monkeypatch, made.environment())
        # The check's token went to a throwaway store, not the agent's database.
        assert made.store().connections.list_connections() == []
    assert status == 0, out + err
    assert "ok       Autotask answers as api-user@sandbox.example (zone http" in out
    assert "ok       Xero custom connection reaches " in out
    assert out.rstrip().endswith("all checks passed")


def test_connected_organisations_are_asked_for_their_organisation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox(tmp_path, "pkce") as made:
        status, out, err = check(capsys, monkeypatch, made.environment())
        names = [org.name for org in made.world.xero_orgs]
    assert status == 0, out + err
    for name in names:
        assert f"ok       Xero organisation {name} answers" in out


def test_no_connected_organisation_is_a_problem_with_the_way_to_connect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox(tmp_path, "pkce", connect=False) as made:
        status, out, _ = check(capsys, monkeypatch, made.environment())
    assert status == 2
    assert problems(out) == [
        (
            "no Xero organisation is connected",
            "connect an organisation: run `atx tui` (docker compose exec agent atx tui) and"
            " follow Connect Xero",
        )
    ]


def test_a_wrong_autotask_secret_is_named_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox(tmp_path, "client_credentials") as made:
        env = made.environment() | {"ATX_AUTOTASK_SECRET": "wrong"}
        status, out, err = check(capsys, monkeypatch, env)
    assert status == 2 and "1 problem(s)" in err
    [(what, fix)] = problems(out)
    assert "Autotask" in what and "wrong" not in what  # never echo a secret
    assert "ATX_AUTOTASK_SECRET" in fix and "API User (system)" in fix
    assert "ok       Xero custom connection reaches " in out  # the other checks still ran


def test_a_wrong_xero_client_secret_is_named_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox(tmp_path, "client_credentials") as made:
        env = made.environment() | {"ATX_XERO_CLIENT_SECRET": "wrong-secret"}
        status, out, _ = check(capsys, monkeypatch, env)
    assert status == 2
    [(what, fix)] = problems(out)
    assert "Xero refused" in what and "wrong-secret" not in what
    assert "ATX_XERO_CLIENT_SECRET" in fix and "developer.xero.com" in fix


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_nothing_configured_lists_every_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = unused_port()
    env = {
        "ATX_DATA_DIR": str(tmp_path / "data"),
        "ATX_AUTOTASK_ZONE_LOOKUP_URL": f"http://127.0.0.1:{port}/",
    }
    status, out, _ = check(capsys, monkeypatch, env)
    assert status == 2
    found = problems(out)
    whats = [what for what, _ in found]
    assert whats[0].startswith("ATX_SECRET_KEY is not set")
    assert whats[1].startswith("Autotask is not configured: set ATX_AUTOTASK_USERNAME")
    assert whats[2] == "ATX_XERO_CLIENT_ID is not set"
    assert all(fix for _, fix in found)


def test_an_unreachable_autotask_is_a_network_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox(tmp_path, "client_credentials") as made:
        env = made.environment() | {
            "ATX_AUTOTASK_ZONE_LOOKUP_URL": f"http://127.0.0.1:{unused_port()}/"
        }
        status, out, _ = check(capsys, monkeypatch, env)
    assert status == 2
    [(what, fix)] = problems(out)
    assert "Autotask" in what and "reaches Autotask" in fix


def test_a_bad_value_is_a_problem_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = check(capsys, monkeypatch, {"ATX_XERO_AUTH_MODE": "magic"})
    assert status == 2
    [(what, fix)] = problems(out)
    assert what.startswith("ATX_XERO_AUTH_MODE: expected one of pkce, code, client_credentials")
    assert "docs/configuration.md" in fix


def test_an_api_user_blind_to_a_line_of_business_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its invoices would reach Xero incomplete: the check compares recent invoices with the
    billing items the user sees, as the setup wizard does."""
    from sandbox.seed import RESTRICTED_AUTOTASK_SECRET, RESTRICTED_AUTOTASK_USERNAME

    with sandbox(tmp_path, "client_credentials") as made:
        fine = check(capsys, monkeypatch, made.environment())
        env = made.environment() | {
            "ATX_AUTOTASK_USERNAME": RESTRICTED_AUTOTASK_USERNAME,
            "ATX_AUTOTASK_SECRET": RESTRICTED_AUTOTASK_SECRET,
        }
        status, out, err = check(capsys, monkeypatch, env)
    assert fine[0] == 0 and "add up to the billing items the API user sees" in fine[1]
    assert status == 2 and "1 problem(s)" in err
    [(what, fix)] = problems(out)
    assert "recent invoices total more or less than the billing items" in what
    assert "every line of business" in fix and "Organizational Structure" in fix
