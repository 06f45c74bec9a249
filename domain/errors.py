"""One hierarchy for every error the domain raises.

Each error names what was wrong in words a user can act on. None carries a legal
name, note text or key: messages name ids, pseudonyms, fields and rules only.
"""

from __future__ import annotations


class SequesterError(Exception):
    """Base of every error sequester raises on purpose."""

    kind = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(SequesterError):
    """A field is missing, malformed or out of range."""

    kind = "InvalidInput"


class OutOfRange(InvalidInput):
    """A value (a date, a duration) outside the plausible bounds; the detail names the bound."""

    kind = "OutOfRange"


class RuleViolation(SequesterError):
    """A command breaks a rule of the agency's policy; `rule` names it."""

    kind = "RuleViolation"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


class OutOfOrder(SequesterError):
    """A workflow step was taken before the steps it depends on."""

    kind = "OutOfOrder"


class NotFound(SequesterError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    kind = "NotFound"


class AlreadyExists(SequesterError):
    """A create would duplicate something that already exists."""

    kind = "AlreadyExists"


class ConcurrencyConflict(SequesterError):
    """Another writer changed the same record first; reload and retry."""

    kind = "Conflict"


class AlreadyApplied(SequesterError):
    """A retried write: its idempotency key names a write that already committed."""

    kind = "AlreadyApplied"


class PermissionDenied(SequesterError):
    """The caller's role or the access policy forbids this action."""

    kind = "Forbidden"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


class LinkRefusal(PermissionDenied):
    """Refused by a rule that rests on the staff↔client link (the Director's office's
    secret). Anyone outside the Director's office is shown `public_rule` and
    `public_detail` only; the precise rule and detail are for the Director's office
    and its sealed audit note."""

    public_rule = "sequestration"
    public_detail = (
        "Denied: this is not permitted under the agency's sequestration policy; the "
        "Director's office can review the decision."
    )


class DataShredded(SequesterError):
    """The data subject's keys were destroyed: the record can no longer be read."""

    kind = "Shredded"


class KeyUnavailable(SequesterError):
    """Key material needed to read or write a record is missing or wrong."""

    kind = "KeyUnavailable"


class TamperDetected(SequesterError):
    """A stored record failed authentication: it was altered or moved."""

    kind = "TamperDetected"


class Unavailable(SequesterError):
    """A dependency (database, read models) is not available in time; retry shortly."""

    kind = "Unavailable"
