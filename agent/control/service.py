"""``AgentService``: the running agent's state behind the control API.

It owns the store (the agent is the only writer of the database), the effective settings, the
sync runtime (both clients and the engine) and the event bus. Threads:

- sync cycles run on the agent loop's thread (``AgentLoop`` calls ``run_cycle``, the ``Engine``
  protocol); ``POST /cycle`` only wakes that loop;
- API handlers run on the control server's threads; ``/sync-invoice`` and a cycle never run at
  once (``_work``), and the runtime is built or rebuilt under that same lock, so a cycle never
  sees its clients closed under it;
- the store has its own lock; events are published from any thread.

The agent runs before it is configured: without an Autotask API user or a Xero organisation it
serves the API, runs no cycle, and ``status.agent.state`` is ``setup``. Once both are there
(``POST /setup/autotask``, the connect flow), the next ``run_cycle`` builds the runtime, and the
API wakes the loop so that cycle starts at once.

Effective settings (``effective()``): a value given in the environment (or .env, or a secrets
file: pydantic-settings marks them in ``model_fields_set``) wins; else a value stored through the
API (secrets encrypted in ``store.secrets``); else the default.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import SecretStr, ValidationError

from agent.autotask import (
    AutotaskAuthError,
    AutotaskClient,
    AutotaskConfigError,
    AutotaskError,
    AutotaskNetworkError,
    RetryPolicy,
)
from agent.config import Settings, env_name
from agent.control.events import EventBus, LogBuffer
from agent.mapping.purchase_orders import PO_DOCUMENTS, PO_STATUSES
from agent.store import (
    ALL_ORGS,
    CATALOGS,
    IllegalTransition,
    NotFound,
    OutboxRow,
    OutboxState,
    StateConflict,
    Store,
    StoreError,
)
from agent.store.clock import to_db, utc_now
from agent.store.mappings import KNOWN_MAPPING_TYPES
from agent.sync.engine import LAST_CYCLE_STREAM, NoOrganisation, SyncEngine
from agent.sync.options import (
    ITEM_SYNC_CHOICES,
    MIXED_CHOICES,
    NUMBERINGS,
    PO_TRIGGER_CHOICES,
    STATUSES,
)
from agent.sync.orgs import stored_info
from agent.sync.report import CycleReport
from agent.sync.routing import ROUTING_KINDS
from agent.sync.runtime import ZONE_STREAM
from agent.sync.visibility import lob_warning
from agent.xero import XeroClient, XeroError

log = logging.getLogger("atx.control")
S = OutboxState


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("atx")
    except PackageNotFoundError:
        return "0.1.0"


__version__ = _version()

AgentState = Literal["setup", "idle", "cycling", "stopping"]
RETRYABLE = frozenset({S.FAILED, S.DEAD, S.BLOCKED, S.SKIPPED})
SKIPPABLE = frozenset({S.DISCOVERED, S.PENDING, S.FAILED, S.DEAD, S.BLOCKED})
MAX_QUEUE_PAGE = 500
SYNC_INVOICE_WAIT_SECONDS = 30.0
AUTOTASK_LIST_TTL = timedelta(minutes=10)


class ApiError(Exception):
    """A request the agent refuses: ``status`` (400, 404, 409, 503), one-line ``error`` and
    ``fix``, and for a settings change the problem of each field."""

    def __init__(
        self,
        status: int,
        error: str,
        fix: str | None = None,
        *,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.fix = fix
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "fix": self.fix}
        if self.fields is not None:
            body["fields"] = self.fields
        return body


# -- the settings the API shows -----------------------------------------------------------------


@dataclass(frozen=True)
class SettingSpec:
    name: str
    env: bool  # a field of Settings (ATX_<NAME>); otherwise a run-time key only
    kind: Literal["text", "secret", "int", "number", "bool", "choice", "url"]
    default: Any = None
    choices: tuple[str, ...] | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = True

    @property
    def secret(self) -> bool:
        return self.kind == "secret"


SPECS: tuple[SettingSpec, ...] = (
    # the Autotask API user (usually through POST /setup/autotask, which tests them first)
    SettingSpec("autotask_username", True, "text", max_length=200),
    SettingSpec("autotask_secret", True, "secret"),
    SettingSpec("autotask_integration_code", True, "secret"),
    SettingSpec("autotask_zone_lookup_url", True, "url", nullable=False),
    SettingSpec("autotask_base_url", True, "url"),
    # the user's Xero app
    SettingSpec("xero_client_id", True, "text", max_length=200),
    SettingSpec("xero_client_secret", True, "secret"),
    SettingSpec(
        "xero_auth_mode",
        True,
        "choice",
        choices=("pkce", "code", "client_credentials"),
        nullable=False,
    ),
    SettingSpec("xero_scopes", True, "text", max_length=1000, nullable=False),
    # sync options (wizard step 3)
    SettingSpec("sync_interval_minutes", True, "int", minimum=1, maximum=1440, nullable=False),
    SettingSpec("days_back", True, "int", minimum=1, maximum=3650, nullable=False),
    SettingSpec("invoice_status", True, "choice", choices=STATUSES, nullable=False),
    SettingSpec("invoice_numbering", True, "choice", choices=NUMBERINGS, nullable=False),
    SettingSpec("invoice_number_prefix", True, "text", max_length=20, nullable=False),
    SettingSpec("credit_note_prefix", False, "text", max_length=20),
    SettingSpec("sync_purchase_orders", False, "bool", default=False),
    # purchase orders (issue 5 §2, agent/sync/purchase_orders.py)
    SettingSpec(
        "po_trigger_status", False, "choice", default="submitted", choices=PO_TRIGGER_CHOICES
    ),
    SettingSpec("po_document", False, "choice", default="purchase_order", choices=PO_DOCUMENTS),
    SettingSpec("po_status", False, "choice", default="DRAFT", choices=PO_STATUSES),
    SettingSpec("sync_expenses", False, "bool", default=False),
    # Autotask products, services and bundles as Xero items (issue 5 §3, agent/sync/items.py)
    SettingSpec("item_sync", False, "choice", default="off", choices=ITEM_SYNC_CHOICES),
    # chart of accounts (wizard step 4) and mapping defaults
    SettingSpec("default_org", False, "text", max_length=64),
    # routing (issue 5 §4): the company UDF the routing_udf mappings read; mixed invoices
    SettingSpec("routing_udf_name", False, "text", max_length=100),
    SettingSpec("mixed_invoice", False, "choice", default="block", choices=MIXED_CHOICES),
    SettingSpec("default_sales_account", False, "text", max_length=10),
    SettingSpec("default_currency", False, "text", max_length=3),
    SettingSpec("po_cogs_account", False, "text", max_length=10),
    SettingSpec("po_freight_account", False, "text", max_length=10),
    SettingSpec("default_branding_theme_id", False, "text", max_length=64),
    SettingSpec("tax_mapping_enabled", False, "bool", default=True),
    SettingSpec("exempt_tax_type", False, "text", max_length=50),
    SettingSpec("rounding_line", False, "bool", default=False),
    SettingSpec("rounding_account_code", False, "text", max_length=10),
    SettingSpec(
        "catalog_max_age_hours", False, "number", default=24.0, minimum=0, maximum=24 * 365
    ),
)
SPEC_BY_NAME: dict[str, SettingSpec] = {s.name: s for s in SPECS}
AUTOTASK_CREDENTIALS = ("autotask_username", "autotask_secret", "autotask_integration_code")
# Settings whose change needs new clients (the runtime is rebuilt before the next cycle).
RUNTIME_FIELDS = frozenset(
    {
        *AUTOTASK_CREDENTIALS,
        "autotask_zone_lookup_url",
        "autotask_base_url",
        "xero_client_id",
        "xero_client_secret",
        "xero_auth_mode",
        "xero_scopes",
        "sync_interval_minutes",
        "days_back",
        "invoice_status",
        "invoice_numbering",
        "invoice_number_prefix",
    }
)
OPTION_SETTINGS = (
    "invoice_status",
    "invoice_numbering",
    "days_back",
    "sync_interval_minutes",
    "invoice_number_prefix",
    "sync_purchase_orders",
    "sync_expenses",
)
ACCOUNT_SETTINGS = ("default_sales_account", "default_currency", "po_cogs_account")
SETUP_OPTIONS_DONE = "setup_options_done"
SETUP_ACCOUNTS_DONE = "setup_accounts_done"
SETUP_TEST_INVOICE_DONE = "setup_test_invoice_done"


def check_value(spec: SettingSpec, value: Any) -> tuple[Any, str | None]:
    """(the value as stored, or a problem)."""
    if value is None:
        return None, None if spec.nullable or spec.env else "a value is required"
    if spec.kind in ("text", "secret", "url"):
        if not isinstance(value, str):
            return None, "expected text"
        value = value.strip() if spec.kind != "secret" else value
        if spec.max_length is not None and len(value) > spec.max_length:
            return None, f"expected at most {spec.max_length} characters"
        if spec.kind == "secret" and not value:
            return None, "expected a value (null removes the stored one)"
        return value, None
    if spec.kind == "bool":
        return (value, None) if isinstance(value, bool) else (None, "expected true or false")
    if spec.kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "expected a number"
        if spec.kind == "int" and (isinstance(value, float) and not value.is_integer()):
            return None, "expected a whole number"
        if spec.minimum is not None and value < spec.minimum:
            return None, f"expected a number of at least {spec.minimum:g}"
        if spec.maximum is not None and value > spec.maximum:
            return None, f"expected a number of at most {spec.maximum:g}"
        return (int(value) if spec.kind == "int" else float(value)), None
    if spec.kind == "choice":
        assert spec.choices is not None
        if isinstance(value, str):
            for choice in spec.choices:
                if choice.upper() == value.strip().upper():
                    return choice, None
        return None, "expected one of " + ", ".join(spec.choices)
    return None, "unsupported"  # pragma: no cover


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _json_text(value: Any) -> str | None:
    return None if value is None else str(value)


# -- the service ----------------------------------------------------------------------------------


@dataclass
class _Runtime:
    settings: Settings
    autotask: AutotaskClient
    xero: XeroClient
    engine: SyncEngine

    def close(self) -> None:
        for thing in (self.xero, self.autotask):
            with contextlib.suppress(Exception):
                thing.close()


class AgentService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        bus: EventBus | None = None,
        logs: LogBuffer | None = None,
        stop: threading.Event | None = None,
        now: Callable[[], datetime] = utc_now,
        autotask_options: Mapping[str, Any] | None = None,
        xero_options: Mapping[str, Any] | None = None,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``settings`` as loaded from the environment. The ``*_options`` go to the clients and
        the engine when they are built (tests pass the sandbox's clock)."""
        self.base = settings
        self.store = store
        self.bus = bus or EventBus()
        self.logs = logs
        self.stop_event = stop or threading.Event()
        self.now = now
        self.started_at = now()
        self.autotask_options = dict(autotask_options or {})
        self.xero_options = dict(xero_options or {})
        self.engine_options = dict(engine_options or {})
        self._lock = threading.RLock()  # the fields below
        self._work = threading.Lock()  # a cycle or a one-invoice sync
        from agent.control.metrics import AgentMetrics

        self.metrics = AgentMetrics(self.status)
        self._effective: Settings | None = None
        self._runtime: _Runtime | None = None
        self._dirty = False
        self._cycling = False
        self._stopping = False
        self._last_report: dict[str, Any] | None = None
        self._wake: Callable[[], None] | None = None
        self._next_cycle: Callable[[], datetime | None] | None = None
        self._set_interval: Callable[[int], None] | None = None
        self._xero_for_connect: XeroClient | None = None
        self._autotask_for_lists: tuple[Settings, AutotaskClient] | None = None
        self._autotask_lists: dict[str, tuple[datetime, list[dict[str, Any]]]] = {}
        self.connect: Any = None  # agent.control.connect.ConnectFlows, set by attach_connect

    # -- wiring -----------------------------------------------------------------------------------

    def attach_loop(
        self,
        wake: Callable[[], None],
        next_cycle_at: Callable[[], datetime | None] | None = None,
        set_interval: Callable[[int], None] | None = None,
    ) -> None:
        """The agent loop's controls: wake it for a cycle now, when the next one is due, and
        the interval when the setting changes."""
        self._wake = wake
        self._next_cycle = next_cycle_at
        self._set_interval = set_interval

    def attach_connect(self) -> Any:
        """The Xero connect flows (and their pages), reading the effective settings each step."""
        from agent.control.connect import ConnectFlows

        self.connect = ConnectFlows(
            self.effective,
            self.store,
            self.xero_for_connect,
            now=self.now,
            publish=self._on_connect_event,
        )
        return self.connect

    def publish(self, name: str, data: Any) -> int:
        return self.bus.publish(name, data)

    def close(self) -> None:
        with self._work, self._lock:
            if self._runtime is not None:
                self._runtime.close()
                self._runtime = None
            if self._xero_for_connect is not None:
                self._xero_for_connect.close()
                self._xero_for_connect = None
            if self._autotask_for_lists is not None:
                self._autotask_for_lists[1].close()
                self._autotask_for_lists = None

    # -- effective settings -----------------------------------------------------------------------

    def env_given(self, name: str) -> bool:
        return name in self.base.model_fields_set

    def _stored(self, spec: SettingSpec) -> Any:
        if spec.secret:
            return self.store.secrets.get(spec.name)
        return self.store.settings.get(spec.name)

    def _stored_env_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        secret_names = set(self.store.secrets.names())
        runtime = self.store.settings.all()
        for spec in SPECS:
            if not spec.env or self.env_given(spec.name):
                continue
            if spec.secret:
                if spec.name in secret_names:
                    found = self.store.secrets.get(spec.name)
                    if found:
                        values[spec.name] = SecretStr(found)
            elif spec.name in runtime and runtime[spec.name] is not None:
                values[spec.name] = runtime[spec.name]
        return values

    def _merge(self, stored: Mapping[str, Any]) -> Settings:
        given = {name: getattr(self.base, name) for name in self.base.model_fields_set}
        return Settings(_env_file=None, **(dict(stored) | given))  # type: ignore[call-arg]

    def effective(self) -> Settings:
        """The settings in force: environment, else stored through the API, else default."""
        with self._lock:
            if self._effective is None:
                try:
                    self._effective = self._merge(self._stored_env_values())
                except (ValidationError, StoreError) as exc:
                    log.warning("stored settings ignored: %s", " ".join(str(exc).split())[:300])
                    self._effective = self.base
            return self._effective

    def settings_view(self) -> dict[str, dict[str, Any]]:
        effective = self.effective()
        runtime = self.store.settings.all()
        secrets = set(self.store.secrets.names())
        values: dict[str, dict[str, Any]] = {}
        for spec in SPECS:
            env = spec.env and self.env_given(spec.name)
            if spec.secret:
                stored = spec.name in secrets
                present = getattr(effective, spec.name) is not None
                source = "env" if env else "stored" if stored else "default"
                values[spec.name] = {
                    "value": None,
                    "source": source,
                    "secret": True,
                    "set": present,
                    "editable": not env,
                    "choices": None,
                }
                continue
            if spec.env:
                value = getattr(effective, spec.name)
                stored = spec.name in runtime
            else:
                stored = spec.name in runtime
                value = runtime.get(spec.name) if stored else spec.default
            if isinstance(value, SecretStr):  # pragma: no cover - secrets are handled above
                value = None
            source = "env" if env else "stored" if stored else "default"
            values[spec.name] = {
                "value": value,
                "source": source,
                "secret": False,
                "set": value is not None,
                "editable": not env,
                "choices": list(spec.choices) if spec.choices else None,
            }
        return values

    def put_settings(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Validate every change (and the settings they make together), then store them all, or
        nothing."""
        if not changes:
            raise ApiError(400, "no setting was given", 'send {"name": value, ...}')
        problems: dict[str, str] = {}  # bad values (400)
        conflicts: dict[str, str] = {}  # values the agent cannot take now (409)
        cleaned: dict[str, Any] = {}
        for name, value in changes.items():
            spec = SPEC_BY_NAME.get(name)
            if spec is None:
                problems[name] = "not a setting the agent knows"
                continue
            if spec.env and self.env_given(name):
                conflicts[name] = f"set by the environment ({env_name(name)}); change it there"
                continue
            checked, problem = check_value(spec, value)
            if problem:
                problems[name] = problem
                continue
            cleaned[name] = checked
        if cleaned.get("default_org"):
            known = {c.tenant_id for c in self.store.connections.list_connections()}
            if cleaned["default_org"] not in known:
                conflicts["default_org"] = "not a connected Xero organisation"
        if not problems and not conflicts:
            stored = self._stored_env_values()
            for name, value in cleaned.items():
                spec = SPEC_BY_NAME[name]
                if not spec.env:
                    continue
                if value is None:
                    stored.pop(name, None)
                else:
                    stored[name] = SecretStr(value) if spec.secret else value
            try:
                self._merge(stored)
            except ValidationError as exc:
                for error in exc.errors(include_url=False):
                    loc = [str(p) for p in error["loc"] if isinstance(p, str)]
                    message = str(error["msg"]).removeprefix("Value error, ")
                    field = loc[0] if loc else ""
                    if not field and ": " in message:
                        field, message = message.split(": ", 1)
                    conflicts[field or "settings"] = message
        if problems or conflicts:
            every = problems | conflicts
            first = next(iter(every.items()))
            raise ApiError(
                400 if problems else 409,
                f"{first[0]}: {first[1]}"
                + (f" (and {len(every) - 1} more)" if len(every) > 1 else ""),
                "correct the values named in fields; nothing was saved",
                fields=every,
            )
        for name, value in cleaned.items():
            spec = SPEC_BY_NAME[name]
            if spec.secret:
                if value is None:
                    self.store.secrets.delete(name)
                else:
                    self.store.secrets.set(name, value)
                    if self.logs is not None:
                        self.logs.add_secrets([value])
            elif value is None:
                self.store.settings.delete(name)
            else:
                self.store.settings.set(name, value)
        if any(n in OPTION_SETTINGS for n in cleaned):
            self.store.settings.set(SETUP_OPTIONS_DONE, True)
        if any(n in ACCOUNT_SETTINGS for n in cleaned):
            self.store.settings.set(SETUP_ACCOUNTS_DONE, True)
        self._settings_changed(rebuild=any(n in RUNTIME_FIELDS for n in cleaned))
        if "sync_interval_minutes" in cleaned and self._set_interval is not None:
            self._set_interval(self.effective().sync_interval_minutes)
        names = ", ".join(sorted(cleaned))
        log.info("settings saved: %s", names)
        return {"values": self.settings_view(), "message": f"saved: {names}"}

    def _settings_changed(self, *, rebuild: bool) -> None:
        with self._lock:
            self._effective = None
            if rebuild:
                self._dirty = True
                self._autotask_lists.clear()
        self.publish_status()
        if self.cycles_allowed() and self._runtime is None:
            self.wake()

    # -- setup ------------------------------------------------------------------------------------

    def setup_flags(self) -> dict[str, bool]:
        eff = self.effective()
        autotask = True
        for name in AUTOTASK_CREDENTIALS:
            value = getattr(eff, name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value or ""
            autotask = autotask and bool(text.strip())
        connections = self.store.connections.list_connections()
        xero = any(c.status != "disconnected" for c in connections) or (
            eff.xero_auth_mode == "client_credentials"
            and bool(eff.xero_client_id)
            and eff.xero_client_secret is not None
        )
        runtime = self.store.settings.all()
        counts = self.store.outbox.counts_by_state()
        return {
            "autotask": autotask,
            "xero": xero,
            "options": bool(runtime.get(SETUP_OPTIONS_DONE))
            or any(self.env_given(n) for n in OPTION_SETTINGS),
            # The chart-of-accounts step: its own settings, not the billing-code mappings.
            "accounts": bool(runtime.get(SETUP_ACCOUNTS_DONE))
            or bool(runtime.get("default_sales_account")),
            "test_invoice": bool(runtime.get(SETUP_TEST_INVOICE_DONE))
            or counts.get("posted", 0) + counts.get("done", 0) > 0,
        }

    def setup_complete(self) -> bool:
        """Autotask and Xero are set: invoices can be previewed and sent one at a time."""
        flags = self.setup_flags()
        return flags["autotask"] and flags["xero"]

    def cycles_allowed(self) -> bool:
        """Scheduled cycles (which send every invoice) wait for the end of the setup wizard
        when the wizard is in use: a user who entered the Autotask user in the terminal UI has
        not chosen the invoice status, numbering and accounts yet when Xero connects. Sent a test
        invoice, or chose "start syncing" (``POST /setup/finish``): cycles run. An agent whose
        Autotask user comes from the environment is set up by its environment: cycles run as
        soon as Xero is connected."""
        if not self.setup_complete():
            return False
        if any(self.env_given(n) for n in AUTOTASK_CREDENTIALS):
            return True
        return self.setup_flags()["test_invoice"]

    def finish_setup(self) -> dict[str, Any]:
        """The wizard's last step without a test invoice: scheduled cycles may start."""
        self._refuse_when_stopping()
        if not self.setup_complete():
            raise ApiError(409, "the setup is not complete", self._setup_fix())
        self.store.settings.set(SETUP_TEST_INVOICE_DONE, True)
        log.info("setup finished: sync cycles run every %s minute(s)",
                 self.effective().sync_interval_minutes)  # fmt: skip
        self.publish_status()
        self.wake()
        return {"accepted": True, "message": "setup finished: the first sync cycle starts now"}

    def setup_autotask(self, username: str, secret: str, integration_code: str) -> dict[str, Any]:
        """Test the API user at once (zone discovery + one small query); store it only when the
        test passes."""
        given = [n for n in AUTOTASK_CREDENTIALS if self.env_given(n)]
        if given:
            raise ApiError(
                409,
                "the Autotask API user is set by the environment"
                f" ({', '.join(env_name(n) for n in given)})",
                "change it there, or unset those variables to enter it here",
            )
        values = {
            "username": username.strip(),
            "secret": secret,
            "integration_code": integration_code.strip(),
        }
        missing = [k for k, v in values.items() if not v.strip()]
        if missing:
            raise ApiError(
                400,
                f"missing: {', '.join(missing)}",
                "enter the API user's username (email), its secret and the integration code",
            )
        garbled = [k for k, v in values.items() if not v.isascii()]
        if garbled:
            raise ApiError(
                400,
                f"not plain ASCII text: {', '.join(garbled)}",
                "copy the API user's values again from Autotask (they travel as HTTP headers)",
            )
        eff = self.effective()
        client = AutotaskClient(
            values["username"],
            values["secret"],
            values["integration_code"],
            zone_lookup_url=eff.autotask_zone_lookup_url,
            base_url=eff.autotask_base_url,
            retry=RetryPolicy(max_attempts=2),
            budget=None,
            **{k: v for k, v in self.autotask_options.items() if k in ("sleep", "clock", "draw")},
        )
        try:
            with client:
                next(
                    iter(
                        client.query(
                            "Companies", [{"op": "eq", "field": "id", "value": 0}], page_size=1
                        )
                    ),
                    None,
                )
                zone = client.zone_url
                # Lines of business the user cannot see (issue 5 §4): a warning, not a failure.
                warning = lob_warning(client, self.now().date())
        except AutotaskAuthError as exc:
            return self._autotask_failed(
                exc,
                "check the username (the API user's email), the secret and the integration code"
                " (Admin > Resources/Users > the API user > Security)",
            )
        except AutotaskNetworkError as exc:
            return self._autotask_failed(
                exc, "check the network, or ATX_AUTOTASK_ZONE_LOOKUP_URL / ATX_AUTOTASK_BASE_URL"
            )
        except AutotaskError as exc:
            return self._autotask_failed(
                exc, "check that the API user has the API User (system) license and rights"
            )
        try:
            self.store.settings.set("autotask_username", values["username"])
            self.store.secrets.set("autotask_secret", values["secret"])
            self.store.secrets.set("autotask_integration_code", values["integration_code"])
        except StoreError as exc:
            raise ApiError(
                409, f"the Autotask API user could not be stored: {exc}", "set ATX_SECRET_KEY"
            ) from None
        if self.logs is not None:
            self.logs.add_secrets([values["secret"], values["integration_code"]])
        if zone:
            self.store.cursors.set(ZONE_STREAM, zone)
        log.info("autotask API user %s tested and saved (zone %s)", values["username"], zone)
        self._settings_changed(rebuild=True)
        if warning:
            log.warning("autotask API user %s: %s", values["username"], warning)
        return {"ok": True, "zone_url": zone, "error": None, "fix": None, "warning": warning}

    def _autotask_failed(self, exc: Exception, fix: str) -> dict[str, Any]:
        message = " ".join(str(exc).split())
        log.info("autotask API user test failed: %s", message)
        return {"ok": False, "zone_url": None, "error": message, "fix": fix, "warning": None}

    # -- the runtime (clients + engine) -------------------------------------------------------

    def _build_runtime(self) -> _Runtime | None:
        """Called with ``_work`` held. None while the setup is incomplete."""
        with self._lock:
            if self._runtime is not None and not self._dirty:
                return self._runtime
            old, self._runtime = self._runtime, None
            self._dirty = False
        if old is not None:
            old.close()
        if not self.setup_complete():
            return None
        settings = self.effective()
        store = self.store
        autotask = AutotaskClient.from_settings(
            settings,
            zone_url=store.cursors.get(ZONE_STREAM),
            on_zone_discovered=lambda url: store.cursors.set(ZONE_STREAM, url),
            **self.autotask_options,
        )
        xero = XeroClient(settings, store, **self.xero_options)
        try:
            if not xero.ensure_connected():
                raise NoOrganisation()
        except BaseException:
            xero.close()
            autotask.close()
            raise
        engine = SyncEngine(
            settings, store, autotask, xero, stop=self.stop_event, **self.engine_options
        )
        engine.progress = self._on_progress
        runtime = _Runtime(settings, autotask, xero, engine)
        with self._lock:
            self._runtime = runtime
        return runtime

    def xero_for_connect(self) -> XeroClient:
        """A Xero client for the connect flows (before any cycle: no runtime yet)."""
        with self._lock:
            runtime = self._runtime
            if runtime is not None and not self._dirty:
                return runtime.xero
            settings = self.effective()
            client = self._xero_for_connect
            if client is None or client.settings is not settings:
                if client is not None:
                    client.close()
                client = XeroClient(settings, self.store, **self.xero_options)
                self._xero_for_connect = client
            return client

    def _autotask(self) -> AutotaskClient:
        """An Autotask client for the reference lists (works before Xero is connected)."""
        if not self.setup_flags()["autotask"]:
            raise ApiError(409, "Autotask is not set up yet", "enter the Autotask API user first")
        with self._lock:
            runtime = self._runtime
            if runtime is not None and not self._dirty:
                return runtime.autotask
            settings = self.effective()
            cached = self._autotask_for_lists
            if cached is None or cached[0] is not settings:
                if cached is not None:
                    cached[1].close()
                try:
                    client = AutotaskClient.from_settings(
                        settings,
                        zone_url=self.store.cursors.get(ZONE_STREAM),
                        on_zone_discovered=lambda url: self.store.cursors.set(ZONE_STREAM, url),
                        **self.autotask_options,
                    )
                except AutotaskConfigError as exc:
                    raise ApiError(
                        409, str(exc), "correct the Autotask API user (setup step 1)"
                    ) from None
                self._autotask_for_lists = (settings, client)
            return self._autotask_for_lists[1]  # type: ignore[index]

    # -- cycles (the Engine protocol of AgentLoop) -------------------------------------------

    def run_cycle(self) -> CycleReport | None:
        """One cycle on the loop's thread; None while the setup is incomplete."""
        if self.stop_event.is_set() or not self.cycles_allowed():
            return None
        with self._work:
            runtime = self._build_runtime()
            if runtime is None:
                return None
            self._set_cycling(True)
            try:
                report = runtime.engine.run_cycle()
            finally:
                self._set_cycling(False)
        self._after_cycle(report)
        return report

    def request_stop(self) -> None:
        with self._lock:
            self._stopping = True
            runtime = self._runtime
        self.stop_event.set()
        if runtime is not None:
            runtime.engine.request_stop()
        self.publish_status()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake()

    def request_cycle(self) -> dict[str, Any]:
        self._refuse_when_stopping()
        if not self.setup_complete():
            raise ApiError(409, "the setup is not complete", self._setup_fix())
        if not self.cycles_allowed():
            raise ApiError(
                409,
                "the setup wizard is not finished",
                "send a test invoice, or choose Start syncing (POST /setup/finish)",
            )
        if self._cycling:
            return {"accepted": False, "message": "a sync cycle is running already"}
        if self._wake is None:
            raise ApiError(503, "the sync loop is not running", "start the agent: atx agent")
        self.wake()
        return {"accepted": True, "message": "a sync cycle starts now"}

    def _set_cycling(self, value: bool) -> None:
        with self._lock:
            self._cycling = value
        if value:
            self.publish("cycle", {"phase": "started", "done": 0, "total": 0, "summary": None})

    def _on_progress(self, phase: str, done: int, total: int) -> None:
        if phase == "started":
            return  # published by run_cycle / sync_invoice
        self.publish("cycle", {"phase": phase, "done": done, "total": total, "summary": None})

    def _after_cycle(self, report: CycleReport) -> None:
        self.metrics.observe_cycle(report)
        summary = self._summary(report.to_dict())
        with self._lock:
            self._last_report = summary
        total = report.posted + report.failed + report.dead + report.adopted
        self.publish(
            "cycle", {"phase": "finished", "done": total, "total": total, "summary": summary}
        )
        self.publish("budget", self.budgets())
        self.publish_status()

    # -- one invoice (the wizard's test invoice) ---------------------------------------------

    def sync_invoice(self, autotask_id: int, dry_run: bool) -> dict[str, Any]:
        self._refuse_when_stopping()
        if not self.setup_complete():
            raise ApiError(409, "the setup is not complete", self._setup_fix())
        if not self._work.acquire(timeout=SYNC_INVOICE_WAIT_SECONDS):
            raise ApiError(
                409, "a sync cycle is running", "try again when it has finished (see /status)"
            )
        try:
            runtime = self._build_runtime()
            if runtime is None:
                raise ApiError(409, "the setup is not complete", self._setup_fix())
            if dry_run:
                return self._dry_run(runtime, autotask_id)
            self._set_cycling(True)
            try:
                report = runtime.engine.run_invoice(autotask_id)
            finally:
                self._set_cycling(False)
        except (AutotaskError, XeroError, StoreError, NoOrganisation) as exc:
            raise ApiError(409, " ".join(str(exc).split()), "see the log for details") from None
        finally:
            self._work.release()
        self.publish(
            "cycle",
            {
                "phase": "finished",
                "done": report.posted,
                "total": 1,
                "summary": self._summary(report.to_dict()),
            },
        )
        return self._invoice_outcome(autotask_id, report)

    def _dry_run(self, runtime: _Runtime, autotask_id: int) -> dict[str, Any]:
        from agent.sync.dryrun import InvoiceNotFound, dry_run

        try:
            result = dry_run(runtime.engine, autotask_id)
        except InvoiceNotFound as exc:
            raise ApiError(404, str(exc), "check the invoice id in Autotask") from None
        data = result.data
        org = (data.get("organisation") or {}).get("tenant_id") or ""
        document = data.get("document") or {}
        reasons = [b.get("message", "") for b in data.get("blocked") or []]
        reasons += [str(p) for p in data.get("problems") or []]
        parts = list(data.get("parts") or [])
        if result.mapped:
            where = self._org_name(org)
            if parts:
                where = " and ".join(
                    f"{self._org_name(p['organisation']['tenant_id'])} (part {p['part']} of"
                    f" {p['parts']})"
                    for p in parts
                )
            return {
                "outcome": "previewed",
                "org": org,
                "payload": document.get("payload"),
                "provenance": _provenance(document),
                "reasons": reasons,
                "xero_number": None,
                "message": f"this is what would be sent to {where}; nothing was sent",
                "parts": parts,
            }
        return {
            "outcome": "blocked",
            "org": org,
            "payload": None,
            "provenance": [],
            "reasons": reasons,
            "xero_number": None,
            "message": "the invoice cannot be sent yet: " + (reasons[0] if reasons else "?"),
            "parts": parts,
        }

    def _invoice_outcome(self, autotask_id: int, report: CycleReport) -> dict[str, Any]:
        from agent.sync.intake import DOCUMENT_KINDS

        rows = self.store.outbox.for_autotask_ids([autotask_id], kinds=DOCUMENT_KINDS)
        live = [r for r in rows if r.state is not S.SKIPPED]
        sent = [r for r in live if r.state in (S.POSTED, S.DONE)]
        if len(live) > 1 and len(sent) < len(live):
            # A split invoice (one row per organisation) is sent once every part is.
            live, sent = [r for r in live if r not in sent], []
        row: OutboxRow | None = (sent or live or rows or [None])[0]  # type: ignore[list-item]
        org = row.org if row is not None else ""
        envelope = row.payload if row is not None else None
        if sent and row is not None:
            first = not self.store.settings.get(SETUP_TEST_INVOICE_DONE)
            self.store.settings.set(SETUP_TEST_INVOICE_DONE, True)
            self.publish_status()
            if first:  # the end of the wizard: the first scheduled cycle runs now
                self.wake()
            return {
                "outcome": "posted",
                "org": org,
                "payload": (envelope or {}).get("payload"),
                "provenance": _provenance(envelope or {}),
                "reasons": [],
                "xero_number": row.xero_number,
                "message": "sent to "
                + " and ".join(
                    f"{self._org_name(r.org)} as {r.xero_number or 'a draft'}" for r in sent
                ),
                "parts": [
                    {"tenant_id": r.org, "state": r.state.value, "xero_number": r.xero_number}
                    for r in sent
                ]
                if len(sent) > 1
                else [],
            }
        if row is not None and row.state is S.BLOCKED:
            return {
                "outcome": "blocked",
                "org": org,
                "payload": None,
                "provenance": [],
                "reasons": list(row.block_reasons),
                "xero_number": None,
                "message": "the invoice is blocked: fix the reasons, then sync it again",
            }
        reasons = list(report.errors) + ([row.last_error] if row and row.last_error else [])
        return {
            "outcome": "failed",
            "org": org,
            "payload": None,
            "provenance": [],
            "reasons": reasons,
            "xero_number": None,
            "message": "the invoice was not sent: " + (reasons[0] if reasons else "see the log"),
        }

    # -- status -----------------------------------------------------------------------------------

    def state(self) -> AgentState:
        with self._lock:
            if self._stopping:
                return "stopping"
            if self._cycling:
                return "cycling"
        return "idle" if self.cycles_allowed() else "setup"

    def _stored_last_cycle(self) -> dict[str, Any] | None:
        raw = self.store.cursors.get(LAST_CYCLE_STREAM)
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _summary(data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "started_at": data.get("started_at"),
            "finished_at": data.get("finished_at"),
            "seen": int(data.get("invoices_seen") or 0),
            "posted": int(data.get("posted") or 0),
            "adopted": int(data.get("adopted") or 0),
            "marked": int(data.get("marked") or 0),
            "blocked": int(data.get("blocked") or 0),
            "failed": int(data.get("failed") or 0) + int(data.get("dead") or 0),
            "ok": bool(data.get("ok")),
            "errors": [str(e) for e in data.get("errors") or []],
        }

    def budgets(self) -> dict[str, Any]:
        with self._lock:
            runtime = self._runtime
        raw: Mapping[str, Any]
        if runtime is not None:
            raw = runtime.engine.budgets()
        else:
            raw = (self._stored_last_cycle() or {}).get("budgets") or {}
        autotask_raw = raw.get("autotask") or None
        autotask = None
        if isinstance(autotask_raw, Mapping) and autotask_raw.get("threshold"):
            used = int(autotask_raw.get("used") or 0)
            limit = int(autotask_raw["threshold"])
            autotask = {
                "used": used,
                "limit": limit,
                "percent": round(100.0 * used / limit, 1) if limit else 0.0,
            }
        names = {c.tenant_id: c.tenant_name for c in self.store.connections.list_connections()}
        xero = []
        xero_raw = raw.get("xero")
        for tenant, state in (xero_raw if isinstance(xero_raw, Mapping) else {}).items():
            if not isinstance(state, Mapping):
                continue
            xero.append(
                {
                    "org": tenant,
                    "name": names.get(tenant, tenant),
                    "minute_remaining": state.get("minute_remaining"),
                    "day_remaining": state.get("day_remaining"),
                    "paused_until": state.get("paused_until"),
                }
            )
        return {"autotask": autotask, "xero": xero}

    def connections(self) -> list[dict[str, Any]]:
        from agent.control.connect import connection_card

        now = self.now()
        paused = {b["org"]: b["paused_until"] for b in self.budgets()["xero"]}
        cards = []
        for conn in self.store.connections.list_connections():
            info = stored_info(self.store, conn.tenant_id)
            card = connection_card(conn, now, info.short_code if info else None)
            card["selected"] = conn.status != "disconnected"
            card["paused_until"] = paused.get(conn.tenant_id)
            cards.append(card)
        return cards

    def select_connections(self, tenant_ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = set(tenant_ids)
        known = {c.tenant_id: c for c in self.store.connections.list_connections()}
        unknown = sorted(wanted - set(known))
        if unknown:
            raise ApiError(
                404,
                f"not a connected Xero organisation: {', '.join(unknown)}",
                "choose among the tenant ids GET /connections lists",
            )
        if not wanted:
            raise ApiError(400, "choose at least one organisation", "send its tenant id")
        for tenant_id, conn in known.items():
            if tenant_id in wanted and conn.status == "disconnected":
                self.store.connections.set_status(tenant_id, "active")
            elif tenant_id not in wanted and conn.status != "disconnected":
                self.store.connections.set_status(tenant_id, "disconnected")
        log.info("xero organisations in use: %s", ", ".join(sorted(wanted)))
        self._settings_changed(rebuild=True)
        return self.connections()

    def connect_client_credentials(
        self, client_id: str | None, client_secret: str | None
    ) -> list[dict[str, Any]]:
        from agent.control.connect import ConnectError

        changes: dict[str, Any] = {}
        if client_id:
            changes["xero_client_id"] = client_id
        if client_secret:
            changes["xero_client_secret"] = client_secret
        if self.effective().xero_auth_mode != "client_credentials" and not self.env_given(
            "xero_auth_mode"
        ):
            changes["xero_auth_mode"] = "client_credentials"
        if changes:
            try:
                self.put_settings(changes)
            except ApiError as exc:
                # Valid input the current settings do not allow (the environment sets them).
                raise ApiError(409, exc.error, exc.fix, fields=exc.fields) from None
        if self.effective().xero_auth_mode != "client_credentials":
            raise ApiError(
                409,
                "ATX_XERO_AUTH_MODE is set to another mode by the environment",
                "set ATX_XERO_AUTH_MODE=client_credentials for a custom connection",
            )
        if self.connect is None:
            self.attach_connect()
        try:
            cards: list[dict[str, Any]] = self.connect.connect_client_credentials()
        except ConnectError as exc:
            raise ApiError(409, exc.error, exc.fix) from None
        self._settings_changed(rebuild=True)
        return cards or self.connections()

    def _on_connect_event(self, flow: dict[str, Any]) -> None:
        self.publish("connect", flow)
        if flow.get("state") == "connected":
            self._settings_changed(rebuild=True)

    def attention(self) -> list[dict[str, Any]]:
        items = []
        flags = self.setup_flags()
        if not flags["autotask"]:
            items.append(
                {
                    "kind": "setup",
                    "message": "Autotask is not set up",
                    "fix": "enter the Autotask API user (setup step 1)",
                    "count": 1,
                }
            )
        if not flags["xero"]:
            items.append(
                {
                    "kind": "setup",
                    "message": "no Xero organisation is connected",
                    "fix": "connect Xero (setup step 2)",
                    "count": 1,
                }
            )
        counts = self.store.outbox.counts_by_state()
        # Purchase orders changed or cancelled after approval in Xero wait for a person's word.
        decisions = sum(
            1
            for r in self.store.outbox.list_rows(
                states=[S.BLOCKED], kind="purchase_order", limit=100_000
            )
            if (r.payload or {}).get("decision")
        )
        if decisions:
            items.append(
                {
                    "kind": "decision",
                    "message": f"{decisions} purchase order(s) changed or cancelled in Autotask"
                    " after approval in Xero",
                    "fix": "open each (queue, kind purchase order, blocked): retry applies the"
                    " change in Xero, skip keeps Xero's version",
                    "count": decisions,
                }
            )
        blocked = counts.get("blocked", 0) - decisions
        if blocked:
            items.append(
                {
                    "kind": "blocked",
                    "message": f"{blocked} document(s) blocked by missing mappings or data",
                    "fix": "open the queue filtered by blocked: each row says what to map or fix",
                    "count": blocked,
                }
            )
        if counts.get("dead"):
            items.append(
                {
                    "kind": "dead",
                    "message": f"{counts['dead']} document(s) failed every attempt",
                    "fix": "read the error of each (queue, state dead), fix it, then retry",
                    "count": counts["dead"],
                }
            )
        if counts.get("failed"):
            items.append(
                {
                    "kind": "failed",
                    "message": f"{counts['failed']} document(s) failed and will be retried",
                    "fix": "nothing to do unless it persists; retry now from the queue",
                    "count": counts["failed"],
                }
            )
        for card in self.connections():
            if card["warning"]:
                items.append(
                    {
                        "kind": "connection",
                        "message": f"{card['name']}: {card['warning']}",
                        "fix": "reconnect Xero (Connections)",
                        "count": 1,
                    }
                )
        problems = self.store.payments.with_problems()
        if problems:
            items.append(
                {
                    "kind": "payment",
                    "message": f"{len(problems)} invoice(s) paid or reopened in Xero whose"
                    f" Autotask paid date the agent could not set: {problems[0].problem}",
                    "fix": "open the row in the queue: its detail says what to do in Autotask",
                    "count": len(problems),
                }
            )
        last = self._last_report or self._summary(self._stored_last_cycle() or {})
        for error in (last or {}).get("errors") or []:
            items.append({"kind": "cycle", "message": error, "fix": "see the log", "count": 1})
        return items

    def status(self) -> dict[str, Any]:
        stored = self._stored_last_cycle()
        last = self._last_report or (self._summary(stored) if stored else None)
        next_at = self._next_cycle() if self._next_cycle is not None else None
        return {
            "agent": {
                "version": __version__,
                "started_at": _iso(self.started_at),
                "state": self.state(),
                "last_cycle": last,
                "next_cycle_at": _iso(next_at) if self.cycles_allowed() else None,
                "interval_minutes": self.effective().sync_interval_minutes,
            },
            "setup": self.setup_flags(),
            "counts": self.store.outbox.counts_by_state(),
            "connections": self.connections(),
            "budgets": self.budgets(),
            "attention": self.attention(),
        }

    def publish_status(self) -> None:
        try:
            self.publish("status", self.status())
        except Exception as exc:  # the store closing at shutdown
            log.debug("status event skipped: %s", exc)

    def _setup_fix(self) -> str:
        flags = self.setup_flags()
        if not flags["autotask"]:
            return "enter the Autotask API user first (POST /setup/autotask)"
        return "connect a Xero organisation first (POST /connect)"

    def _refuse_when_stopping(self) -> None:
        if self._stopping or self.stop_event.is_set():
            raise ApiError(503, "the agent is stopping", "wait for it to restart")

    # -- the queue --------------------------------------------------------------------------------

    def _org_names(self) -> dict[str, str]:
        return {c.tenant_id: c.tenant_name for c in self.store.connections.list_connections()}

    def _org_name(self, org: str) -> str:
        return self._org_names().get(org, org or "no organisation")

    def queue_item(
        self,
        row: OutboxRow,
        names: Mapping[str, str] | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``facts``: the row's ``Outbox.summaries`` entry (read when not given)."""
        names = self._org_names() if names is None else names
        if facts is None:
            facts = self.store.outbox.summaries([row.id]).get(row.id, {})
        total = facts.get("total")
        if total is not None:
            try:
                total = str(Decimal(str(total)))
            except ArithmeticError:
                total = str(total)
        return {
            "id": row.id,
            "kind": row.kind.value,
            "autotask_id": row.autotask_id,
            "number": _json_text(facts.get("number")),
            "customer": _json_text(facts.get("customer")),
            "org": row.org,
            "org_name": names.get(row.org) if row.org else None,
            "state": row.state.value,
            "total": total,
            "currency": _json_text(facts.get("currency")),
            "xero_id": row.xero_id,
            "xero_number": row.xero_number,
            "attempts": row.attempts,
            "next_attempt_at": _iso(row.next_attempt_at),
            "last_error": row.last_error,
            "block_reasons": list(row.block_reasons),
            "updated_at": row.updated_at.isoformat(),
        }

    def queue_items(self, rows: list[OutboxRow]) -> list[dict[str, Any]]:
        names = self._org_names()
        facts = self.store.outbox.summaries(r.id for r in rows)
        return [self.queue_item(r, names, facts.get(r.id, {})) for r in rows]

    def queue(
        self,
        *,
        states: list[str] | None,
        kinds: list[str] | None,
        org: str | None,
        text: str | None,
        cursor: str | None,
        limit: int,
    ) -> dict[str, Any]:
        before: tuple[str, int] | None = None
        if cursor:
            stamp, _, ident = cursor.rpartition("|")
            if not stamp or not ident.isdigit():
                raise ApiError(400, "cursor: not a cursor this agent gave", "drop the cursor")
            before = (stamp, int(ident))
        rows, total = self.store.outbox.page(
            states=states or None,
            kinds=kinds or None,
            org=org,
            text=(text or "").strip() or None,
            before=before,
            limit=limit,
        )
        items = self.queue_items(rows)
        next_cursor = None
        if len(rows) == limit and rows:
            last = rows[-1]
            next_cursor = f"{to_db(last.updated_at)}|{last.id}"
        return {"items": items, "next_cursor": next_cursor, "total": total}

    def _row(self, outbox_id: int) -> OutboxRow:
        row = self.store.outbox.get(outbox_id)
        if row is None:
            raise ApiError(404, f"no outbox row {outbox_id}", "reload the queue")
        return row

    def queue_detail(self, outbox_id: int) -> dict[str, Any]:
        row = self._row(outbox_id)
        item = self.queue_item(row)
        envelope = row.payload or {}
        history = [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "from_state": None if e.from_state is None else e.from_state.value,
                "to_state": e.to_state.value,
                "detail": e.detail,
            }
            for e in self.store.outbox.events(row.id)
        ]
        paid = self.store.payments.get(row.id)
        return {
            **item,
            "payload": envelope.get("payload") if isinstance(envelope, dict) else None,
            "provenance": _provenance(envelope),
            "history": history,
            "fix": (paid.problem if paid is not None else None) or _fix_for(row),
            "actions": _actions(row),
            # Payments back (agent/sync/payments.py): the balance Xero last showed; null until
            # a payment on the invoice was seen.
            "amount_paid": _money_text(paid.amount_paid) if paid else None,
            "amount_credited": _money_text(paid.amount_credited) if paid else None,
            "amount_due": _money_text(paid.amount_due) if paid else None,
            "paid_date": paid.paid_date_set.isoformat() if paid and paid.paid_date_set else None,
            "payment_problem": paid.problem if paid else None,
        }

    def _row_action(
        self, outbox_id: int, action: Callable[[OutboxRow], OutboxRow], done: str
    ) -> dict[str, Any]:
        self._refuse_when_stopping()
        row = self._row(outbox_id)
        try:
            new = action(row)
        except (IllegalTransition, StateConflict) as exc:
            raise ApiError(
                409,
                f"row {outbox_id} is {self._row(outbox_id).state.value}: {exc}",
                "reload the row: its actions list what its state allows",
            ) from None
        except NotFound:
            raise ApiError(404, f"no outbox row {outbox_id}", "reload the queue") from None
        return {"item": self.queue_item(new), "message": done}

    def retry_row(self, outbox_id: int) -> dict[str, Any]:
        def retry(row: OutboxRow) -> OutboxRow:
            if row.state not in RETRYABLE:
                raise IllegalTransition(row.id, row.state, S.PENDING)
            new = self.store.outbox.retry(row.id)
            if row.state in (S.BLOCKED, S.SKIPPED):
                # Read it again from Autotask rather than send what was refused.
                new = self.store.outbox.update(
                    row.id, payload=None, detail="retried: read again from Autotask"
                )
            return new

        result = self._row_action(outbox_id, retry, "queued again for the next cycle")
        return result

    def skip_row(self, outbox_id: int, reason: str | None) -> dict[str, Any]:
        def skip(row: OutboxRow) -> OutboxRow:
            if row.state not in SKIPPABLE:
                raise IllegalTransition(row.id, row.state, S.SKIPPED)
            return self.store.outbox.skip(row.id, reason=(reason or "").strip() or None)

        return self._row_action(outbox_id, skip, "skipped: it will not be sent")

    def resync_row(self, outbox_id: int) -> dict[str, Any]:
        from agent.sync.maintenance import request_resync

        def resync(row: OutboxRow) -> OutboxRow:
            if row.state is not S.DONE:
                raise IllegalTransition(row.id, row.state, S.PENDING)
            return request_resync(self.store, row.id)

        return self._row_action(
            outbox_id, resync, "queued: the Xero document is updated in the next cycle"
        )

    def retry_failed(self, org: str | None) -> dict[str, Any]:
        self._refuse_when_stopping()
        count = self.store.outbox.retry_all_failed(org=org or None)
        return {"count": count, "message": f"{count} failed or dead document(s) queued again"}

    # -- mappings and catalogs ----------------------------------------------------------------

    def mappings(self, kind: str | None, org: str | None) -> dict[str, Any]:
        if kind is not None and kind not in KNOWN_MAPPING_TYPES:
            raise ApiError(
                400,
                f"kind: unknown mapping kind {kind!r}",
                "one of " + ", ".join(KNOWN_MAPPING_TYPES),
            )
        entries = self.store.mappings.list_all(org=org, mapping_type=kind)
        return {"items": [_mapping_item(e) for e in entries]}

    def put_mapping(
        self, kind: str, org: str, key: str, value: str | None, label: str | None
    ) -> dict[str, Any]:
        self._refuse_when_stopping()
        from agent.sync.maintenance import requeue_unblocked

        if kind not in KNOWN_MAPPING_TYPES:
            raise ApiError(
                400,
                f"kind: unknown mapping kind {kind!r}",
                "one of " + ", ".join(KNOWN_MAPPING_TYPES),
            )
        if org != ALL_ORGS and org not in self._org_names():
            raise ApiError(
                404,
                f"org: {org!r} is not a connected Xero organisation",
                'use "" for every organisation, or a tenant id from /connections',
            )
        key = key.strip()
        if not key:
            raise ApiError(400, "key: empty", "send the Autotask value to map")
        if kind in ROUTING_KINDS and org != ALL_ORGS:
            raise ApiError(
                400, f"org: {kind} mappings apply to every organisation", 'send "org": ""'
            )
        if kind == "routing_currency":
            key = key.upper()
        if value is None:
            existed = self.store.mappings.get(org, kind, key)
            self.store.mappings.delete(org, kind, key)
            item = (
                _mapping_item(existed)
                if existed
                else {"kind": kind, "org": org, "key": key, "value": None, "label": label}
            )
            item["value"] = None
            message = "mapping removed"
        else:
            value = value.strip()
            if not value:
                raise ApiError(400, "value: empty", "send the Xero value, or null to remove")
            entry = self.store.mappings.set(
                org, kind, key, value, {"label": label} if label else None
            )
            item = _mapping_item(entry)
            message = "mapping saved"
        try:
            outcome = requeue_unblocked(self.store, self.effective(), self.now().date())
            unblocked = outcome.unblocked
        except StoreError as exc:
            log.warning("re-mapping blocked rows failed: %s", exc)
            unblocked = 0
        if unblocked:
            message += f"; {unblocked} blocked document(s) map now and are queued"
        self.publish_status()
        return {"item": item, "unblocked": unblocked, "message": message}

    def catalog(self, org: str, name: str) -> dict[str, Any]:
        if name not in CATALOGS:
            raise ApiError(404, f"no Xero catalog {name!r}", "one of " + ", ".join(CATALOGS))
        cached = self.store.catalogs.get_catalog(org, name)
        if cached is None:
            if org not in self._org_names():
                raise ApiError(
                    404,
                    f"no connected Xero organisation {org!r}",
                    "use a tenant id from /connections",
                )
            return {"items": [], "refreshed_at": None}
        return {"items": cached.records, "refreshed_at": cached.fetched_at.isoformat()}

    def refresh_catalogs(self, org: str) -> dict[str, Any]:
        self._refuse_when_stopping()
        if org not in self._org_names():
            raise ApiError(
                404, f"no connected Xero organisation {org!r}", "use a tenant id from /connections"
            )
        from agent.sync.orgs import ensure_catalogs

        try:
            ensure_catalogs(
                self.xero_for_connect(),
                self.store,
                org,
                max_age=timedelta(0),
                now=self.now(),
                force=True,
            )
        except (XeroError, StoreError) as exc:
            raise ApiError(
                409, " ".join(str(exc).split()), "try again later, or reconnect Xero"
            ) from None
        counts = {}
        for name in CATALOGS:
            cached = self.store.catalogs.get_catalog(org, name)
            counts[name] = len(cached.records) if cached else 0
        return {"counts": counts, "message": f"catalogs of {self._org_name(org)} refreshed"}

    # -- Autotask reference lists ------------------------------------------------------------

    def autotask_list(self, name: str, q: str | None) -> dict[str, Any]:
        from agent.control import autotask_lists

        if name not in autotask_lists.LISTS:
            raise ApiError(
                404, f"no Autotask list {name!r}", "one of " + ", ".join(autotask_lists.LISTS)
            )
        client = self._autotask()
        cache_key = f"{name}?{q or ''}"
        now = self.now()
        with self._lock:
            cached = self._autotask_lists.get(cache_key)
        fresh = name in autotask_lists.UNCACHED
        if cached is not None and not fresh and now - cached[0] < AUTOTASK_LIST_TTL:
            return {"items": cached[1]}
        try:
            items = autotask_lists.LISTS[name](client, q)
        except AutotaskConfigError as exc:
            raise ApiError(409, str(exc), "enter the Autotask API user (setup step 1)") from None
        except AutotaskError as exc:
            raise ApiError(409, " ".join(str(exc).split()), "try again later") from None
        with self._lock:
            self._autotask_lists[cache_key] = (now, items)
        return {"items": items}

    # -- logs -------------------------------------------------------------------------------------

    def log_lines(self, level: str | None, q: str | None, limit: int) -> dict[str, Any]:
        if self.logs is None:
            return {"items": []}
        return {"items": self.logs.recent(level=level, text=q, limit=limit)}

    def queue_events(self, row_ids: list[int]) -> None:
        """The outbox tailer's callback: one ``queue`` event per changed row."""
        for start in range(0, len(row_ids), 500):
            for item in self.queue_items(self.store.outbox.get_many(row_ids[start : start + 500])):
                self.publish("queue", item)


# -- helpers ----------------------------------------------------------------------------------


def _mapping_item(entry: Any) -> dict[str, Any]:
    label = entry.metadata.get("label") if isinstance(entry.metadata, dict) else None
    return {
        "kind": entry.mapping_type,
        "org": entry.org,
        "key": entry.source_key,
        "value": entry.target,
        "label": label if isinstance(label, str) else None,
    }


def _provenance(envelope: Mapping[str, Any]) -> list[dict[str, Any]]:
    lines = envelope.get("provenance") if isinstance(envelope, Mapping) else None
    document = envelope.get("payload") if isinstance(envelope, Mapping) else None
    items = (document or {}).get("LineItems") if isinstance(document, Mapping) else None
    if not isinstance(lines, list):
        return []
    found = []
    for index, line in enumerate(lines):
        if not isinstance(line, Mapping):
            continue
        description = None
        if isinstance(items, list) and index < len(items) and isinstance(items[index], Mapping):
            description = items[index].get("Description")
        found.append({"line": index + 1, "description": description, **line})
    return found


def _actions(row: OutboxRow) -> list[str]:
    actions = []
    if row.state in RETRYABLE:
        actions.append("retry")
    if row.state in SKIPPABLE:
        actions.append("skip")
    if row.state is S.DONE and row.xero_id:
        actions.append("resync")
    return actions


def _fix_for(row: OutboxRow) -> str | None:
    decision = row.kind.value == "purchase_order" and bool((row.payload or {}).get("decision"))
    if row.state is S.BLOCKED and decision and (row.payload or {}).get("cancel"):
        return (
            "the order was cancelled in Autotask after its document was approved in Xero: retry"
            " to delete (a bill: void) the Xero document, or skip to keep it"
        )
    if row.state is S.BLOCKED and decision:
        return (
            "the order changed in Autotask after its document was approved in Xero: retry to"
            " apply the change to the Xero document, or skip to keep Xero's version"
        )
    if row.state is S.BLOCKED and row.kind.value == "void":
        return (
            "its invoice was voided in Autotask but Xero has a payment or credit on it: remove"
            " that in Xero, then retry; or void it in Xero by hand, then skip"
        )
    if row.state is S.BLOCKED:
        return (
            "add the mappings or fix the data the reasons name; saving a mapping queues it again"
            " by itself, a fix in Autotask needs a retry"
        )
    if row.state is S.FAILED:
        return "nothing to do: it is retried by itself at next_attempt_at (or retry it now)"
    if row.state is S.DEAD:
        return "fix the cause named in the error, then retry"
    if row.state is S.SKIPPED:
        return "retry it to send it after all"
    return None


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
