"""Enrichment rounds: which profiles are selected, their enrollment, completion, exhaustion and
status."""
