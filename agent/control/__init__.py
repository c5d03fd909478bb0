"""The control API (HTTP+JSON on a Unix socket, SSE events) and the Xero connect pages.

See docs/control-api.md.
"""

from agent.control.connect import (
    ConnectError,
    ConnectFlows,
    ConnectNotConfigured,
    FlowFinished,
    UnknownFlow,
)

__all__ = [
    "ConnectError",
    "ConnectFlows",
    "ConnectNotConfigured",
    "FlowFinished",
    "UnknownFlow",
]
