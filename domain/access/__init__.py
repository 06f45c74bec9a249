"""Access to sequestered charts: grants, break-glass, and the policy decision point.

`decide` is pure: the caller gathers `AccessFacts` (links as keyed hashes, never the
link itself) and `AccessApplication.facts_for` supplies grants and break-glass.
"""

from domain.access.application import AccessApplication, break_glass_fact, grant_fact
from domain.access.grants import AccessLedger, BreakGlass, Grant
from domain.access.policy import (
    AccessFacts,
    BreakGlassFact,
    Decision,
    GrantFact,
    GroupSpan,
    Principal,
    Target,
    check_purpose,
    decide,
)

__all__ = [
    "AccessApplication",
    "AccessFacts",
    "AccessLedger",
    "BreakGlass",
    "BreakGlassFact",
    "Decision",
    "Grant",
    "GrantFact",
    "GroupSpan",
    "Principal",
    "Target",
    "break_glass_fact",
    "check_purpose",
    "decide",
    "grant_fact",
]
