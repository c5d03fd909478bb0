"""Simulated Autotask."""
