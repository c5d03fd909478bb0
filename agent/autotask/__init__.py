"""Autotask PSA REST client: zone discovery, queries and paging, limits, typed records."""

from agent.autotask.budget import BudgetPolicy, BudgetStatus
from agent.autotask.client import AutotaskClient
from agent.autotask.errors import (
    AutotaskApiError,
    AutotaskAuthError,
    AutotaskBudgetExhausted,
    AutotaskConfigError,
    AutotaskError,
    AutotaskNetworkError,
    AutotaskUnsafeUrl,
    AutotaskWriteNotApplied,
)
from agent.autotask.invoice_update import UNSET
from agent.autotask.retry import RetryPolicy

__all__ = [
    "UNSET",
    "AutotaskApiError",
    "AutotaskAuthError",
    "AutotaskBudgetExhausted",
    "AutotaskClient",
    "AutotaskConfigError",
    "AutotaskError",
    "AutotaskNetworkError",
    "AutotaskUnsafeUrl",
    "AutotaskWriteNotApplied",
    "BudgetPolicy",
    "BudgetStatus",
    "RetryPolicy",
]
