"""Importing customer CSV files: reading a file into rows, then applying them, every change
audited."""
