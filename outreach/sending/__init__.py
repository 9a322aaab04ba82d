"""Sending due steps exactly once: leases, the write-ahead record, claims, recording, and resolving
doubts."""
