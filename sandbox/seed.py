"""Deterministic generator of a realistic MSP world (placeholder until written)."""

from __future__ import annotations

from sandbox.world import World


def generate(invoices: int = 50, *, seed: int = 1) -> World:
    return World()
