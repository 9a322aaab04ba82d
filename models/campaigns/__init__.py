"""Campaigns: the YAML spec (gaps, ladder, purposes), its stored versions, and the ladder rule."""
