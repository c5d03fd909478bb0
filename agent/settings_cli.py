"""``atx settings``: the run-time settings (the ones the setup wizard and the TUI edit) from the
command line: list them with their values and where each comes from, set one, unset one.

With the agent running, the change goes through its control API (``PUT /settings`` on the control
socket), so the agent applies it as the TUI's would (a new Autotask client, the new interval);
without, it is stored directly by the same code (``AgentService.put_settings``): the same checks,
the same messages. Secrets are not taken on the command line (they would stay in the shell's
history): they belong in ``.env`` or Docker secrets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from agent.config import Settings
from agent.control.service import SPEC_BY_NAME, SPECS, SettingSpec, check_value

TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


class SettingsProblem(Exception):
    """One line for the user: what is wrong and what to do."""


def parse_value(name: str, text: str) -> Any:
    """``text`` as the setting ``name`` takes it; ``SettingsProblem`` naming what it expects."""
    spec = check_name(name)
    raw = text.strip()
    value: Any = raw
    if spec.kind == "bool":
        if raw.lower() not in TRUE | FALSE:
            raise SettingsProblem(f"{name}: expected true or false, not {raw!r}")
        value = raw.lower() in TRUE
    elif spec.kind in ("int", "number"):
        try:
            number = float(raw)
        except ValueError:
            raise SettingsProblem(f"{name}: expected a number, not {raw!r}") from None
        value = int(number) if spec.kind == "int" and number.is_integer() else number
    # The agent's own checks (limits, choices), so the same words whether it runs or not.
    checked, problem = check_value(spec, value)
    if problem:
        raise SettingsProblem(f"{name}: {problem}")
    return checked


def check_name(name: str) -> SettingSpec:
    """The setting ``name``, when the command line may change it."""
    spec = SPEC_BY_NAME.get(name)
    if spec is None:
        known = ", ".join(s.name for s in SPECS if not s.secret)
        raise SettingsProblem(f"{name}: not a setting the agent knows; one of: {known}")
    if spec.secret:
        raise SettingsProblem(
            f"{name}: secrets are not taken on the command line (the shell would keep them);"
            " put it in .env or a Docker secret (docs/configuration.md)"
        )
    return spec


def describe(spec: SettingSpec, view: Mapping[str, Any]) -> str:
    value = view.get("value")
    if view.get("secret"):
        shown = "(set)" if view.get("set") else "(not set)"
    elif value is None:
        shown = "(none)"
    else:
        shown = json.dumps(value) if not isinstance(value, str) else value
    source = view.get("source") or "default"
    choices = f"  [{' | '.join(spec.choices)}]" if spec.choices else ""
    return f"{spec.name:<28} {shown:<24} {source}{choices}"


def _agent(settings: Settings) -> httpx.Client | None:
    """A client on the running agent's control socket, or None when no agent answers."""
    socket = settings.effective_control_socket
    if not socket.exists():
        return None
    client = httpx.Client(
        transport=httpx.HTTPTransport(uds=str(socket)),
        base_url="http://atx",
        timeout=httpx.Timeout(10.0),
    )
    try:
        client.get("/health")
    except httpx.TransportError:
        client.close()
        return None
    return client


def view(settings: Settings) -> dict[str, dict[str, Any]]:
    client = _agent(settings)
    if client is not None:
        try:
            return dict(client.get("/settings").json()["values"])
        finally:
            client.close()
    with _service(settings) as service:
        return service.settings_view()


def put(settings: Settings, changes: Mapping[str, Any]) -> tuple[str, bool]:
    """Store ``changes``: (the message, whether the running agent took them)."""
    from agent.control.service import ApiError

    client = _agent(settings)
    if client is not None:
        try:
            answer = client.put("/settings", json=dict(changes))
        finally:
            client.close()
        body = answer.json() if answer.content else {}
        if answer.status_code >= 400:
            raise SettingsProblem(_problem(body))
        return str(body.get("message") or "saved"), True
    with _service(settings) as service:
        try:
            result = service.put_settings(changes)
        except ApiError as exc:
            raise SettingsProblem(_problem(exc.to_dict())) from None
    return str(result.get("message") or "saved"), False


def _problem(body: Mapping[str, Any]) -> str:
    error = str(body.get("error") or "refused")
    fix = body.get("fix")
    return f"{error}; {fix}" if fix else error


@contextmanager
def _service(settings: Settings) -> Iterator[Any]:
    """An ``AgentService`` on the store, for when no agent runs."""
    from agent.control.service import AgentService
    from agent.sync.runtime import open_store

    with open_store(settings) as store:
        yield AgentService(settings, store)
