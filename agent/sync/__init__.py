"""The sync cycle: poll Autotask -> snapshot into the outbox -> map -> post to Xero in batches ->
mark in Autotask (DESIGN.md, issue 3 §4). Start with ``SyncEngine``; ``agent_loop`` runs it on a
schedule (``atx agent``)."""

from agent.sync.backoff import DEFAULT_RETRY, RetryStrategy
from agent.sync.engine import CycleRunning, NoOrganisation, SyncEngine
from agent.sync.report import CycleReport

__all__ = [
    "DEFAULT_RETRY",
    "CycleReport",
    "CycleRunning",
    "NoOrganisation",
    "RetryStrategy",
    "SyncEngine",
]
