"""The `sequester` console script."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from uuid import UUID

import structlog
from eventsourcing import persistence

from domain.base import KEK_NAMES
from domain.errors import SequesterError
from ops import cli_identity
from ops.bootstrap import build, checkpoint_signer, ensure_development_keys, key_source
from ops.keys.signing import create_signing_key_file, new_origin
from ops.keys.tokens import create_token_keys
from ops.ledger_verify import verify
from ops.logging import configure_logging
from ops.settings import Settings, load_settings

log = structlog.get_logger("sequester.cli")
Command = Callable[[argparse.Namespace, Settings], int]


def keys_init(args: argparse.Namespace, settings: Settings) -> int:
    source = key_source(settings)
    existing = sorted({f"{m.name}.v{m.version}" for m in source.load()})
    if existing:
        raise SequesterError(
            f"{source.description} already holds keys {existing}; refusing to overwrite"
        )
    origin = new_origin(settings.checkpoint_origin)  # checked before any key is written
    for name in KEK_NAMES:
        source.create(name, 1, development=not args.production)
    create_signing_key_file(settings.key_dir, origin, development=not args.production)
    if not args.production:
        create_token_keys(settings.key_dir)
    kind = "production" if args.production else "development"
    print(f"created {kind} key-encryption keys {list(KEK_NAMES)} in {settings.key_dir}")
    print(f"the audit log's origin (its checkpoint key's name) is {origin}")
    return 0


def keys_status(args: argparse.Namespace, settings: Settings) -> int:
    system = build(settings)
    try:
        for kek in system.keyring.status():
            counts = ", ".join(f"v{v}: {n}" for v, n in kek.data_keys_by_version.items()) or "none"
            print(
                f"{kek.name}: versions {kek.versions}, current v{kek.current}, "
                f"data keys wrapped: {counts}"
            )
    finally:
        system.close()
    return 0


def keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    before = build(settings)
    current = before.keyring.keks.current_version(args.kek)
    before.close()
    if settings.key_source == "files":
        key_source(settings).create(args.kek, current + 1, development=not settings.production)
    # with keys from the environment, the operator adds the new version there first
    system = build(settings)
    try:
        version, count = system.keyring.rotate(args.kek)
    finally:
        system.close()
    print(f"{args.kek}: now v{version}; rewrapped {count} data key(s); events untouched")
    print(f"once no data key uses v{current}: sequester keys retire --kek {args.kek} --version {current}")
    return 0


def keys_retire(args: argparse.Namespace, settings: Settings) -> int:
    system = build(settings)
    try:
        status = {k.name: k for k in system.keyring.status()}[args.kek]
        if args.version == status.current:
            raise SequesterError(f"{args.kek} v{args.version} is the current version; rotate first")
        if status.data_keys_by_version.get(args.version):
            raise SequesterError(
                f"{args.kek} v{args.version} still wraps data keys; run keys rotate first"
            )
    finally:
        system.close()
    key_source(settings).retire(args.kek, args.version)
    print(f"retired {args.kek} v{args.version}")
    return 0


def keys_shred(args: argparse.Namespace, settings: Settings) -> int:
    try:
        subject = UUID(args.subject)
    except ValueError:
        raise SequesterError(f"--subject must be a data subject id (UUID), got {args.subject!r}") from None
    system = build(settings)
    try:
        count = system.keyring.shred(subject, args.reason)
        if system.projections is not None:
            system.projections.forget_subject(subject)  # read models empty of it too
    finally:
        system.close()
    if count == 0:
        raise SequesterError(f"data subject {subject} has no data keys; nothing was shredded")
    log.info("keys.shredded", subject_id=str(subject), data_keys=count)
    print(f"shredded {count} data key(s) of data subject {subject}")
    return 0


def audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    system = build(settings)
    try:
        signer = checkpoint_signer(settings)
        if args.verifier_key:
            print(signer.verifier_key())
            return 0
        if system.ledger is None:
            raise SequesterError("the in-memory backend keeps no Merkle log")
        print(system.ledger.checkpoint(signer), end="")
    finally:
        system.close()
    return 0


def audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    if args.remote:
        from ops.remote_verify import run_remote

        return run_remote(args)
    system = build(settings, verify_keys=False)  # verification needs no data keys
    try:
        if system.ledger is None:
            raise SequesterError("the in-memory backend keeps no Merkle log")
        notes = [Path(f).read_text() for f in args.checkpoint]
        report = verify(system.ledger, [checkpoint_signer(settings).verifier_key()], notes)
    except OSError as e:
        raise SequesterError(f"cannot read checkpoint file: {e.strerror}") from None
    finally:
        system.close()
    if not report.ok:
        print(f"sequester: audit verify FAILED: {report.problems[0]}", file=sys.stderr)
        return 1
    print(
        f"audit log verified: {report.size} rows, root {report.root.hex()}, "
        f"{report.checked_checkpoints} checkpoint(s) consistent"
    )
    return 0


def project(args: argparse.Namespace, settings: Settings) -> int:
    """Run the projection workers until SIGTERM/SIGINT."""
    import signal
    import threading

    system = build(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if system.projections is None:
            raise SequesterError("the in-memory backend has no read models to project")
        structlog.contextvars.bind_contextvars(worker="projections")
        log.info("projections.started", positions=system.projections.positions())
        if args.once:
            applied = system.projections.catch_up()
            print(f"caught up: {applied} notification(s) applied")
        else:
            system.projections.run_forever(stop, poll_interval=args.poll_interval)
    finally:
        system.close()
    return 0


def rebuild_processes() -> int:
    """One rebuild process per core, at most four (beyond that the database's writes,
    not decoding, set the pace)."""
    return max(1, min(4, os.cpu_count() or 1))


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` (argparse names the option
    on error)."""
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, not {text!r}")
        return int(text)
    return parse


