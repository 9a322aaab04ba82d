"""The audit trail as an auditor uses it: read per profile, sealed into a hash chain, verified."""
