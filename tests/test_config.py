"""Settings: ATX_* from the environment, a .env file and a secrets folder; bad values explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import DEFAULT_XERO_SCOPES, SettingsInvalid, load_settings, masked_items


def test_defaults_are_the_real_services_and_safe_choices() -> None:
    settings = load_settings()
    assert settings.autotask_zone_lookup_url == "https://webservices.autotask.net/atservicesrest/"
    assert settings.xero_api_url == "https://api.xero.com"
    assert settings.xero_identity_url == "https://identity.xero.com"
    assert settings.xero_login_url == "https://login.xero.com"
    assert settings.xero_auth_mode == "pkce"
    assert settings.oauth_listen == "127.0.0.1:8742"
    assert settings.control_listen is None
    assert settings.allow_plaintext_secrets is False
    assert settings.xero_scope_list == DEFAULT_XERO_SCOPES.split()
    assert settings.effective_control_socket == settings.data_dir / "control.sock"


def test_every_variable_named_in_the_design_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = {
        "ATX_DATA_DIR": "/srv/atx",
        "ATX_AUTOTASK_USERNAME": "api@example.com",
        "ATX_AUTOTASK_SECRET": "s3cret",
        "ATX_AUTOTASK_INTEGRATION_CODE": "CODE",
        "ATX_AUTOTASK_ZONE_LOOKUP_URL": "http://127.0.0.1:8780/atservicesrest",
        "ATX_AUTOTASK_BASE_URL": "https://webservices14.autotask.net/ATServicesRest/",
        "ATX_XERO_CLIENT_ID": "client",
        "ATX_XERO_CLIENT_SECRET": "xsecret",
        "ATX_XERO_AUTH_MODE": "code",
        "ATX_XERO_API_URL": "http://127.0.0.1:8781/",
        "ATX_XERO_IDENTITY_URL": "http://127.0.0.1:8781",
        "ATX_XERO_LOGIN_URL": "http://127.0.0.1:8781",
        "ATX_SECRET_KEY": "key",
        "ATX_CONTROL_SOCKET": "/run/atx.sock",
        "ATX_CONTROL_LISTEN": "0.0.0.0:8743",
        "ATX_CONTROL_TOKEN": "token",
        "ATX_OAUTH_LISTEN": "0.0.0.0:8742",
    }
    for name, value in fixed.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.data_dir == Path("/srv/atx")
    assert settings.autotask_username == "api@example.com"
    assert settings.autotask_secret is not None
    assert settings.autotask_secret.get_secret_value() == "s3cret"
    # Bases keep one trailing slash; hosts have none, so the real paths can be appended.
    assert settings.autotask_zone_lookup_url == "http://127.0.0.1:8780/atservicesrest/"
    assert settings.autotask_base_url == "https://webservices14.autotask.net/ATServicesRest/"
    assert settings.xero_api_url == "http://127.0.0.1:8781"
    assert settings.xero_auth_mode == "code"
    assert settings.effective_control_socket == Path("/run/atx.sock")
    assert settings.control_listen == "0.0.0.0:8743"
    assert settings.oauth_listen == "0.0.0.0:8742"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "ATX_XERO_AUTH_MODE",
            "device",
            "ATX_XERO_AUTH_MODE: expected one of pkce, code, client_credentials (got 'device')",
        ),
        ("ATX_XERO_API_URL", "api.xero.com", "ATX_XERO_API_URL: expected an http(s) URL"),
        ("ATX_AUTOTASK_BASE_URL", "ftp://x", "ATX_AUTOTASK_BASE_URL: expected an http(s) URL"),
        (
            "ATX_SYNC_INTERVAL_MINUTES",
            "ten",
            "ATX_SYNC_INTERVAL_MINUTES: expected a whole number (got 'ten')",
        ),
        (
            "ATX_SYNC_INTERVAL_MINUTES",
            "0",
            "ATX_SYNC_INTERVAL_MINUTES: expected a number at least 1",
        ),
        ("ATX_OAUTH_LISTEN", "8742", "ATX_OAUTH_LISTEN: expected HOST:PORT"),
        ("ATX_ALLOW_PLAINTEXT_SECRETS", "perhaps", "ATX_ALLOW_PLAINTEXT_SECRETS: expected true"),
        ("ATX_INVOICE_STATUS", "PAID", "ATX_INVOICE_STATUS: expected one of DRAFT, SUBMITTED"),
    ],
)
def test_a_bad_value_is_named_with_what_is_expected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert len(caught.value.lines) == 1
    assert caught.value.lines[0].startswith(expected)


def test_tcp_control_api_is_refused_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATX_CONTROL_LISTEN", "0.0.0.0:8743")
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert caught.value.lines == [
        "ATX_CONTROL_LISTEN: the control API listens on TCP only with a token; "
        "set ATX_CONTROL_TOKEN too, or unset ATX_CONTROL_LISTEN"
    ]


def test_client_credentials_mode_requires_the_client_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATX_XERO_AUTH_MODE", "client_credentials")
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert caught.value.lines[0].startswith("ATX_XERO_CLIENT_SECRET: required when")


def test_a_bad_secret_is_named_but_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATX_CONTROL_TOKEN", "x" * 5)
    monkeypatch.setenv("ATX_CONTROL_LISTEN", "bad")
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert "xxxxx" not in str(caught.value)


def test_dotenv_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ATX_AUTOTASK_USERNAME=from-dotenv@example.com\n")
    assert load_settings().autotask_username == "from-dotenv@example.com"


def test_environment_beats_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ATX_DAYS_BACK=10\n")
    monkeypatch.setenv("ATX_DAYS_BACK", "20")
    assert load_settings().days_back == 20


def test_docker_secrets_folder_supplies_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "atx_autotask_secret").write_text("from-docker-secret")
    (secrets / "atx_secret_key").write_text("k" * 32)
    monkeypatch.setenv("ATX_SECRETS_DIR", str(secrets))
    settings = load_settings()
    assert settings.autotask_secret is not None
    assert settings.autotask_secret.get_secret_value() == "from-docker-secret"
    assert settings.secret_key is not None


def test_a_missing_secrets_folder_named_explicitly_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATX_SECRETS_DIR", str(tmp_path / "nope"))
    with pytest.raises(SettingsInvalid, match="ATX_SECRETS_DIR: no such folder"):
        load_settings()


def test_masked_items_hide_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATX_AUTOTASK_SECRET", "at-secret-value")
    monkeypatch.setenv("ATX_XERO_CLIENT_SECRET", "xero-secret-value")
    monkeypatch.setenv("ATX_SECRET_KEY", "master-key-value")
    monkeypatch.setenv("ATX_AUTOTASK_INTEGRATION_CODE", "integration-code-value")
    items = dict(masked_items(load_settings()))
    printed = "\n".join(f"{k}={v}" for k, v in items.items())
    for secret in ("at-secret-value", "xero-secret-value", "master-key-value", "integration-code"):
        assert secret not in printed
    assert items["ATX_AUTOTASK_SECRET"] == "********"
    assert items["ATX_CONTROL_TOKEN"] == "(not set)"
