"""Dependencies: the system, the verified principal, role checks (token → principal → permission).

They are `async def` because they do no I/O (keys from a JWKS file are in memory): a
plain `def` dependency costs a thread-pool hop each, on every request. A verifier that
fetches keys from a JWKS URL runs in the pool, since a fetch blocks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.audit import this_request
from api.auth import AuthenticationFailed, Principal, TokenVerifier
from api.reads import AuditedReads
from domain.errors import PermissionDenied
from ops.bootstrap import System

bearer = HTTPBearer(auto_error=False, description="A JWT from the identity provider")


async def get_system(request: Request) -> System:
    system: System = request.app.state.system
    return system


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    return await authenticate(request, credentials)


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None
                       ) -> Principal:
    """The verified principal of the request's bearer token, told to its audit record."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("a bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    if verifier.fetches_keys:
        principal = await run_in_threadpool(verifier.verify, credentials.credentials)
    else:
        principal = verifier.verify(credentials.credentials)
    audit = this_request()
    audit.principal, audit.roles = principal.staff_id, sorted(principal.roles)
    return principal


def reads_of(request: Request) -> AuditedReads:
    """The app's audited reads (a plain function: a dependency would cost CPU per read)."""
    reads: AuditedReads = request.app.state.reads
    return reads


SystemDep = Annotated[System, Depends(get_system)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(
    *roles: str,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A dependency that admits principals holding any of `roles` (default deny)."""
    allowed = frozenset(roles)

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        # authenticated here, not by a dependency of its own: each level of dependencies
        # costs FastAPI more CPU per request than verifying a remembered token
        principal = await authenticate(request, credentials)
        if not principal.roles & allowed:
            this_request().rule = "role"
            raise PermissionDenied(
                "role", f"this action requires one of the roles {sorted(allowed)}"
            )
        return principal

    return check
