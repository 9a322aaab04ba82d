"""Messages as the steward and auditor see them: the outreach report and the unsettled ones."""