processes_arg = whole_number(1, 256)


def audit_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from projections.audit import audit_rebuild as rebuild_and_compare

    system = build(settings)
    try:
        if system.projections is None:
            raise SequesterError("the in-memory backend has no read models to rebuild")
        differences = rebuild_and_compare(system.projections, processes=args.processes)
    finally:
        system.close()
    if differences:
        for line in differences[:50]:
            print(f"difference: {line}", file=sys.stderr)
        print(f"sequester: audit rebuild FAILED: {len(differences)} difference(s)", file=sys.stderr)
        return 1
    print("audit rebuild: every read model equals a rebuild from zero")
    return 0


def audit_replay(args: argparse.Namespace, settings: Settings) -> int:
    import json
    from datetime import datetime

    from domain.audit.replay import replay

    as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
    system = build(settings)
    try:
        result = replay(system, args.kind, args.id, as_of=as_of, version=args.version)
    finally:
        system.close()
    print(json.dumps(result.public(), indent=2, default=str))
    return 0


def audit_export(args: argparse.Namespace, settings: Settings) -> int:
    from domain.audit.fhir import export_ndjson
    from domain.audit.report import iter_audit_entries

    system = build(settings)
    out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    try:
        for line in export_ndjson(e for _, e in iter_audit_entries(system)):
            out.write(line)
    finally:
        if out is not sys.stdout:
            out.close()
        system.close()
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    ensure_development_keys(settings)
    build(settings).close()  # refuse to start on bad keys before binding the port
    if args.workers > 1:
        uvicorn.run(
            "api.app:create_app_from_environment", factory=True, workers=args.workers,
            host=args.host, port=args.port, log_config=None, access_log=False,
        )
    else:
        uvicorn.run(
            create_app(settings), host=args.host, port=args.port, log_config=None,
            access_log=False,
        )
    return 0


def demo(args: argparse.Namespace, settings: Settings) -> int:
    from ops.demo import load_demo

    ensure_development_keys(settings)
    system = build(settings)
    try:
        created = load_demo(system)
    finally:
        system.close()
    print(f"demo agency loaded ({created} new records)")
    return 0


