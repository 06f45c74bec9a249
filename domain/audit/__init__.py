"""The audit context: tamper evidence for the event log (RFC 6962 / RFC 9162 Merkle trees)."""
