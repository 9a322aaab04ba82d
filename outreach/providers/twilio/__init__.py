"""Twilio: paced SMS sending and lookups, error codes, status and inbound events, signatures."""
