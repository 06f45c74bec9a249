"""Domain errors → HTTP status codes, one stable body: {"error": Kind, "detail": ...}.

Routes don't catch. No stack trace, legal name or note text ever reaches a client:
details are the domain's own messages, which name ids, fields and rules only.
"""

from __future__ import annotations

from typing import Any

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError as PsycopgOperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import audit
from api.auth import AuthenticationFailed
from api.jwks import IdentityProviderUnavailable
from domain import errors

log = structlog.get_logger("sequester.api")

STATUS: dict[type[errors.SequesterError], int] = {
    errors.OutOfRange: 422,
    errors.InvalidInput: 400,
    errors.RuleViolation: 422,
    errors.OutOfOrder: 409,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.AlreadyApplied: 409,
    errors.ConcurrencyConflict: 409,
    errors.PermissionDenied: 403,
    errors.DataShredded: 410,
    errors.KeyUnavailable: 503,
    errors.TamperDetected: 500,
    errors.Unavailable: 503,
}
HTTP_KINDS = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
              413: "PayloadTooLarge", 415: "UnsupportedMediaType"}


def body(kind: str, detail: object, status: int, **extra: object) -> JSONResponse:
    content: dict[str, object] = {"error": kind, "detail": detail, **extra}
    return JSONResponse(content, status_code=status, headers={"Cache-Control": "no-store"})


def status_of(exc: errors.SequesterError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def problem(error: dict[str, Any]) -> dict[str, Any]:
    """One validation problem: the field and what is wrong (never the value sent)."""
    if error.get("type") == "json_invalid":  # its location is a character offset
        return {"field": "", "problem": f"the body is not valid JSON: {error.get('msg')}"}
    field = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
    return {"field": field, "problem": error.get("msg")}


def refused(rule: str) -> None:
    """The rule that refused the request, for its audit record."""
    record = audit.current.get()
    if record is not None:
        record.rule = rule


def refusal(exc: errors.SequesterError) -> tuple[str | None, str]:
    """The rule and detail the caller may see; the request's audit record keeps the
    public rule, and a link rule's precise name for the Director's office's note."""
    rule: str | None = getattr(exc, "rule", None)
    record = audit.current.get()
    if not isinstance(exc, errors.LinkRefusal):
        if rule:
            refused(rule)
        return rule, exc.detail
    if record is not None:
        record.rule, record.director_rule = exc.public_rule, exc.rule
    if record is not None and "director" in record.roles:
        return exc.rule, exc.detail
    return exc.public_rule, exc.public_detail


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.SequesterError)
    def domain_error(request: Request, exc: errors.SequesterError) -> JSONResponse:
        rule, detail = refusal(exc)
        extra = {"rule": rule} if rule else {}
        return body(exc.kind, detail, status_of(exc), **extra)

    @app.exception_handler(AuthenticationFailed)
    def unauthenticated(request: Request, exc: AuthenticationFailed) -> JSONResponse:
        """401, its reason category logged and audited (the reason names a claim at
        most, never a token or a claim's value)."""
        refused(f"token_{exc.category}")
        log.info("auth.refused", category=exc.category, problem=exc.reason)
        response = body("Unauthorized", exc.reason, 401)
        description = exc.reason.replace('"', "'")
        response.headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{description}"'
        )
        return response

    @app.exception_handler(IdentityProviderUnavailable)
    def no_keys(request: Request, exc: IdentityProviderUnavailable) -> JSONResponse:
        refused("identity_provider")
        log.warning("auth.identity_provider_unavailable", problem=exc.detail)
        response = body(exc.kind, exc.detail, 503)
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [problem(e) for e in exc.errors()]
        fields = ", ".join(p["field"] or "body" for p in problems)
        return body("ValidationError", f"invalid or missing: {fields}", 422, problems=problems)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = HTTP_KINDS.get(exc.status_code, "HTTPError")
        detail = exc.detail if isinstance(exc.detail, str) else kind
        return body(kind, detail, exc.status_code)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PsycopgOperationalError)
    def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("database.unavailable", error_type=type(exc).__name__)
        return body("Unavailable", "the database is unavailable; retry shortly", 503)

    @app.exception_handler(Exception)
    def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("request.internal_error", error_type=type(exc).__name__)
        return body("InternalError", "an internal error occurred; quote the request id", 500)
