"""Sync benchmark (issue 3 §6): one cycle over a seeded MSP against the sandbox, then a second.

The sandbox runs in a process of its own (so the figures are the agent's, not the simulation's)
with Autotask's added latency switched on, the real limits (10,000 Autotask requests an hour, 3
in flight per endpoint; Xero 60 calls a minute and 5 in flight per organisation) and a shrunk
time scale, so a sandbox minute lasts ``60 / time-scale`` real seconds. The clients read a copy
of the sandbox clock and sleep in real time for the scaled span, so a limit costs what it would
in production, shrunk by the time scale.

Run: ``.venv/bin/python benchmarks/sync_bench.py [--invoices 2000] [--time-scale 60]``

This is a benchmark, not a test: it prints what it measured, targets beside the figures, and
exits 0 whether or not a target is met.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import itertools
import math
import multiprocessing
import resource
import secrets
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from agent.autotask import AutotaskClient
from agent.autotask.records import Invoice
from agent.config import Settings
from agent.memory import ARENAS, limit_malloc_arenas
from agent.store import Store
from agent.sync import SyncEngine
from agent.xero import XeroClient
from sandbox import seed_catalog as cat
from sandbox.admin import PAY_PATH
from sandbox.clock import SandboxClock
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
PAYMENTS = 100  # invoices paid in Xero before the fourth cycle (payments back)
PROBES = 30  # sequential requests timed for the per-request figure
# What every request to either service takes on the wire and in the hosted service, on top of
# the simulation's own time (about 2 ms on loopback). See benchmarks/README.md for the choice.
DEFAULT_ROUND_TRIP_MS = 40.0
TARGETS = {"xero": 0.05, "autotask": 1.1, "wall": 1.25, "rss_mb": 150.0}

Urls = Mapping[str, str]


# -- the sandbox: each service in a process of its own ------------------------------------------


def serve_sandbox(
    service: str,
    invoices: int,
    seed_value: int,
    time_scale: float,
    round_trip: float,
    ready: Any,
) -> None:
    """A child process: seed the world (the same in both children: the seed decides it), then
    serve ``service`` until terminated. Sends its base URL and the Xero minute limit through
    ``ready`` once listening."""
    from sandbox import seed
    from sandbox.core import Sandbox, SandboxOptions
    from sandbox.server import serve_service

    world = seed.generate(invoices, seed=seed_value, today=START.date())
    options = SandboxOptions(latency=True, round_trip=round_trip)
    sandbox = Sandbox(world, clock=SandboxClock(scale=time_scale, start=START), options=options)

    def on_ready(url: str) -> None:
        ready.send({"url": url, "xero_minute_limit": options.xero_minute_limit})
        ready.close()

    serve_service(
        sandbox,
        "autotask" if service == "autotask" else "xero",
        log_level="error",
        on_ready=on_ready,
    )


@contextlib.contextmanager
def sandbox_processes(
    invoices: int, seed_value: int, time_scale: float, round_trip: float
) -> Iterator[Urls]:
    """Autotask and Xero, each in a process of its own: a single simulation would make one
    service wait while the other works (one event loop, one GIL), which the real ones do not.
    Spawned, not forked, so this process (the agent's) holds none of their memory."""
    context = multiprocessing.get_context("spawn")
    children, answers = [], {}
    try:
        for service in ("autotask", "xero"):
            receive, send = context.Pipe(duplex=False)
            child = context.Process(
                target=serve_sandbox,
                args=(service, invoices, seed_value, time_scale, round_trip, send),
                name=f"atx-bench-{service}",
                daemon=True,
            )
            child.start()
            send.close()
            children.append((service, child, receive))
        for service, _child, receive in children:
            if not receive.poll(600):
                raise RuntimeError(f"the {service} sandbox did not start within 10 minutes")
            answers[service] = receive.recv()
        autotask, xero = answers["autotask"]["url"], answers["xero"]["url"]
        align_clocks(autotask, xero)
        yield {
            "autotask": autotask,
            "autotask_zone_lookup_url": autotask + "/atservicesrest/",
            "xero_api_url": xero,
            "xero_identity_url": xero,
            "xero_login_url": xero,
            "xero_minute_limit": str(answers["xero"]["xero_minute_limit"]),
        }
    finally:
        for _service, child, _receive in children:
            child.terminate()
        for _service, child, _receive in children:
            child.join(15)
            if child.is_alive():
                child.kill()
                child.join(5)


def clock_seconds(base: str) -> float:
    answer = httpx.get(base + "/_sandbox/clock", timeout=10).json()
    return (datetime.fromisoformat(answer["now"]) - START).total_seconds()


def align_clocks(first: str, second: str) -> None:
    """Both children started their clocks at START when they began serving, a moment apart:
    move the one behind forward, so both services share one sandbox time."""
    gap = clock_seconds(first) - clock_seconds(second)
    behind = second if gap > 0 else first
    httpx.post(behind + "/_sandbox/clock", json={"advance": abs(gap)}, timeout=10)


def pay(urls: Urls, tenant_id: str, invoice_id: str, amount: str | None, day: str) -> None:
    """A payment entered in Xero (the sandbox's admin route), the invoice approved first."""
    body = {"tenant_id": tenant_id, "invoice_id": invoice_id, "amount": amount, "date": day,
            "approve": True}  # fmt: skip
    answer = httpx.post(urls["xero_api_url"] + PAY_PATH, json=body, timeout=30)
    answer.raise_for_status()


def sandbox_state(urls: Urls) -> dict[str, Any]:
    """Autotask's budget from the Autotask process, the documents from the Xero process."""
    autotask = httpx.get(urls["autotask"] + "/_sandbox/state", timeout=30)
    xero = httpx.get(urls["xero_api_url"] + "/_sandbox/state", timeout=30)
    autotask.raise_for_status()
    xero.raise_for_status()
    return {"autotask": autotask.json()["autotask"], "xero": xero.json()["xero"]}


def documents(state: Mapping[str, Any]) -> dict[str, int]:
    orgs = state["xero"]["organisations"]
    return {o["tenant_id"]: int(o["invoices"]) + int(o["credit_notes"]) for o in orgs}


def local_clock(urls: Urls) -> SandboxClock:
    """A copy of the sandbox's clock in this process, read over HTTP (off by a loopback
    round trip at most)."""
    answer = httpx.get(urls["xero_api_url"] + "/_sandbox/clock", timeout=10).json()
    return SandboxClock(scale=float(answer["scale"]), start=datetime.fromisoformat(answer["now"]))


# -- the agent, in this process ------------------------------------------------------------------


def settings_for(urls: Urls, data_dir: Path) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "autotask_username": SANDBOX_AUTOTASK_USERNAME,
        "autotask_secret": SANDBOX_AUTOTASK_SECRET,
        "autotask_integration_code": SANDBOX_AUTOTASK_INTEGRATION_CODE,
        "autotask_zone_lookup_url": urls["autotask_zone_lookup_url"],
        "xero_client_id": SANDBOX_XERO_PKCE_CLIENT_ID,
        "xero_auth_mode": "pkce",
        "xero_api_url": urls["xero_api_url"],
        "xero_identity_url": urls["xero_identity_url"],
        "xero_login_url": urls["xero_login_url"],
        "secret_key": KEY,
        "invoice_number_prefix": "AT-",
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def connect_both(urls: Urls, xero: XeroClient) -> list[str]:
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
        answer = http.get(urls["xero_login_url"] + "/identity/connect/authorize", params=params)
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


def request_seconds(autotask: AutotaskClient) -> tuple[float, float]:
    """Median real time of one Autotask PATCH and of one read by id, one at a time, on this
    machine, through the agent's own client. The PATCH writes back the ``webServiceDate`` a
    marked invoice already has, so it changes nothing."""
    marked = list(
        itertools.islice(
            autotask.records(
                Invoice,
                [{"op": "exist", "field": "webServiceDate"}],
                include_fields=["webServiceDate"],
                page_size=PROBES,
            ),
            PROBES,
        )
    )
    patches, reads = [], []
    for invoice in marked:
        began = time.perf_counter()
        autotask.patch_invoice(invoice.id, web_service_date=invoice.webServiceDate)
        patches.append(time.perf_counter() - began)
        began = time.perf_counter()
        autotask.get("Invoices", invoice.id)
        reads.append(time.perf_counter() - began)
    if not patches:
        return 0.0, 0.0
    return statistics.median(patches), statistics.median(reads)


def parallel_patch_seconds(autotask: AutotaskClient, rounds: int = PROBES) -> float:
    """Real time per round of 3 PATCHes in flight (Autotask's limit), with nothing else running:
    what this machine allows for the PATCHes alone. Not the floor (which takes a PATCH's own
    time), only a diagnostic: the sandbox and the client are Python processes, so 3 requests at
    once queue for their CPU work where the real service would serve them side by side."""
    marked = list(
        itertools.islice(
            autotask.records(
                Invoice,
                [{"op": "exist", "field": "webServiceDate"}],
                include_fields=["webServiceDate"],
                page_size=PROBES,
            ),
            PROBES,
        )
    )
    if not marked:
        return 0.0
    work = [marked[i % len(marked)] for i in range(3 * rounds)]
    began = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        list(
            pool.map(
                lambda i: autotask.patch_invoice(i.id, web_service_date=i.webServiceDate), work
            )
        )
    return (time.perf_counter() - began) / rounds


def rss_mb() -> float:
    """Peak resident set of this process (the agent's), in MB: ru_maxrss is KB on Linux."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--round-trip-ms",
        type=float,
        default=DEFAULT_ROUND_TRIP_MS,
        help="real milliseconds every sandbox request takes before it is answered",
    )
    parser.add_argument(
        "--all-arenas",
        action="store_true",
        help="leave glibc's malloc arenas unlimited (atx agent limits them to 2: agent/memory.py)",
    )
    args = parser.parse_args(argv)
    arenas = "unlimited" if args.all_arenas else f"{ARENAS} (as atx agent)"
    if not args.all_arenas:
        limit_malloc_arenas()

    with (
        tempfile.TemporaryDirectory(prefix="atx-bench-") as tmp,
        sandbox_processes(
            args.invoices, args.seed, args.time_scale, args.round_trip_ms / 1000
        ) as urls,
        contextlib.ExitStack() as opened,
    ):
        clock = local_clock(urls)

        def sleep(sandbox_seconds: float) -> None:
            time.sleep(clock.to_real(max(0.0, sandbox_seconds)))

        settings = settings_for(urls, Path(tmp) / "data")
        store = Store.open(settings.data_dir, secret_key=KEY, now=clock.now)
        opened.callback(store.close)
        autotask = AutotaskClient.from_settings(settings, sleep=sleep, clock=clock.seconds)
        opened.callback(autotask.close)
        xero = XeroClient(settings, store, now=clock.now, sleep=sleep, clock=clock.seconds)
        opened.callback(xero.close)
        connect_both(urls, xero)
        # The seed's organisations in order: Australia first, then the United Kingdom.
        orgs = sandbox_state(urls)["xero"]["organisations"]
        au, uk = orgs[0]["tenant_id"], orgs[1]["tenant_id"]
        set_mappings(store, au, uk)
        engine = SyncEngine(settings, store, autotask, xero, now=clock.now)

        rss_start = rss_mb()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        before = documents(sandbox_state(urls))
        began = time.perf_counter()
        first = engine.run_cycle()
        wall = time.perf_counter() - began
        rss_first = rss_mb()
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        after = sandbox_state(urls)
        added = {t: n - before.get(t, 0) for t, n in documents(after).items()}
        latency_after = float(after["autotask"]["added_latency_seconds"])
        used_share = after["autotask"]["requests_in_window"] / after["autotask"]["hourly_budget"]
        second = engine.run_cycle()
        # A third cycle with nothing to do: what payments back costs (its Xero reads counted).
        payment_calls: Counter[str] = Counter()
        gateway_call = engine.xero.gateway.call

        def counting_call(tenant_id: str, operation: str, **kwargs: Any) -> Any:
            if operation in ("get_payments", "get_credit_notes", "get_invoices"):
                payment_calls[operation] += 1
            return gateway_call(tenant_id, operation, **kwargs)

        engine.xero.gateway.call = counting_call  # type: ignore[method-assign]
        third = engine.run_cycle()
        engine.xero.gateway.call = gateway_call  # type: ignore[method-assign]
        # A fourth cycle after customers paid: PAYMENTS invoices approved and paid in Xero,
        # most in full, the rest in part; what sending them back costs per payment.
        done = [r for r in store.outbox.list_rows(states=["done"], kind="invoice",
                                                  limit=100_000) if r.xero_id]  # fmt: skip
        full = min(len(done), PAYMENTS) * 3 // 5
        paid_rows = done[:PAYMENTS]
        for index, row in enumerate(paid_rows):
            pay(urls, row.org, str(row.xero_id), None if index < full else "1.00",
                clock.now().date().isoformat())  # fmt: skip
        fourth = engine.run_cycle()
        # Purchase orders switched on: the seed's orders at the trigger status, then a cycle
        # with nothing new (what following them costs: their items are read each cycle).
        store.settings.set("sync_purchase_orders", True)
        store.settings.set("po_cogs_account", "310")
        store.settings.set("po_freight_account", "425")
        fifth = engine.run_cycle()
        before_sixth = dict(engine.autotask.calls_made)
        sixth = engine.run_cycle()
        sixth_calls = {
            e: n - before_sixth.get(e, 0)
            for e, n in engine.autotask.calls_made.items()
            if n != before_sixth.get(e, 0)
        }
        per_patch, per_read = request_seconds(autotask)
        per_round = parallel_patch_seconds(autotask)
        minute_limit = int(urls["xero_minute_limit"])

    posted = first.posted
    # The floor the limits allow, in real seconds; the slower of the two services sets it.
    # - Autotask: each posted invoice needs one PATCH, at most 3 in flight per endpoint, each
    #   taking the sandbox's per-request time (the measured round trip of one PATCH, sent alone,
    #   plus the latency the sandbox adds at the usage reached, 0 below half the hourly budget):
    #   ceil(posted / 3) x per-request seconds. Reading the invoices is not counted at all.
    # - Xero: per organisation, at least ceil(documents / 50) batched PUTs, at 60 calls a minute;
    #   the first 60 go at once, each further 60 wait a sandbox minute, converted to real
    #   seconds by the time scale: max(0, ceil(calls / 60) - 1) x 60 / time-scale.
    autotask_floor = math.ceil(posted / 3) * (per_patch + latency_after)
    xero_calls_min = {t: math.ceil(n / XERO_DOCS_PER_CALL) for t, n in added.items()}
    xero_floor = max(
        (
            max(0, math.ceil(c / minute_limit) - 1) * 60.0 / args.time_scale
            for c in xero_calls_min.values()
        ),
        default=0.0,
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
        f" time scale {args.time_scale:g}, round trip {args.round_trip_ms:g} ms"
        f" (sandbox in processes of their own); malloc arenas {arenas}"
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
    print(f"  Autotask hourly budget used after the cycle {used_share:.1%}")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(f"  wall time {wall:.2f} s (the agent's CPU time {cpu:.1f} s, all its threads)")
    print(
        f"  floor {floor:.2f} s (Autotask {autotask_floor:.2f} s: ceil({posted}/3) x"
        f" {per_patch * 1000:.1f} ms per PATCH + {latency_after:g} s added; Xero"
        f" {xero_floor:.2f} s); one read by id takes {per_read * 1000:.1f} ms"
    )
    print(
        f"  wall / floor {ratio:8.2f}   target <= {TARGETS['wall']}"
        f"   {check(ratio <= TARGETS['wall'])}"
    )
    alone = math.ceil(posted / 3) * (per_round + latency_after)
    print(
        f"  diagnostic, not the floor: 3 PATCHes in flight with nothing else running take"
        f" {per_round * 1000:.1f} ms a round here, so the PATCHes alone would take {alone:.2f} s"
        f" (wall / that {wall / alone if alone else float('inf'):.2f})"
    )
    print(
        f"  peak RSS of the agent's process {rss_first:8.1f} MB   target <="
        f" {TARGETS['rss_mb']:g} MB   {check(rss_first <= TARGETS['rss_mb'])}"
        f"   ({rss_start:.1f} MB before the cycle)"
    )
    print(
        f"  second cycle: Xero calls {second.xero_calls} ({second.xero_writes} writes),"
        f" Autotask calls {second.autotask_calls}, posted {second.posted}"
    )
    print(
        f"  payments: Xero calls per cycle with nothing to do {sum(payment_calls.values())}"
        f" for 2 organisations ({dict(payment_calls)}); the whole cycle: Xero"
        f" {third.xero_calls}, Autotask {third.autotask_calls}"
    )
    payments = len(paid_rows)
    print(
        f"  payments back: {payments} payments entered in Xero ({full} in full, the rest in"
        f" part); the next cycle: Xero calls {fourth.xero_calls}"
        f" ({fourth.xero_calls / payments:.3f} per payment), Autotask calls"
        f" {fourth.autotask_calls} ({fourth.autotask_calls / payments:.3f} per payment);"
        f" paidDates set {fourth.paid_dates_set}, part paid {fourth.part_paid}"
    )
    orders = fifth.po_created
    print(
        f"  purchase orders: {orders} created in one cycle with Xero calls {fifth.xero_calls}"
        f" ({fifth.xero_writes} writes) and Autotask calls {fifth.autotask_calls}"
        f" ({fifth.autotask_calls / max(orders, 1):.3f} per order, the invoice poll included);"
        f" the next cycle with nothing new: Xero {sixth.xero_calls}, Autotask"
        f" {sixth.autotask_calls} ({sixth_calls})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
