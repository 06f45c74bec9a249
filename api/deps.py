"""Dependencies: the system, the verified principal, role checks (token → principal → permission).

`Bearer` verifies the token, then settles the roles it claims against the staff record
(`domain.staff.authority`: effective roles are the token's roles that the record also
holds, for a member on staff today) and checks the route's roles. The staff record is
read from the log on every request (one query; decoded copies are reused but never
trusted past the log), so a separation or a role change counts on the next request.

A chart read settles the roles in its own batched decision query instead
(`BearerClaims` → `domain.access.facts.ChartAsk.roles_needed`): the hot path gets no
query of its own.

Verifying runs on the event loop when its keys are at hand (a JWKS file, or keys
already fetched), and in the thread pool only when it must fetch keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBearer

from api.audit import this_request
from api.auth import AuthenticationFailed, Claimed, Principal, TokenVerifier
from api.jwks import FetchNeeded
from api.reads import AuditedReads
from domain.errors import PermissionDenied
from domain.staff.authority import effective_roles, require_one_of
from ops.bootstrap import System


class BearerClaims(HTTPBearer):
    """What the request's verified bearer token claims, roles not yet settled; told to
    its audit record (the principal; its roles once settled)."""

    def __init__(self, roles: frozenset[str] | None = None) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer",
                         description="A JWT from the identity provider")
        self.roles = roles

    async def __call__(self, request: Request) -> Claimed:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise AuthenticationFailed("a bearer token is required", "missing")
        verifier: TokenVerifier = request.app.state.verifier
        try:
            claimed = verifier.verify(credentials.credentials, may_fetch=False)
        except FetchNeeded:
            claimed = await run_in_threadpool(verifier.verify, credentials.credentials)
        this_request().principal = claimed.staff_id
        return claimed


class Bearer(BearerClaims):
    """The request's principal with its effective roles; with `roles`, only a principal
    holding one of them (default deny)."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        claimed = await super().__call__(request)
        system: System = request.app.state.system
        audit = this_request()
        try:
            principal = await run_in_threadpool(settle, system, claimed)
            audit.roles = sorted(principal.roles)
            if self.roles is not None:
                require_one_of(principal.roles, self.roles)
        except PermissionDenied as e:
            audit.rule = e.rule
            raise
        return principal


def settle(system: System, claimed: Claimed) -> Principal:
    """The claimed roles that the staff record, as the log holds it now, also holds."""
    member = system.staff.current(claimed.staff_id)
    today = datetime.now(UTC).date()
    return Principal(claimed.staff_id, effective_roles(claimed.staff_id, claimed.roles,
                                                       member, today))


async def get_system(request: Request) -> System:
    system: System = request.app.state.system
    return system


def reads_of(request: Request) -> AuditedReads:
    """The app's audited reads (a plain function: a dependency would cost CPU per read)."""
    reads: AuditedReads = request.app.state.reads
    return reads


SystemDep = Annotated[System, Depends(get_system)]
PrincipalDep = Annotated[Principal, Depends(Bearer())]


def require(*roles: str) -> Bearer:
    """A dependency that admits principals holding any of `roles` (default deny)."""
    return Bearer(frozenset(roles))


def claims_for(*roles: str) -> BearerClaims:
    """The token's claims, for a route that settles them itself and needs one of `roles`."""
    return BearerClaims(frozenset(roles))
