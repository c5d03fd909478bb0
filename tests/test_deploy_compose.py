"""compose.yaml: valid under the Compose Specification (no Docker engine runs in CI), and the
deployment the docs describe: .env, a named volume on /data, the connect pages on the host's
loopback only, restart unless stopped, Docker secrets where atx reads them."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent.config import (
    DEFAULT_SECRETS_DIR,
    SECRET_FIELDS,
    Settings,
    SettingsInvalid,
    load_settings,
)

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "tests" / "specs" / "compose" / "compose-spec.json"
SHARED = REPO.parent / "shared" / "specs" / "compose"


def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def agent_service() -> dict[str, Any]:
    service = compose()["services"]["agent"]
    assert isinstance(service, dict)
    return service


def test_compose_file_is_valid_under_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_rejects_a_broken_file() -> None:
    """The validation above has teeth."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = compose()
    broken["services"]["agent"]["restart"] = ["always"]
    broken["services"]["agent"]["ports"] = [{"target": "8742", "bogus": 1}]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_vendored_schema_matches_its_provenance_checksum() -> None:
    source = (SCHEMA.parent / "SOURCE.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 ([0-9a-f]{64})", source)
    assert recorded is not None
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == recorded.group(1)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"no shared specs folder at {SHARED}")
@pytest.mark.parametrize("name", ["compose-spec.json", "SOURCE.md"])
def test_vendored_schema_is_byte_identical_to_the_shared_copy(name: str) -> None:
    assert (SCHEMA.parent / name).read_bytes() == (SHARED / name).read_bytes()


def test_the_agent_service_runs_the_image_built_here_with_the_env_file() -> None:
    service = agent_service()
    assert service["build"] == "."
    assert service["env_file"] == ".env"
    assert service["restart"] == "unless-stopped"
    assert "command" not in service and "entrypoint" not in service  # the image's CMD


def test_data_lives_in_a_named_volume_on_data() -> None:
    volumes = agent_service()["volumes"]
    assert volumes == ["atx-data:/data"]
    assert "atx-data" in compose()["volumes"]


def test_a_dot_env_cannot_move_the_database_out_of_the_volume_or_hide_the_connect_pages() -> None:
    # `environment:` wins over `env_file:` in Compose.
    assert agent_service()["environment"] == {
        "ATX_DATA_DIR": "/data",
        "ATX_OAUTH_LISTEN": "0.0.0.0:8742",
    }


def test_connect_pages_are_published_on_the_hosts_loopback_only() -> None:
    ports = agent_service()["ports"]
    assert ports == ["127.0.0.1:8742:8742"]


def test_stop_grace_leaves_time_for_the_batch_in_flight() -> None:
    grace = agent_service()["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace) and int(grace[:-1]) >= 30


EXPECTED_SECRETS = {"autotask_secret", "xero_client_secret", "secret_key"}


def test_the_three_secrets_are_mounted_where_atx_reads_them() -> None:
    service_secrets = set(agent_service()["secrets"])
    declared = compose()["secrets"]
    assert service_secrets == set(declared)
    # Docker mounts a secret at /run/secrets/<name>; atx reads ATX_<NAME> from that folder.
    fields = {name.removeprefix("atx_") for name in service_secrets}
    assert fields == EXPECTED_SECRETS
    assert fields <= SECRET_FIELDS
    for name, spec in declared.items():
        assert spec == {"file": f"./secrets/{name}"}
    assert DEFAULT_SECRETS_DIR == "/run/secrets"


def test_settings_read_the_secret_files_as_compose_mounts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "run-secrets"
    folder.mkdir()
    for name in agent_service()["secrets"]:
        (folder / name).write_text(f"value-of-{name}\n", encoding="utf-8")
    monkeypatch.setenv("ATX_SECRETS_DIR", str(folder))
    monkeypatch.setenv("ATX_XERO_AUTH_MODE", "code")
    settings = load_settings()
    for field in EXPECTED_SECRETS:
        value = getattr(settings, field)
        assert value is not None and value.get_secret_value() == f"value-of-atx_{field}"


def test_an_empty_secret_file_means_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "run-secrets"
    folder.mkdir()
    for name in agent_service()["secrets"]:
        (folder / name).write_text("", encoding="utf-8")
    monkeypatch.setenv("ATX_SECRETS_DIR", str(folder))
    monkeypatch.setenv("ATX_SECRET_KEY", "from-the-environment")
    settings = load_settings()
    assert settings.autotask_secret is None and settings.xero_client_secret is None
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "from-the-environment"


def test_the_environment_wins_over_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "run-secrets"
    folder.mkdir()
    (folder / "atx_secret_key").write_text("from-file", encoding="utf-8")
    monkeypatch.setenv("ATX_SECRETS_DIR", str(folder))
    assert Settings(_secrets_dir=str(folder)).secret_key is not None  # type: ignore[call-arg]
    monkeypatch.setenv("ATX_SECRET_KEY", "from-env")
    key = load_settings().secret_key
    assert key is not None and key.get_secret_value() == "from-env"


def test_an_unreadable_secret_file_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose bind-mounts secret files with the host's owner and mode: a file the image's user
    cannot read is a settings error that says so, not a traceback."""
    folder = tmp_path / "run-secrets"
    folder.mkdir()
    (folder / "atx_secret_key").write_text("key", encoding="utf-8")
    monkeypatch.setenv("ATX_SECRETS_DIR", str(folder))
    real = Path.read_text

    def refuse(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.parent == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert caught.value.lines == [
        f"ATX_SECRET_KEY: cannot read the secret file {folder / 'atx_secret_key'}; the agent's"
        " user (uid 10001 in the image) must be able to read it"
    ]
