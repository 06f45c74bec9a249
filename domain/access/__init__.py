"""Access to sequestered charts: grants, break-glass, and the policy decision point.

`decide` is pure and never sees the staff↔client link: the caller gathers `AccessFacts`
(agreement, grants, break-glass). The link rules (`link_denial`) see `LinkFacts`, keyed
hashes only, for the Director's office's confirmation of grants and for break-glass.
"""

from domain.access.application import AccessApplication, break_glass_fact, grant_fact
from domain.access.grants import AccessLedger, BreakGlass, Grant
from domain.access.policy import (
    AccessFacts,
    BreakGlassFact,
    Decision,
    GrantFact,
    GroupSpan,
    LinkFacts,
    Principal,
    Target,
    check_purpose,
    decide,
    link_denial,
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
    "LinkFacts",
    "Principal",
    "Target",
    "break_glass_fact",
    "check_purpose",
    "decide",
    "grant_fact",
    "link_denial",
]
