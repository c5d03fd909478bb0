"""State and behaviour of the simulated Autotask (placeholder until written)."""

from __future__ import annotations

from sandbox.clock import SandboxClock
from sandbox.core import SandboxOptions
from sandbox.world import World


class AutotaskService:
    def __init__(self, world: World, clock: SandboxClock, options: SandboxOptions) -> None:
        self.world = world
        self.clock = clock
        self.options = options
