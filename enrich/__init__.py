"""Enrich: entry points (CLI, web app) and settings."""
