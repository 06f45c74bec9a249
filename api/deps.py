"""Dependencies: the system, the verified principal, role checks (token → principal → permission).

They are `async def` because they do no I/O (keys from a JWKS file are in memory): a
plain `def` dependency costs a thread-pool hop each, on every request. A verifier that
fetches keys from a JWKS URL runs in the pool, since a fetch blocks.

The principal and the role check are one dependency, `Bearer`, which is also the
OpenAPI security scheme: FastAPI solves each level of dependencies anew on every
request, and a chain (scheme → principal → roles) cost more CPU than verifying a
remembered token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBearer

from api.audit import this_request
from api.auth import AuthenticationFailed, Principal, TokenVerifier
from api.reads import AuditedReads
from domain.errors import PermissionDenied
from ops.bootstrap import System


class Bearer(HTTPBearer):
    """The verified principal of the request's bearer token, told to its audit record;
    with `roles`, only a principal holding one of them (default deny)."""

    def __init__(self, roles: frozenset[str] | None = None) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer",
                         description="A JWT from the identity provider")
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise AuthenticationFailed("a bearer token is required")
        verifier: TokenVerifier = request.app.state.verifier
        if verifier.fetches_keys:
            principal = await run_in_threadpool(verifier.verify, credentials.credentials)
        else:
            principal = verifier.verify(credentials.credentials)
        audit = this_request()
        audit.principal, audit.roles = principal.staff_id, sorted(principal.roles)
        if self.roles is not None and not principal.roles & self.roles:
            audit.rule = "role"
            raise PermissionDenied(
                "role", f"this action requires one of the roles {sorted(self.roles)}"
            )
        return principal


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
