"""SendGrid: Mail Send batching and sending, template safety, suppressions, events and
signatures."""
