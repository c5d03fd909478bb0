"""Simulated Autotask PSA and Xero, faithful to their documented behaviour, for demo and tests."""
