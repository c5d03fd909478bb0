"""The one error shape of the simulated Autotask: ``{"errors": ["..."]}``.

Autotask answers most refusals, including bad queries, unknown ids and permission problems, with
HTTP 500 and this body (reference §6, django-autotask ``api.py``).
"""

from __future__ import annotations

import json


class AutotaskError(Exception):
    def __init__(self, *messages: str, status: int = 500) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)
        self.status = status

    def body(self) -> dict[str, list[str]]:
        return {"errors": self.messages}


def error_body(status: int) -> bytes:
    """The body a fault of kind ``error`` answers with."""
    text = f"An unexpected error occurred while processing the request (HTTP {status})."
    return json.dumps({"errors": [text]}).encode()
