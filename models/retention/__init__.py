"""Keeping data no longer than needed: stale profiles, sweep runs and decisions, erasure."""
