"""Queue view benchmark (issue 4 §5): the TUI's live queue over 50,000 outbox rows.

It fills a fresh store with ``--rows`` outbox rows through the store's own API (as the agent
writes them: one event row each; a tenth of them pending or blocked), starts the real agent in a
process of its own on a temporary Unix socket (set-up incomplete, so it serves the API and runs no
sync cycle), and attaches the TUI headless (Textual's ``run_test``) at 120x40. The TUI only talks
to the agent's control API.

It measures:

- **first paint**: from starting the app to the queue's first page drawn, and from switching
  from the dashboard to a new queue screen to its first page drawn;
- **event -> row**: ``--updates`` rows visible on screen are skipped by another API client (as a
  second TUI or ``atx retry`` would). "event -> row on screen" runs from the ``queue`` event's
  arrival at the TUI to the row drawn with its new state (the 50 ms batching, the in-place cell
  update, a frame); "change -> event" is the agent's part (its outbox tailer polls every 0.2 s,
  then the SSE stream); "change -> row" is the whole.

Run: ``.venv/bin/python benchmarks/queue_bench.py [--rows 50000] [--updates 20]``

A benchmark, not a test: it prints figures with the targets beside them (first paint < 1 s,
update < 250 ms) and exits 0 either way.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from agent.config import Settings
from agent.control.runner import run_agent
from agent.store import Store
from tui.app import AtxApp
from tui.client import AgentEvent, ControlClient, ControlTarget
from tui.screens.queue import QueueScreen
from tui.widgets.queue_table import QueueTable

KEY = "benchmark key, not a secret"
CUSTOMERS = ("Humber Financial Planning plc", "Ōtautahi Design Ltd", "Parkside Financial",
             "Kookaburra Recruitment", "Ironbark Labs Pty Ltd")  # fmt: skip
STATES_AFTER = ("pending", "blocked")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(data_dir: Path, rows: int) -> float:
    started = time.perf_counter()
    store = Store.open(data_dir, secret_key=KEY)
    try:
        chunk = 2_000
        for first in range(0, rows, chunk):
            with store.outbox.batch():
                for n in range(first, min(rows, first + chunk)):
                    snapshot = {
                        "invoice": {"id": 100_000 + n, "invoiceNumber": str(10_000 + n),
                                    "invoiceTotal": round(100 + (n * 37.31) % 9_000, 2)},
                        "company": {"companyName": CUSTOMERS[n % len(CUSTOMERS)]},
                        "currency": {"name": "AUD"},
                    }  # fmt: skip
                    row = store.outbox.upsert_discovered("invoice", 100_000 + n, "", snapshot)
                    if n % 10 == 0:
                        store.outbox.transition(row.id, STATES_AFTER[n % 20 // 10], detail="bench")
    finally:
        store.close()
    return time.perf_counter() - started


class Arrivals:
    """When each ``queue`` event reached the TUI (monotonic), by outbox id."""

    def __init__(self, app: AtxApp) -> None:
        self.at: dict[int, float] = {}
        original = app._dispatch

        def dispatch(event: AgentEvent) -> None:
            if event.event == "queue" and event.data.get("id") is not None:
                self.at[int(event.data["id"])] = time.perf_counter()
            original(event)

        app._dispatch = dispatch  # type: ignore[method-assign]


async def frame(app: AtxApp) -> None:
    """Until the screen was drawn after what just changed."""
    done = asyncio.Event()
    app.call_after_refresh(done.set)
    await done.wait()


async def painted(app: AtxApp) -> None:
    """Until the queue screen shows rows and a frame was drawn with them."""
    while True:
        screen = app.screen
        tables = list(screen.query(QueueTable)) if isinstance(screen, QueueScreen) else []
        if tables and tables[0].row_count:
            break
        await asyncio.sleep(0.002)
    await frame(app)


async def measure(socket_path: Path, updates: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    client = ControlClient(ControlTarget(socket=socket_path))
    app = AtxApp(client, start_mode="queue")
    arrivals = Arrivals(app)
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        await painted(app)
        figures["first_paint_start"] = time.perf_counter() - started

        # dashboard -> queue, a second time (the queue screen is made anew)
        await pilot.press("d")
        await pilot.pause(0.3)
        await app.remove_mode("queue")  # so the queue screen is made anew
        app.add_mode("queue", QueueScreen)
        started = time.perf_counter()
        app.action_go("queue")  # what the q key does (pilot.press would wait for idle too)
        await painted(app)
        figures["first_paint_switch"] = time.perf_counter() - started
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        table = screen.query_one(QueueTable)
        figures["total"] = screen.total
        figures["loaded"] = table.row_count
        await pilot.pause(0.5)

        visible = [str(row.key.value) for row in table.ordered_rows[:30]]
        candidates = [k for k in visible if table.items[k]["state"] in ("discovered", "pending")]
        whole: list[float] = []
        tui_part: list[float] = []
        agent_part: list[float] = []
        # Another client changes the rows, as a second TUI or `atx retry` would.
        other = ControlClient(ControlTarget(socket=socket_path))
        for key in candidates[:updates]:
            changed = time.perf_counter()
            await other.skip(key, "bench")
            while table.items[key]["state"] != "skipped":
                await asyncio.sleep(0.001)
            await frame(app)
            shown = time.perf_counter()
            arrived = arrivals.at.get(int(key), shown)
            whole.append(shown - changed)
            agent_part.append(arrived - changed)
            tui_part.append(shown - arrived)
            await pilot.pause(0.05)
        await other.close()
        figures["whole"], figures["agent"], figures["tui"] = whole, agent_part, tui_part
    return figures


def agent_process(data_dir: str, sock: str, port: int) -> None:
    """``atx agent`` in a process of its own (set-up incomplete: it serves, it does not sync)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=Path(data_dir),
        secret_key=SecretStr(KEY),
        control_socket=Path(sock),
        oauth_listen=f"127.0.0.1:{port}",
    )
    run_agent(settings)


