"""Sync benchmark (issue 3 §6): one cycle over a seeded MSP against the sandbox, then a second.

The sandbox runs with Autotask's added latency switched on, the real limits (10,000 Autotask
requests an hour, 3 in flight per endpoint; Xero 60 calls a minute and 5 in flight per
organisation) and a shrunk time scale, so a sandbox minute lasts ``60 / time-scale`` real seconds.
The clients read the sandbox clock and sleep in real time for the scaled span, so a limit costs
what it would in production, shrunk by the time scale.

Run: ``.venv/bin/python benchmarks/sync_bench.py [--invoices 2000] [--time-scale 60]``

This is a benchmark, not a test: it prints what it measured, targets beside the figures, and
exits 0 whether or not a target is met.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import math
import resource
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from agent.autotask import AutotaskClient
from agent.config import Settings
from agent.store import Store
from agent.sync import SyncEngine
from agent.xero import XeroClient
from sandbox import seed
from sandbox import seed_catalog as cat
from sandbox.clock import SandboxClock
from sandbox.core import Sandbox, SandboxOptions
from sandbox.server import SandboxUrls, running_sandbox
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
    SANDBOX_XERO_PKCE_CLIENT_ID,
)

KEY = "benchmark key, not a secret"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # noon: the Xero day rolls over hours away
REDIRECT = "http://localhost:8742/callback"
SCOPES = (
    "openid offline_access accounting.invoices accounting.payments accounting.contacts "
    "accounting.settings"
)
# The accountant's tables for the seeded MSP (as tests/test_mapping_support.py): tax by
# (region, category) per organisation (AU first, UK second), and revenue accounts by code.
SEEDED_TAX = (
    {(1, 1): "OUTPUT", (1, 2): "EXEMPTOUTPUT", (1, 3): "EXEMPTOUTPUT"}
    | {(4, c): "EXEMPTEXPORT" for c in (1, 2, 3)}
    | {(2, c): "EXEMPTEXPORT" for c in (1, 2, 3)},
    {(3, 1): "OUTPUT2", (3, 2): "EXEMPTOUTPUT", (3, 3): "ZERORATEDOUTPUT"}
    | {(4, c): "ZERORATEDOUTPUT" for c in (1, 2, 3)},
)
SEEDED_ACCOUNTS = {29682813: "260", 29682821: "260", 29682822: "260", 29682833: "200"}

XERO_DOCS_PER_CALL = 50  # documents per batched PUT
TARGETS = {"xero": 0.05, "autotask": 1.1, "wall": 1.25, "rss_mb": 150.0}


def settings_for(urls: SandboxUrls, data_dir: Path) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "autotask_username": SANDBOX_AUTOTASK_USERNAME,
        "autotask_secret": SANDBOX_AUTOTASK_SECRET,
        "autotask_integration_code": SANDBOX_AUTOTASK_INTEGRATION_CODE,
        "autotask_zone_lookup_url": urls.autotask_zone_lookup_url,
        "xero_client_id": SANDBOX_XERO_PKCE_CLIENT_ID,
        "xero_auth_mode": "pkce",
        "xero_api_url": urls.xero_api_url,
        "xero_identity_url": urls.xero_identity_url,
        "xero_login_url": urls.xero_login_url,
        "secret_key": KEY,
        "invoice_number_prefix": "AT-",
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def connect_both(urls: SandboxUrls, xero: XeroClient) -> list[str]:
    """The browser half of a PKCE sign-in, done by hand: consent to both organisations."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": SANDBOX_XERO_PKCE_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "state": "bench",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with httpx.Client(timeout=10) as http:
        answer = http.get(urls.xero_login_url + "/identity/connect/authorize", params=params)
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:200]}")
    code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
    return [t.tenant_id for t in xero.exchange_code(code, verifier, REDIRECT)]


def set_mappings(store: Store, au: str, uk: str) -> None:
    """Routing by region, tax per organisation, accounts for the codes that need one."""
    for association, (level1, _level2) in cat.ORG_ASSOCIATIONS.items():
        store.mappings.set("", "routing", str(association), au if level1 == 1 else uk)
    for tenant, table in ((au, SEEDED_TAX[0]), (uk, SEEDED_TAX[1])):
        for (region, category), tax_type in table.items():
            store.mappings.set(tenant, "tax", f"{region}:{category}", tax_type)
    for code, account in SEEDED_ACCOUNTS.items():
        store.mappings.set("", "account", str(code), account)
    store.settings.set("default_org", au)  # lines without a line of business


def documents(sandbox: Sandbox, tenant: str) -> int:
    ledger = sandbox.xero.ledger(tenant)
    with sandbox.xero.lock:
        return len(ledger.org.invoices) + len(ledger.org.credit_notes)


