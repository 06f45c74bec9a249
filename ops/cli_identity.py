"""`sequester token` (development tokens) and `sequester staff bootstrap` (the first
staff member of an empty database)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from domain.audit.trail import AuditEntry, audited_command
from domain.errors import InvalidInput, SequesterError
from domain.staff.aggregate import ROLES, check_job_title
from domain.staff.ids import canonical_staff_id
from ops.bootstrap import build, ensure_development_keys
from ops.claim_paths import parse_claim_path
from ops.keys.tokens import sign_development_token
from ops.settings import Settings

ROLE_LIST = ", ".join(sorted(ROLES))


def known_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        raise InvalidInput(f"unknown role(s) {unknown}; sequester's roles are {ROLE_LIST}")
    return sorted(set(roles))


def refuse_external_provider(settings: Settings) -> None:
    """Development tokens are only for the development issuer and keys."""
    if settings.production:
        raise SequesterError("sequester token is for development; production uses the "
                             "identity provider")
    external = settings.external_identity_provider
    if external is not None:
        raise SequesterError(f"an external identity provider is configured ({external}): "
                             "get tokens from it; development tokens would be refused")
    if "EdDSA" not in settings.jwt_algorithms:
        raise SequesterError("SEQUESTER_JWT_ALGORITHMS does not accept EdDSA, the algorithm "
                             "of development tokens: they would be refused")


def provider_names(settings: Settings, roles: list[str]) -> list[str]:
    """The names the configured role map gives `roles` (sequester's own without a map)."""
    if settings.jwt_role_map is None:
        return roles
    names = []
    for role in roles:
        mapped = sorted(n for n, r in settings.jwt_role_map.items() if r == role)
        if not mapped:
            raise SequesterError(f"SEQUESTER_JWT_ROLE_MAP gives no provider name the role "
                                 f"{role!r}: a token could not claim it")
        names.append(mapped[0])
    return names


def token(args: argparse.Namespace, settings: Settings) -> int:
    refuse_external_provider(settings)
    roles = provider_names(settings, known_roles(args.role))
    sub = canonical_staff_id(args.sub)
    ensure_development_keys(settings)
    print(sign_development_token(
        settings.key_dir, sub=sub, roles=roles,
        issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl=args.ttl,
        roles_path=parse_claim_path(settings.jwt_roles_claim),
        staff_id_path=parse_claim_path(settings.jwt_staff_id_claim),
    ))
    return 0


def staff_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    """Hire the first staff member (audited as done by `sequester staff bootstrap`)."""
    roles = known_roles(args.role)
    staff_id = canonical_staff_id(args.staff_id)
    check_job_title(args.job_title)
    today = datetime.now(UTC).date()
    entry = AuditEntry(principal="sequester-cli", roles=[], action="staff.bootstrap",
                       target=staff_id, decision="allowed", rule="bootstrap",
                       at=datetime.now(UTC), outcome="committed")
    ensure_development_keys(settings)  # as `demo` and `serve` do (never in production)
    system = build(settings)
    try:
        with audited_command(entry):
            position = system.staff.bootstrap(staff_id, args.display_name or staff_id,
                                              args.job_title, roles, today)
    finally:
        system.close()
    print(f"hired {staff_id} as {', '.join(roles)} (position {position}); hire everyone "
          "else through POST /staff")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    t = sub.add_parser(
        "token", help="print a development bearer token",
        description="Print a development token, signed with the development key. Refused "
                    "in production and when an external identity provider is configured. "
                    f"Roles: {ROLE_LIST}.")
    t.add_argument("--sub", required=True, help="the staff id")
    t.add_argument("--role", action="append", required=True,
                   help=f"a role the token claims (repeat for more): {ROLE_LIST}")
    t.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    t.set_defaults(run=token)

    staff = sub.add_parser("staff", help="staff records")
    ss = staff.add_subparsers(dest="staff_command", required=True)
    b = ss.add_parser(
        "bootstrap", help="hire the first staff member of an empty database",
        description="Hire the first staff member (hired today), who then hires everyone "
                    "else; refused once any staff member exists.")
    b.add_argument("--staff-id", required=True)
    b.add_argument("--role", action="append", required=True,
                   help=f"a role (repeat for more): {ROLE_LIST}")
    b.add_argument("--display-name", help="default: the staff id")
    b.add_argument("--job-title", default="director", help="from the job catalogue")
    b.set_defaults(run=staff_bootstrap)
