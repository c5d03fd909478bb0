"""The sandbox: one world, one clock, fault plans, and the two simulated services built on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan
from sandbox.world import World

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from sandbox.autotask.service import AutotaskService
    from sandbox.xero.service import XeroService


@dataclass
class SandboxOptions:
    # Check every request body against the official API descriptions and reject unknown or
    # misspelled fields with a 400 naming them (the real services often ignore them silently).
    strict_requests: bool = True
    # Real seconds every API request of either service takes before it is answered: the network
    # and the hosted service's own work, which the simulation otherwise answers in about a
    # millisecond. 0 (tests); benchmarks set it. Held inside the service's concurrency limits.
    round_trip: float = 0.0
    # Autotask's extra latency once the hourly budget passes 50% / 75% (real seconds added).
    latency: bool = False
    latency_at_half: float = 0.5
    latency_at_three_quarters: float = 1.0
    autotask_hourly_budget: int = 10_000
    autotask_threads_per_endpoint: int = 3
    xero_minute_limit: int = 60
    xero_concurrent_limit: int = 5
    xero_day_limit: int | None = None  # None: by the organisation's tier (1,000 or 5,000)
    xero_app_minute_limit: int = 10_000
    xero_access_token_seconds: int = 1800
    xero_idempotency_seconds: int = 360


class Sandbox:
    def __init__(
        self,
        world: World,
        *,
        clock: SandboxClock | None = None,
        options: SandboxOptions | None = None,
    ) -> None:
        from sandbox.autotask.service import AutotaskService
        from sandbox.xero.service import XeroService

        self.world = world
        self.clock = clock or SandboxClock()
        self.options = options or SandboxOptions()
        self.autotask_faults = FaultPlan()
        self.xero_faults = FaultPlan()
        self.autotask: AutotaskService = AutotaskService(world, self.clock, self.options)
        self.xero: XeroService = XeroService(world, self.clock, self.options)

    def autotask_app(self) -> ASGIApp:
        from sandbox.autotask.app import create_app

        return create_app(self)

    def xero_app(self) -> ASGIApp:
        from sandbox.xero.app import create_app

        return create_app(self)
