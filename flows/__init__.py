"""Prefect flows: thin wiring of models and outreach in batches (rounds, ladder, sweeps)."""
