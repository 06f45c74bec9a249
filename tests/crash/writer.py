"""Child process of the acknowledged-write crash harness.

    python -m tests.crash.writer DATABASE_URL KEY_DIR MODE     # one writer, acks on stdout
    python -m tests.crash.writer serve                           # a fork server (see below)

A writer builds a `System`, opens a fresh chart and appends entries to it forever, each
command with its audit record in the same commit (as the API does). It prints one line
per write it is about to make and one per write it ACKNOWLEDGES, and flushes: a line
that reached `write(2)` survives the SIGKILL the parent sends at a random moment.

    try <key>                 before the commit
    ack <key> <position>      after `commit()` returned (MODE commit-then-ack, the real order)

MODE ack-then-commit is the negative control: it prints `ack <key> ?` BEFORE committing,
the ordering bug a harness must catch. Keys are `open:<pseudonym>` and `entry:<uuid>`.

`serve` imports everything once, then reads `run URL KEY_DIR MODE OUTFILE` lines on
stdin, forks a writer per line (its stdout redirected to OUTFILE) and answers `pid N`;
`reap N` answers `reaped N <signal number or -exit code>`. Forking a warm interpreter
makes a trial cost milliseconds instead of a second of imports; the writer itself is an
ordinary process, killed like any other.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from itertools import count
from pathlib import Path
from uuid import UUID, uuid4

from domain.audit.trail import AuditEntry, audited_command
from domain.charts.application import ChartsApplication
from domain.subjects.pseudonym import new_pseudonym
from ops.bootstrap import build
from ops.logging import configure_logging
from ops.settings import Settings

PRINCIPAL = "crash-writer"
MODES = ("commit-then-ack", "ack-then-commit")
OPENED_ON = date(2025, 1, 6)


def application_name(pid: int) -> str:
    """What PostgreSQL shows for this writer's sessions (pg_stat_activity)."""
    return f"sequester-crash-writer-{pid}"


def emit(*parts: object) -> None:
    print(*parts, flush=True)


def audit_entry(action: str, key: str) -> AuditEntry:
    return AuditEntry(
        principal=PRINCIPAL, roles=["clinician"], action=action, target=key,
        decision="allowed", rule="crash-harness", at=datetime.now(UTC), outcome="committed",
    )  # fmt: skip


def write(key: str, action: str, mode: str, command: Callable[[], int]) -> None:
    """One audited command, acknowledged after (or, in the control, before) its commit."""
    emit("try", key)
    if mode == "ack-then-commit":
        emit("ack", key, "?")
    with audited_command(audit_entry(action, key)):
        position = command()
    if mode == "commit-then-ack":
        emit("ack", key, position)


def append(charts: ChartsApplication, pseudonym: str, entry_id: UUID, n: int) -> int:
    chart = charts.get(pseudonym)
    chart.record_entry(entry_id, "C-1", True, "individual_session", None, OPENED_ON,
                       f"crash harness note {n}", datetime.now(UTC))  # fmt: skip
    return charts.commit(chart)


def run(url: str, key_dir: Path, mode: str) -> None:
    if mode not in MODES:
        raise SystemExit(f"MODE must be one of {MODES}")
    os.environ["PGAPPNAME"] = application_name(os.getpid())  # libpq names our sessions
    settings = Settings(database_url=url, key_dir=key_dir, projections_in_process=False)
    charts, pseudonym = build(settings).charts, new_pseudonym()
    opening = partial(charts.open, pseudonym, uuid4(), OPENED_ON)
    write(f"open:{pseudonym}", "chart.open", mode, opening)
    for n in count(1):
        entry_id = uuid4()
        appending = partial(append, charts, pseudonym, entry_id, n)
        write(f"entry:{entry_id}", "chart.write", mode, appending)


def serve() -> None:
    """The fork server: one warm interpreter, one fresh child per trial."""
    for line in sys.stdin:
        command, *args = line.split()
        if command == "run":
            url, key_dir, mode, out = args
            pid = os.fork()
            if pid == 0:
                child(url, Path(key_dir), mode, out)
            emit("pid", pid)
        elif command == "reap":
            _, status = os.waitpid(int(args[0]), 0)
            code = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)
            emit("reaped", args[0], code)


def child(url: str, key_dir: Path, mode: str, out: str) -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)  # print() now writes to OUTFILE
        run(url, key_dir, mode)
    except BaseException:  # noqa: BLE001 - report, then leave without the parent's cleanup
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
    os._exit(3)


def main(argv: list[str]) -> int:
    configure_logging(Settings(log_format="json", log_level="WARNING"))  # to stderr
    if argv[1:] == ["serve"]:
        serve()
        return 0
    run(argv[1], Path(argv[2]), argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