def start_agent(data_dir: Path, sock: Path) -> BaseProcess:
    process = multiprocessing.get_context("spawn").Process(
        target=agent_process, args=(str(data_dir), str(sock), free_port()), daemon=True
    )
    process.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=5) as http:
                if http.get("http://agent/health").status_code == 200:
                    return process
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline or not process.is_alive():
            raise SystemExit("the agent did not start")
        time.sleep(0.05)


def ms(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"median {statistics.median(values) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms,"
        f" max {max(values) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="atx-bench-", dir="/tmp"))
    try:
        data_dir = folder / "data"
        print(f"Filling the outbox with {args.rows:,} rows…", flush=True)
        took = fill(data_dir, args.rows)
        print(f"  done in {took:.1f} s", flush=True)
        agent = start_agent(data_dir, folder / "c.sock")
        try:
            figures = asyncio.run(measure(folder / "c.sock", args.updates))
        finally:
            agent.terminate()  # SIGTERM: the agent stops as it does in Docker
            agent.join(timeout=30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    first = figures["first_paint_start"]
    switch = figures["first_paint_switch"]
    tui_median = statistics.median(figures["tui"]) if figures["tui"] else float("nan")
    print()
    print(f"Queue view, {figures['total']:,} outbox rows; first page {figures['loaded']} rows;"
          f" 120x40, headless; {datetime.now(UTC):%Y-%m-%d}")  # fmt: skip
    print(f"  first paint from app start:     {first * 1000:6.0f} ms   (target < 1000 ms)"
          f"  {'met' if first < 1 else 'MISSED'}")  # fmt: skip
    print(f"  first paint, dashboard -> queue: {switch * 1000:5.0f} ms   (target < 1000 ms)"
          f"  {'met' if switch < 1 else 'MISSED'}")  # fmt: skip
    print(f"  event -> row on screen (TUI):   {ms(figures['tui'])}   (target < 250 ms)"
          f"  {'met' if tui_median < 0.25 else 'MISSED'}")  # fmt: skip
    print(f"  change -> event at the TUI:     {ms(figures['agent'])}")
    print(f"  change -> row on screen:        {ms(figures['whole'])}")
    print(f"  ({len(figures['tui'])} updates)")


if __name__ == "__main__":
    main()
