"""Settings: every knob of the agent, from ATX_* environment variables.

Sources, highest priority first: the process environment, a `.env` file in the working directory
(or the file named by ATX_ENV_FILE), then a secrets folder (Docker secrets: one file per variable,
named like the variable, e.g. /run/secrets/atx_autotask_secret; folder set by ATX_SECRETS_DIR).

A bad value never becomes a traceback: `load_settings()` raises `SettingsInvalid`, whose lines name
each variable and what it expects; the CLI prints them and exits with status 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

ENV_PREFIX = "ATX_"
DEFAULT_SECRETS_DIR = "/run/secrets"

# Scopes for a Xero app created after 2 March 2026, which gets granular scopes only
# (reference/xero-api.md §4). Older apps may set ATX_XERO_SCOPES to the broad ones.
DEFAULT_XERO_SCOPES = (
    "offline_access accounting.invoices accounting.payments accounting.contacts "
    "accounting.settings.read"
)


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
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

    # Where the SQLite database and other state live (a volume in Docker: /data).
    data_dir: Path = Field(default_factory=_default_data_dir)

    # The Autotask API-only user (Admin > Resources/Users, license "API User (system)").
    autotask_username: str | None = None
    autotask_secret: SecretStr | None = None
    autotask_integration_code: SecretStr | None = None
    autotask_zone_lookup_url: BaseUrl = "https://webservices.autotask.net/atservicesrest/"
    autotask_base_url: BaseUrl | None = None

    # The user's own Xero app. PKCE apps have no client secret.
    xero_client_id: str | None = None
    xero_client_secret: SecretStr | None = None
    xero_auth_mode: Literal["pkce", "code", "client_credentials"] = "pkce"
    xero_scopes: str = DEFAULT_XERO_SCOPES
    xero_api_url: HostUrl = "https://api.xero.com"
    xero_identity_url: HostUrl = "https://identity.xero.com"
    xero_login_url: HostUrl = "https://login.xero.com"

    # Encrypts OAuth tokens and secrets at rest. Without it nothing secret is stored unless
    # ATX_ALLOW_PLAINTEXT_SECRETS is true.
    secret_key: SecretStr | None = None
    allow_plaintext_secrets: bool = False

    # Control API for the terminal UI: a Unix socket; TCP only together with a token.
    control_socket: Path | None = None  # default: <data_dir>/control.sock
    control_listen: HostPort | None = None
    control_token: SecretStr | None = None
    oauth_listen: HostPort = "127.0.0.1:8742"

    # Sync defaults (the setup wizard may override them at run time).
    sync_interval_minutes: int = Field(default=15, ge=1, le=1440)
    days_back: int = Field(default=30, ge=1, le=3650)
    invoice_status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = "DRAFT"
    invoice_numbering: Literal["autotask", "xero"] = "autotask"
    invoice_number_prefix: str = Field(default="", max_length=20)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

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
        raise SettingsInvalid([f"settings: {exc}"]) from None


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
