"""Logging for the agent: one line per event on stdout, text or JSON (``ATX_LOG_FORMAT``), at
``ATX_LOG_LEVEL``.

No part of the agent logs a token or secret on purpose; ``RedactSecrets`` is the last line of
defence against one slipping through an exception text: it masks the configured secret values,
``Bearer`` tokens, JWTs, and ``access_token`` / ``refresh_token`` / ``client_secret`` / ``secret``
/ ``password`` values, and folds every record to a single line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from agent.config import SECRET_FIELDS, Settings

MASK = "********"
HANDLER_NAME = "atx-stdout"
_PATTERNS = (
    # Authorization: Bearer <token>
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    # A JWT (three base64url parts, the first one a JSON header)
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    # key=value, key: value, "key": "value" for secret-looking keys
    re.compile(
        r"(?i)(\"?\b(?:access_token|refresh_token|id_token|client_secret|code_verifier|secret"
        r"|password|apiintegrationcode|integration_code|secret_key|token)\b\"?\s*[:=]\s*\"?)"
        r"[^\s\"',;&}]{4,}"
    ),
)


class RedactSecrets(logging.Filter):
    """Masks secrets in the formatted message (and in exception text) of every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # A traceback is many lines and may quote secrets: keep its last line only.
            exc = record.exc_info[1]
            message = f"{message} ({type(exc).__name__}: {exc})"
            record.exc_info = None
            record.exc_text = None
        record.msg = " ".join(self.redact(message).split())
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def secret_values(settings: Settings) -> list[str]:
    found = []
    for name in SECRET_FIELDS:
        value = getattr(settings, name, None)
        if value is not None:
            found.append(value.get_secret_value())
    return found


def setup_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Send the ``atx`` loggers to stdout (replacing an earlier setup); returns the handler."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(HANDLER_NAME)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%SZ")
        formatter.converter = time.gmtime  # UTC, like every time the agent stores
        handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets(secret_values(settings)))
    logger = logging.getLogger("atx")
    for old in [h for h in logger.handlers if h.get_name() == HANDLER_NAME]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(settings.log_level)
    # The agent's own lines only: the libraries' loggers stay quiet unless they warn.
    logger.propagate = False
    return handler