def request_seconds(autotask: AutotaskClient, invoice_ids: list[int], samples: int = 30) -> float:
    """The median real time of one Autotask request (a read by id) on this machine."""
    times = []
    for invoice_id in invoice_ids[:samples]:
        began = time.perf_counter()
        autotask.get("Invoices", invoice_id)
        times.append(time.perf_counter() - began)
    return statistics.median(times) if times else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)

    world = seed.generate(args.invoices, seed=args.seed, today=START.date())
    options = SandboxOptions(latency=True)
    clock = SandboxClock(scale=args.time_scale, start=START)
    sandbox = Sandbox(world, clock=clock, options=options)

    def sleep(sandbox_seconds: float) -> None:
        time.sleep(clock.to_real(max(0.0, sandbox_seconds)))

    with (
        tempfile.TemporaryDirectory(prefix="atx-bench-") as tmp,
        running_sandbox(sandbox) as urls,
        contextlib.ExitStack() as opened,
    ):
        settings = settings_for(urls, Path(tmp) / "data")
        store = Store.open(settings.data_dir, secret_key=KEY, now=clock.now)
        opened.callback(store.close)
        autotask = AutotaskClient.from_settings(settings, sleep=sleep, clock=clock.seconds)
        opened.callback(autotask.close)
        xero = XeroClient(settings, store, now=clock.now, sleep=sleep, clock=clock.seconds)
        opened.callback(xero.close)
        au, uk = world.xero_orgs[0].tenant_id, world.xero_orgs[1].tenant_id
        connect_both(urls, xero)
        set_mappings(store, au, uk)
        engine = SyncEngine(settings, store, autotask, xero, now=clock.now)

        before = {t: documents(sandbox, t) for t in (au, uk)}
        began = time.perf_counter()
        first = engine.run_cycle()
        wall = time.perf_counter() - began
        added = {t: documents(sandbox, t) - before[t] for t in (au, uk)}
        second = engine.run_cycle()
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
        latency_after = sandbox.autotask.budget.latency()
        probe = autotask_probe_ids(world)
        per_request = request_seconds(autotask, probe)

    posted = first.posted
    # The floor the limits allow, in real seconds; the slower of the two services sets it.
    # - Autotask: each posted invoice needs one PATCH, at most 3 in flight per endpoint, each
    #   taking the sandbox's per-request time (the measured round trip of one request plus the
    #   latency the sandbox adds at the usage reached, 0 below half the hourly budget):
    #   ceil(posted / 3) x per-request seconds.
    # - Xero: per organisation, at least ceil(documents / 50) batched PUTs, at 60 calls a minute;
    #   the first 60 go at once, each further 60 wait a sandbox minute, converted to real
    #   seconds by the time scale: max(0, ceil(calls / 60) - 1) x 60 / time-scale.
    autotask_floor = math.ceil(posted / 3) * (per_request + latency_after)
    xero_calls_min = {t: math.ceil(n / XERO_DOCS_PER_CALL) for t, n in added.items()}
    xero_floor = max(
        max(0, math.ceil(c / options.xero_minute_limit) - 1) * 60.0 / args.time_scale
        for c in xero_calls_min.values()
    )
    floor = max(autotask_floor, xero_floor)

    def per_posted(calls: int) -> float:
        return calls / posted if posted else float("nan")

    def check(ok: bool) -> str:
        return "met" if ok else "MISSED"

    xero_rate, autotask_rate = per_posted(first.xero_calls), per_posted(first.autotask_calls)
    ratio = wall / floor if floor else float("inf")
    print(
        f"sync benchmark: {args.invoices} invoices, seed {args.seed},"
        f" time scale {args.time_scale:g}"
    )
    print(f"  invoices seen {first.invoices_seen}, posted {posted}, blocked {first.blocked}")
    print(f"  documents added in Xero: AU {added[au]}, UK {added[uk]}")
    print(f"  first cycle ok={first.ok} complete={first.complete} errors={len(first.errors)}")
    print(f"  Xero calls {first.xero_calls} ({first.xero_writes} writes)")
    print(
        f"  Xero calls per posted invoice     {xero_rate:8.4f}   target <= {TARGETS['xero']}"
        f"   {check(xero_rate <= TARGETS['xero'])}"
    )
    print(
        f"  Autotask calls per posted invoice {autotask_rate:8.4f}"
        f"   target <= {TARGETS['autotask']}   {check(autotask_rate <= TARGETS['autotask'])}"
    )
    print(f"  wall time {wall:.2f} s")
    print(
        f"  floor {floor:.2f} s (Autotask {autotask_floor:.2f} s: ceil({posted}/3) x"
        f" {per_request * 1000:.1f} ms + {latency_after:g} s added; Xero {xero_floor:.2f} s)"
    )
    print(
        f"  wall / floor {ratio:8.2f}   target <= {TARGETS['wall']}"
        f"   {check(ratio <= TARGETS['wall'])}"
    )
    print(
        f"  peak RSS {rss_mb:8.1f} MB   target <= {TARGETS['rss_mb']:g} MB"
        f"   {check(rss_mb <= TARGETS['rss_mb'])}"
    )
    print(
        f"  second cycle: Xero calls {second.xero_calls} ({second.xero_writes} writes),"
        f" Autotask calls {second.autotask_calls}, posted {second.posted}"
    )
    return 0


def autotask_probe_ids(world: Any) -> list[int]:
    return [int(i["id"]) for i in world.autotask["Invoices"]]


if __name__ == "__main__":
    raise SystemExit(main())
