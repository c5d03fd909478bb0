"""Settings: every knob of the agent, from ATX_* environment variables.

Sources, highest priority first: the process environment, a `.env` file in the working directory
(or the file named by ATX_ENV_FILE), then a secrets folder (Docker secrets: one file per variable,
named like the variable, e.g. /run/secrets/atx_autotask_secret; folder set by ATX_SECRETS_DIR).

A bad value never becomes a traceback: `load_settings()` raises `SettingsInvalid`, whose lines name
each variable and what it expects; the CLI prints them and exits with status 2.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

ENV_PREFIX = "ATX_"
DEFAULT_SECRETS_DIR = "/run/secrets"
# Read by load_settings() from the process environment only (not from .env): name -> (default,
# description), for the generated configuration reference.
PROCESS_VARIABLES = {
    "ATX_SECRETS_DIR": (
        DEFAULT_SECRETS_DIR,
        "Folder of Docker secrets: one file per variable, named like it in lower case "
        "(atx_secret_key).",
    ),
    "ATX_ENV_FILE": (".env", "The .env file read at start, relative to the working directory."),
}

# Scopes for a Xero app created after 2 March 2026, which gets granular scopes only
# (reference/xero-api.md §4). Older apps may set ATX_XERO_SCOPES to the broad ones.
DEFAULT_XERO_SCOPES = (
    "offline_access accounting.invoices accounting.payments accounting.contacts "
    "accounting.settings.read"
)


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError("expected HOST:PORT, for example 127.0.0.1:8742")
    return value


_HTTP_URL = TypeAdapter(AnyHttpUrl)


def _http_url(value: str) -> str:
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise ValueError("expected an http(s) URL, for example https://example.com/") from None
    return value


def _base_url(value: str) -> str:
    # Zone URLs are bases: "v1.0/zoneInformation" and "V1.0/Invoices" are joined onto them.
    return _http_url(value).rstrip("/") + "/"


def _host_url(value: str) -> str:
    # Xero hosts: the real paths (/connect/token, /api.xro/2.0/...) are appended.
    return _http_url(value).rstrip("/")


HostPort = Annotated[str, AfterValidator(_host_port)]
BaseUrl = Annotated[str, AfterValidator(_base_url)]
HostUrl = Annotated[str, AfterValidator(_host_url)]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "atx"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # Every field has a description: `atx config example` and `atx config reference` turn them
    # into .env.example and docs/configuration.md (tests/test_config_docs.py checks both). A
    # default that is not a plain value is described by json_schema_extra={"shown_default": ...}.

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder of the SQLite database and other state (a volume in Docker: /data).",
        json_schema_extra={"shown_default": "~/.local/share/atx (/data in the container)"},
    )

    # The Autotask API-only user (Admin > Resources/Users, license "API User (system)").
    autotask_username: str | None = Field(
        default=None, description="The Autotask API-only user's username (an email address)."
    )
    autotask_secret: SecretStr | None = Field(
        default=None, description="That user's secret (password); a Docker secret works too."
    )
    autotask_integration_code: SecretStr | None = Field(
        default=None,
        description="The API tracking identifier chosen when the API user was created.",
    )
    autotask_zone_lookup_url: BaseUrl = Field(
        default="https://webservices.autotask.net/atservicesrest/",
        description="Base for zone discovery (v1.0/zoneInformation is appended).",
    )
    autotask_base_url: BaseUrl | None = Field(
        default=None,
        description="Skip zone discovery and use this zone URL, "
        "e.g. https://webservices14.autotask.net/ATServicesRest/.",
    )

    # The user's own Xero app. PKCE apps have no client secret.
    xero_client_id: str | None = Field(
        default=None, description="Client id of your own Xero app (docs/xero-app.md)."
    )
    xero_client_secret: SecretStr | None = Field(
        default=None,
        description="Client secret of that app: not needed with pkce, required with code and "
        "client_credentials.",
    )
    xero_auth_mode: Literal["pkce", "code", "client_credentials"] = Field(
        default="pkce",
        description="pkce (browser sign-in, no secret), code (with a secret) or "
        "client_credentials (a Xero custom connection, no browser).",
    )
    xero_scopes: str = Field(
        default=DEFAULT_XERO_SCOPES,
        description="Space-separated scopes asked of Xero; the default suits apps made since "
        "2 March 2026.",
    )
    xero_api_url: HostUrl = Field(
        default="https://api.xero.com",
        description="Xero API host (/connections, /api.xro/2.0/...); changed only for the sandbox.",
    )
    xero_identity_url: HostUrl = Field(
        default="https://identity.xero.com",
        description="Xero identity host (/connect/token); changed only for the sandbox.",
    )
    xero_login_url: HostUrl = Field(
        default="https://login.xero.com",
        description="Xero login host (/identity/connect/authorize); changed only for the sandbox.",
    )

    # Encrypts OAuth tokens and secrets at rest. Without it nothing secret is stored unless
    # ATX_ALLOW_PLAINTEXT_SECRETS is true.
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts Xero tokens and stored secrets; keep it apart from backups.",
    )
    allow_plaintext_secrets: bool = Field(
        default=False,
        description="Store tokens unencrypted when no ATX_SECRET_KEY is set (not recommended).",
    )

    # Control API for the terminal UI: a Unix socket; TCP only together with a token.
    control_socket: Path | None = Field(
        default=None,
        description="Unix socket of the control API that atx tui and atx health use.",
        json_schema_extra={"shown_default": "<ATX_DATA_DIR>/control.sock"},
    )
    control_listen: HostPort | None = Field(
        default=None,
        description="Also serve the control API on TCP at HOST:PORT (needs ATX_CONTROL_TOKEN).",
    )
    control_token: SecretStr | None = Field(
        default=None, description="Bearer token every TCP control API request must carry."
    )
    oauth_listen: HostPort = Field(
        default="127.0.0.1:8742",
        description="Where the Xero connect pages (/link, /callback) listen "
        "(0.0.0.0:8742 in the container).",
    )
    oauth_redirect_uri: HostUrl | None = Field(
        default=None,
        description="Redirect URI registered in the Xero app.",
        json_schema_extra={"shown_default": "http://localhost:<ATX_OAUTH_LISTEN port>/callback"},
    )

    # Sync defaults (the setup wizard may override them at run time).
    sync_interval_minutes: int = Field(
        default=15, ge=1, le=1440, description="Minutes between sync cycles (1 to 1440)."
    )
    days_back: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="How many days back Autotask invoices are picked up (1 to 3650).",
    )
    invoice_status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = Field(
        default="DRAFT", description="Status of the documents created in Xero."
    )
    invoice_numbering: Literal["autotask", "xero"] = Field(
        default="autotask",
        description="Whose invoice numbers the Xero documents carry (xero: written back to "
        "Autotask).",
    )
    invoice_number_prefix: str = Field(
        default="",
        max_length=20,
        description="Put before Autotask's invoice numbers in Xero (at most 20 characters).",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Least severe log level written to stdout."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text (one line per event) or json (one object per line)."
    )

    @field_validator(
        "autotask_secret",
        "autotask_integration_code",
        "xero_client_secret",
        "secret_key",
        "control_token",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_unset(cls, value: Any) -> Any:
        # An empty Docker secret file (compose.yaml mounts all three) means "not set here".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.control_listen and not self.control_token:
            raise ValueError(
                "control_listen: the control API listens on TCP only with a token; "
                "set ATX_CONTROL_TOKEN too, or unset ATX_CONTROL_LISTEN"
            )
        if self.xero_auth_mode == "client_credentials" and not self.xero_client_secret:
            raise ValueError(
                "xero_client_secret: required when ATX_XERO_AUTH_MODE=client_credentials "
                "(a Xero custom connection has a client id and secret)"
            )
        if self.xero_auth_mode == "code" and not self.xero_client_secret:
            raise ValueError(
                "xero_client_secret: required when ATX_XERO_AUTH_MODE=code; "
                "use ATX_XERO_AUTH_MODE=pkce for an app without a secret"
            )
        return self

    @property
    def effective_control_socket(self) -> Path:
        return self.control_socket or self.data_dir / "control.sock"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "atx.db"

    @property
    def xero_scope_list(self) -> list[str]:
        return self.xero_scopes.split()


SECRET_FIELDS = frozenset(
    name for name, info in Settings.model_fields.items() if "SecretStr" in repr(info.annotation)
)


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


class SettingsInvalid(Exception):
    """Raised with one line per bad variable; never carries a secret value."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        return "expected one of " + ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected a whole number"
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false"
    if kind in ("greater_than_equal", "less_than_equal"):
        bounds = {"greater_than_equal": "at least {ge}", "less_than_equal": "at most {le}"}
        return "expected a number " + bounds[kind].format(**ctx)
    if kind == "string_too_long":
        return "expected at most {max_length} characters".format(**ctx)
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


