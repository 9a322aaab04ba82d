"""Consent with its notice: the versioned notice texts a customer answers, and their record."""