def bench(args: argparse.Namespace, settings: Settings) -> int:
    from bench import api, crypto, rebuild

    runs = {"crypto": crypto.main, "rebuild": rebuild.main, "api": api.main}
    return runs[args.bench_command](args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sequester", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1)
    s.set_defaults(run=serve)
    sub.add_parser("demo", help="load a demo agency (idempotent)").set_defaults(run=demo)
    cli_identity.add_commands(sub)

    keys = sub.add_parser("keys", help="manage key-encryption and data keys")
    ks = keys.add_subparsers(dest="keys_command", required=True)
    k = ks.add_parser("init", help="create key files (mode 0600; never overwrites)")
    k.add_argument("--production", action="store_true", help="mark the keys as production keys")
    k.set_defaults(run=keys_init)
    ks.add_parser("status", help="KEK versions and data keys per version").set_defaults(
        run=keys_status
    )
    k = ks.add_parser("rotate", help="new KEK version; rewrap every data key")
    k.add_argument("--kek", required=True, choices=KEK_NAMES)
    k.set_defaults(run=keys_rotate)
    k = ks.add_parser("retire", help="remove a KEK version no data key uses any more")
    k.add_argument("--kek", required=True, choices=KEK_NAMES)
    k.add_argument("--version", required=True, type=int)
    k.set_defaults(run=keys_retire)
    k = ks.add_parser("shred", help="destroy a data subject's data keys (crypto-shredding)")
    k.add_argument("--subject", required=True, help="data subject id (UUID)")
    k.add_argument("--reason", required=True)
    k.set_defaults(run=keys_shred)

    audit = sub.add_parser("audit", help="tamper evidence of the log")
    au = audit.add_subparsers(dest="audit_command", required=True)
    a = au.add_parser("checkpoint", help="sign, store and print the current tree head")
    a.add_argument("--verifier-key", action="store_true", help="print the verifier key instead")
    a.set_defaults(run=audit_checkpoint)
    a = au.add_parser("verify", help="recompute the Merkle tree and check every checkpoint")
    a.add_argument("--checkpoint", action="append", default=[], metavar="FILE")
    a.add_argument("--remote", metavar="URL", help="check the log served at URL over HTTP "
                   "against the one --checkpoint kept (no database, no data keys)")
    a.add_argument("--verifier-key", help="with --remote: the log's verifier key, or a file "
                   "holding it (sequester audit checkpoint --verifier-key prints it)")
    a.add_argument("--token", help="with --remote: a bearer token with the auditor role "
                   "(needed unless the log is public; records are sampled only with one)")
    a.add_argument("--token-file", help="with --remote: a file holding that token")
    a.add_argument("--sample", type=whole_number(1, 10_000), default=64,
                   help="with --remote: audit records whose inclusion is checked (default 64)")
    a.add_argument("--record", action="append", default=[], metavar="ID",
                   help="with --remote: an audit record id whose inclusion is checked too")
    a.set_defaults(run=audit_verify)

    a = au.add_parser("rebuild", help="rebuild every read model from zero and compare")
    a.add_argument("--processes", type=processes_arg, default=rebuild_processes(),
                   help="processes rebuilding in parallel (default: one per core, at most 4)")
    a.set_defaults(run=audit_rebuild)
    a = au.add_parser("replay", help="an aggregate as of a time or version (redacted)")
    a.add_argument("kind")
    a.add_argument("id")
    a.add_argument("--as-of", help="ISO time with a timezone")
    a.add_argument("--version", type=int)
    a.set_defaults(run=audit_replay)
    a = au.add_parser("export", help="the audit trail as FHIR R4 AuditEvent NDJSON")
    a.add_argument("--format", choices=["fhir"], default="fhir")
    a.add_argument("--output", help="a file (default: standard output)")
    a.set_defaults(run=audit_export)

    w = sub.add_parser("project", help="run the projection workers (read models)")
    w.add_argument("--once", action="store_true", help="catch up and exit")
    w.add_argument("--poll-interval", type=float, default=0.2)
    w.set_defaults(run=project)

    b = sub.add_parser("bench", help="benchmarks")
    bs = b.add_subparsers(dest="bench_command", required=True)
    c = bs.add_parser("crypto", help="append and replay: no cipher, AESCipher, ours")
    c.add_argument("--json", action="store_true")
    c.add_argument("--aggregates", type=int, default=10_000)
    c.add_argument("--events-per-aggregate", type=int, default=10)
    c.add_argument("--backends", default="sqlite,postgresql")
    c.set_defaults(run=bench)
    r = bs.add_parser("rebuild", help="read-model rebuild and audit verify vs the raw floor")
    r.add_argument("--json", action="store_true")
    r.add_argument("--events", type=int, default=100_000, help="domain events (plus audit records)")
    r.add_argument("--backends", default="sqlite,postgresql")
    r.add_argument("--processes", type=processes_arg, default=rebuild_processes(),
                   help="processes of the parallel rebuild (default: one per core, at most 4)")
    r.set_defaults(run=bench)
    a = bs.add_parser("api", help="audited chart reads/writes vs a constant and an INSERT route")
    a.add_argument("--json", action="store_true")
    a.add_argument("--workers", type=int, default=2)
    a.add_argument("--clients", type=int, default=32)
    a.add_argument("--seconds", type=float, default=5.0, help="each closed loop's length")
    a.add_argument("--rounds", type=whole_number(1, 100), default=3,
                   help="alternating rounds of the INSERT floor and the reads")
    a.set_defaults(run=bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()  # an invalid setting: one line naming the variable
        configure_logging(settings)
        code: int = args.run(args, settings)
        return code
    except SequesterError as e:
        print(f"sequester: {e.detail}", file=sys.stderr)
        return 2
    except (persistence.OperationalError, persistence.InterfaceError) as e:
        # one line naming the kind of failure: driver messages can carry the URL
        print(f"sequester: the database cannot be reached or failed ({type(e).__name__}); "
              "check SEQUESTER_DATABASE_URL and that the server is up", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