def _got(field: str, value: Any) -> str:
    if field in SECRET_FIELDS or not isinstance(value, str | int | float | bool):
        return ""
    return f" (got {value!r})"


def _lines(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error["loc"] if isinstance(p, str)]
        field = loc[0] if loc else ""
        description = _describe(error)
        if not field and ": " in description:
            # A cross-field check: its message starts with the field it concerns.
            field, description = description.split(": ", 1)
        name = env_name(field) if field else "settings"
        lines.append(f"{name}: {description}{_got(field, error.get('input'))}")
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raise SettingsInvalid with readable lines on any bad value."""
    secrets_dir = os.environ.get("ATX_SECRETS_DIR", DEFAULT_SECRETS_DIR)
    env_file = os.environ.get("ATX_ENV_FILE", ".env")
    if env_file != ".env" and not Path(env_file).is_file():
        raise SettingsInvalid([f"ATX_ENV_FILE: no such file: {env_file}"])
    kwargs: dict[str, Any] = {"_env_file": env_file}
    if Path(secrets_dir).is_dir():
        kwargs["_secrets_dir"] = secrets_dir
    elif secrets_dir != DEFAULT_SECRETS_DIR:
        raise SettingsInvalid([f"ATX_SECRETS_DIR: no such folder: {secrets_dir}"])
    try:
        return Settings(**kwargs, **overrides)
    except ValidationError as exc:
        raise SettingsInvalid(_lines(exc)) from None
    except SettingsError as exc:
        raise SettingsInvalid([_settings_error_line(exc, secrets_dir)]) from None


def _settings_error_line(exc: SettingsError, secrets_dir: str) -> str:
    found = re.search(r'field "(\w+)" from source "SecretsSettingsSource"', str(exc))
    if found:
        # Docker secrets are bind-mounted with the host file's owner and mode.
        name = env_name(found.group(1))
        return (
            f"{name}: cannot read the secret file {Path(secrets_dir) / name.lower()}; the agent's"
            " user (uid 10001 in the image) must be able to read it"
        )
    return f"settings: {exc}"


def masked_items(settings: Settings) -> list[tuple[str, str]]:
    """(ATX_NAME, printable value) for every setting, secrets masked."""
    items = []
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if field in SECRET_FIELDS:
            shown = "(not set)" if value is None else "********"
        elif value is None:
            shown = "(not set)"
        else:
            shown = str(value)
        items.append((env_name(field), shown))
    items.append(("(database)", str(settings.database_path)))
    items.append(("(control socket)", str(settings.effective_control_socket)))
    return items
