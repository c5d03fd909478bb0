"""The agent's event bus (``GET /events``) and its recent log lines (``GET /logs``).

``EventBus`` numbers every event (1, 2, 3, ...) and keeps the last 10,000 in a ring, so a client
that reconnects with ``Last-Event-ID`` gets what it missed, or ``reset`` when that fell out of
the ring. Publishers are any thread (the sync loop, the API handlers, the connect pages, the
outbox tailer, logging); readers poll ``after(n)``, which never blocks on a publisher for long.

``QueueTailer`` turns the outbox's own audit trail (``outbox_events``, written in the same
transaction as each state change) into ``queue`` events: it follows the table every 0.2 s, so
every change is seen whichever code path made it, without hooks in the store.

``LogBuffer`` is a logging handler: the last 2,000 lines of the ``atx`` loggers, redacted with
``agent.logs.RedactSecrets`` (the configured secrets, bearer tokens, JWTs, ``secret=...``), each
one also published as a ``log`` event.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.logs import RedactSecrets

RING_SIZE = 10_000
LOG_LINES = 2_000

log = logging.getLogger("atx.control")


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    name: str
    data: Any


class EventBus:
    def __init__(self, size: int = RING_SIZE) -> None:
        self._ring: deque[Event] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._last = 0

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._last

    def publish(self, name: str, data: Any) -> int:
        """Add one event; returns its id. Never logs (a log line is itself an event)."""
        with self._lock:
            self._last += 1
            self._ring.append(Event(self._last, name, data))
            self._changed.notify_all()
            return self._last

    def after(self, last_id: int) -> tuple[list[Event], bool]:
        """Events after ``last_id`` and whether some were lost (``last_id`` fell out of the
        ring, or is from another run of the agent: higher than any id given so far)."""
        with self._lock:
            if last_id > self._last:
                return [], True
            if not self._ring:
                return [], False
            oldest = self._ring[0].id
            lost = last_id < oldest - 1
            if last_id >= self._last:
                return [], False
            start = max(last_id - oldest + 1, 0)
            return [self._ring[i] for i in range(start, len(self._ring))], lost

    def wait(self, last_id: int, timeout: float) -> bool:
        """Block until an event after ``last_id`` exists (True) or ``timeout`` passes."""
        with self._changed:
            return self._changed.wait_for(lambda: self._last > last_id, timeout)


# -- the outbox tailer -----------------------------------------------------------------------


class QueueTailer:
    """Publishes a ``queue`` event per outbox row changed since the last look (every 0.2 s)."""

    name = "queue events"

    def __init__(
        self,
        last_event_id: Callable[[], int],
        events_after: Callable[[int], Iterable[tuple[int, int]]],
        publish_rows: Callable[[list[int]], None],
        *,
        interval: float = 0.2,
    ) -> None:
        self._last_event_id = last_event_id
        self._events_after = events_after
        self._publish_rows = publish_rows
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = 0

    def start(self) -> None:
        self._seen = self._last_event_id()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="atx-queue-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poll(self) -> int:
        """One look at the trail; returns how many rows were published."""
        rows: dict[int, None] = {}
        for event_id, outbox_id in self._events_after(self._seen):
            self._seen = max(self._seen, event_id)
            rows[outbox_id] = None
        if rows:
            self._publish_rows(list(rows))
        return len(rows)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # the store closing under us at shutdown, say
                if self._stop.is_set():
                    return
                log.warning("queue events: %s: %s", type(exc).__name__, exc)


# -- log lines -------------------------------------------------------------------------------


class LogBuffer(logging.Handler):
    """The agent's recent log lines, redacted, for ``/logs`` and ``log`` events."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        *,
        size: int = LOG_LINES,
        publish: Callable[[str, Any], int] | None = None,
    ) -> None:
        super().__init__(logging.DEBUG)
        self.set_name("atx-control-logs")
        self.redactor = RedactSecrets(secrets)
        self.lines: deque[dict[str, Any]] = deque(maxlen=size)
        self._next = 0
        self._lines_lock = threading.Lock()
        self.publish = publish

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Secrets entered at run time (through the API) are masked from then on too, here and
        by the redaction filters of the ``atx`` logger's other handlers (stdout)."""
        wanted = [s for s in secrets if s and len(s) >= 4]
        redactors = [self.redactor]
        for handler in logging.getLogger("atx").handlers:
            redactors += [f for f in handler.filters if isinstance(f, RedactSecrets)]
        for redactor in redactors:
            known = set(redactor.secrets) | set(wanted)
            redactor.secrets = sorted(known, key=len, reverse=True)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                message = f"{message} ({type(exc).__name__}: {exc})"
            text = " ".join(self.redactor.redact(message).split())
            with self._lines_lock:
                self._next += 1
                line = {
                    "id": self._next,
                    "at": datetime.fromtimestamp(record.created, UTC).isoformat(
                        timespec="milliseconds"
                    ),
                    "level": record.levelname,
                    "logger": record.name,
                    "message": text,
                }
                self.lines.append(line)
            if self.publish is not None:
                self.publish("log", line)
        except Exception:  # a log handler never raises into the code that logs
            self.handleError(record)

    def recent(
        self, *, level: str | None = None, text: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Newest last; ``level`` is a minimum (INFO shows INFO, WARNING, ERROR)."""
        floor = logging.getLevelName(level.upper()) if level else logging.NOTSET
        if not isinstance(floor, int):
            floor = logging.NOTSET
        needle = (text or "").lower()
        with self._lines_lock:
            lines = list(self.lines)
        chosen = [
            line
            for line in lines
            if logging.getLevelName(line["level"]) >= floor
            and (not needle or needle in line["message"].lower() or needle in line["logger"])
        ]
        return chosen[-limit:] if limit > 0 else []

    def install(self, logger_name: str = "atx") -> None:
        logger = logging.getLogger(logger_name)
        for old in [h for h in logger.handlers if h.get_name() == self.get_name()]:
            logger.removeHandler(old)
        logger.addHandler(self)
        if logger.level == logging.NOTSET:
            # The buffer wants INFO lines even when nothing else configured the logger.
            logger.setLevel(logging.INFO)

    def uninstall(self, logger_name: str = "atx") -> None:
        logging.getLogger(logger_name).removeHandler(self)
