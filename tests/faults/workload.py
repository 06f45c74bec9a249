"""The load the fault tests put on served processes, and the accounting afterwards.

Each chart write carries its request id in its note, so a write can be traced through
the events (by note), the read models (by entry id) and the audit trail (by request
id) even when the client never saw an answer.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from domain.audit.report import iter_audit_entries
from ops.bootstrap import System
from ops.keys.tokens import sign_development_token
from projections import chart_entries, chart_index
from tests.principals import on_staff

NOTE = "fault-check note for request "
#: Planted as every subject's legal name; must never show in plain (see canaries).
LEGAL_NAME = "Quenelda Faultcanary-Oyelaran"
CLINICIAN, HR, DIRECTOR, PRIVACY = "C-1", "HR-1", "D-1", "PO-1"
SERVICE_DATE = "2024-06-03"


def hire_officers(system: System) -> None:
    """HR, the Director's office and the privacy officer on staff (they hire the rest)."""
    for staff_id, role in ((HR, "hr"), (DIRECTOR, "director"), (PRIVACY, "privacy_officer")):
        on_staff(system, staff_id, [role])


class Tokens:
    """Development bearer tokens, one per principal, signed once."""

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir
        self._signed: dict[tuple[str, str], str] = {}

    def __call__(self, sub: str, role: str) -> dict[str, str]:
        if (sub, role) not in self._signed:
            self._signed[sub, role] = sign_development_token(
                self.key_dir, sub=sub, roles=[role], issuer="sequester-dev",
                audience="sequester", ttl=900)
        return {"Authorization": f"Bearer {self._signed[sub, role]}"}


@dataclass
class Attempt:
    """One request as the client saw it: a status and body, or no answer at all."""

    request_id: str
    target: str
    api: str
    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    sent_at: float = 0.0
    elapsed: float = 0.0

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def send(http: httpx.Client, api: str, method: str, path: str, headers: dict[str, str],
         target: str = "", request_id: str = "", **kw: Any) -> Attempt:
    attempt = Attempt(request_id or f"f-{uuid.uuid4().hex[:16]}", target, api)
    attempt.sent_at = time.monotonic()
    try:
        response = http.request(method, path, headers={**headers, "X-Request-ID":
                                                       attempt.request_id}, **kw)
        attempt.status = response.status_code
        try:
            attempt.body = response.json() if response.content else {}
        except ValueError:  # not the stable JSON body: kept for the failure message
            attempt.body = {"not_json": response.text[:200]}
    except httpx.HTTPError as e:
        attempt.error = type(e).__name__
    attempt.elapsed = time.monotonic() - attempt.sent_at
    return attempt


def write_entry(http: httpx.Client, api: str, tokens: Tokens, pseudonym: str) -> Attempt:
    request_id = f"w-{uuid.uuid4().hex[:20]}"
    body = {"activity_type": "individual_session", "service_date": SERVICE_DATE,
            "note": NOTE + request_id}
    return send(http, api, "POST", f"/charts/{pseudonym}/entries", tokens(CLINICIAN, "clinician"),
                pseudonym, request_id, json=body)


def ok(attempt: Attempt) -> dict[str, Any]:
    assert attempt.acknowledged, (attempt.status, attempt.error, attempt.body)
    return attempt.body


def set_up_charts(base: str, tokens: Tokens, count: int) -> list[str]:
    """A clinician with an agreement, `count` enrolled subjects, and a write grant on each."""
    with httpx.Client(base_url=base, timeout=30) as http:
        ok(send(http, base, "POST", "/staff", tokens(HR, "hr"), json={
            "staff_id": CLINICIAN, "display_name": CLINICIAN, "job_title": "clinician",
            "roles": ["clinician"], "hired_on": "2023-05-01"}))
        ok(send(http, base, "POST", f"/staff/{CLINICIAN}/confidentiality-agreements",
                tokens(HR, "hr"), json={"version": "2023-1", "signed_on": "2023-05-01"}))
        pseudonyms = []
        for i in range(count):
            enrolled = ok(send(http, base, "POST", "/subjects", tokens(DIRECTOR, "director"), json={
                "legal_name": f"{LEGAL_NAME} {i}", "birth_date": "1980-02-03",
                "category": "public_figure", "enrolled_on": "2024-01-15"}))
            pseudonyms.append(str(enrolled["pseudonym"]))
            granted = ok(send(http, base, "POST", "/grants", tokens(PRIVACY, "privacy_officer"),
                              json={"grantee": CLINICIAN, "pseudonym": pseudonyms[-1],
                                    "scope": "write", "purpose": "TREAT",
                                    "expires_at": (datetime.now(UTC) + timedelta(days=300))
                                    .isoformat(),
                                    "justification": "assigned treating clinician"}))
            ok(send(http, base, "POST", f"/grants/{granted['grant_id']}/confirm",
                    tokens(DIRECTOR, "director")))
    return pseudonyms


class Burst:
    """Client threads writing chart entries (round robin over their charts) until
    stopped or at their limit; each thread has one API and one HTTP client."""

    def __init__(self, tokens: Tokens, timeout: float = 30.0) -> None:
        self.tokens, self.timeout = tokens, timeout
        self.attempts: list[Attempt] = []
        self.reads: list[Attempt] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, base: str, charts: list[str], limit: int | None = None,
              until_no_answer: bool = False) -> None:
        thread = threading.Thread(target=self._run, args=(base, charts, limit, until_no_answer),
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, base: str, charts: list[str], limit: int | None, until_no_answer: bool) -> None:
        sent = 0
        with httpx.Client(base_url=base, timeout=self.timeout) as http:
            while not self.stopping.is_set() and (limit is None or sent < limit):
                attempt = write_entry(http, base, self.tokens, charts[sent % len(charts)])
                with self._lock:
                    self.attempts.append(attempt)
                sent += 1
                if until_no_answer and attempt.status is None:
                    return  # the API is gone; its clients stop with it

    def start_reader(self, base: str, charts: list[str]) -> None:
        """A thread reading charts (audited reads) until stopped; into `reads`."""
        def run() -> None:
            with httpx.Client(base_url=base, timeout=self.timeout) as http:
                while not self.stopping.is_set():
                    pseudonym = charts[len(self.reads) % len(charts)]
                    read = send(http, base, "GET", f"/charts/{pseudonym}",
                                self.tokens(CLINICIAN, "clinician"), pseudonym)
                    with self._lock:
                        self.reads.append(read)

        self._threads.append(threading.Thread(target=run, daemon=True))
        self._threads[-1].start()

    def acknowledged_by(self, base: str) -> int:
        with self._lock:
            return sum(a.acknowledged for a in self.attempts if a.api == base)

    def join(self, stop: bool = True) -> list[Attempt]:
        if stop:
            self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a client thread hung"
        self._threads.clear()
        return self.attempts


def race(bases: list[str], count: int, method: str, path: str, headers: dict[str, str],
         body: dict[str, Any]) -> list[Attempt]:
    """`count` identical requests released together, alternating between the APIs."""
    barrier = threading.Barrier(count)
    results: list[Attempt | None] = [None] * count

    def go(i: int) -> None:
        base = bases[i % len(bases)]
        with httpx.Client(base_url=base, timeout=30) as http:
            http.get("/healthz")  # connected before the start line
            barrier.wait(timeout=30)
            results[i] = send(http, base, method, path, headers, path, json=body)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r is not None for r in results), "a racing request never finished"
    return [r for r in results if r is not None]


def audited_once_each(system: System, attempts: list[Attempt]) -> list[dict[str, Any]]:
    """Each request's one audit record, in the order of `attempts`."""
    audits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, entry in iter_audit_entries(system):
        audits[str(entry.get("request_id"))].append(entry)
    counts = {a.request_id: len(audits[a.request_id]) for a in attempts}
    assert set(counts.values()) == {1}, counts
    return [audits[a.request_id][0] for a in attempts]


# -- accounting ------------------------------------------------------------------------
@dataclass
class Counts:
    """What a fault did to the writes; `lost` and `duplicated` must be 0."""

    fault: str
    attempted: int
    acknowledged: int
    found: int
    lost: int
    duplicated: int
    extra: dict[str, Any] = field(default_factory=dict)

    def publish(self) -> None:
        """Printed (`pytest -s` shows it) and appended to $SEQUESTER_FAULT_REPORT."""
        data = asdict(self)
        extra = data.pop("extra")
        line = json.dumps({**data, **extra})
        print(f"\nfault report: {line}")
        if path := os.environ.get("SEQUESTER_FAULT_REPORT"):
            with open(path, "a") as out:
                out.write(line + "\n")


def wait_for_read_models(system: System, timeout: float = 90.0) -> int:
    """The log's head, once the (separate) projection worker has applied it."""
    head = system.infrastructure.recorder.max_notification_id() or 0
    assert system.projections is not None
    assert system.projections.wait(head, timeout=timeout), (
        f"read models stuck at {system.projections.positions()} behind {head}")
    return head


@dataclass
class Stored:
    """What the database holds, traced back to request ids."""

    events: dict[str, list[str]]  # request id -> entry ids of chart entries naming it
    audits: dict[str, list[dict[str, Any]]]  # request id -> its audit entries
    read_model: Counter[str]  # entry id -> rows in chart_entries
    problems: list[str]


def stored(system: System, charts: list[str]) -> Stored:
    events: dict[str, list[str]] = defaultdict(list)
    problems: list[str] = []
    assert system.projections is not None
    db = system.projections.db
    with db.read() as tx:
        rows = tx.rows(chart_entries.TABLE)
        index = {r["pseudonym"]: r["entry_count"] for r in tx.rows(chart_index.TABLE)}
    for pseudonym in charts:
        chart = system.charts.get(pseudonym)
        for entry in chart.entries:
            request_id = entry.note.removeprefix(NOTE)
            events[request_id].append(str(entry.entry_id))
        if index.get(pseudonym) != len(chart.entries):
            problems.append(f"chart_index says {index.get(pseudonym)} entries for {pseudonym}, "
                            f"the events {len(chart.entries)}")
    audits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, entry in iter_audit_entries(system):
        audits[str(entry.get("request_id"))].append(entry)
    return Stored(events, audits, Counter(str(r["entry_id"]) for r in rows), problems)


def judge_acknowledged(a: Attempt, found: Stored, counts: Counts) -> str | None:
    """An acknowledged write: its entry once in the events and the read model, and one
    audit record, committed with it."""
    ids = found.events.get(a.request_id, [])
    audits = found.audits.get(a.request_id, [])
    entry_id = str(a.body.get("entry_id"))
    counts.acknowledged += 1
    if not ids:
        counts.lost += 1
        return f"acknowledged {a.request_id} is not in the events"
    if len(ids) > 1 or len(audits) > 1 or found.read_model[entry_id] > 1:
        counts.duplicated += 1
        return f"acknowledged {a.request_id} is stored more than once"
    committed = audits[0].get("outcome") == "committed" if audits else False
    if ids != [entry_id] or not committed or not found.read_model[entry_id]:
        return f"acknowledged {a.request_id}: events {ids}, audit {audits}"
    counts.found += 1
    return None


def judge_unacknowledged(a: Attempt, found: Stored) -> str | None:
    """Refused (4xx): nothing but its one audit record. No answer or 503: all or nothing,
    its entry and its committed audit record together (never one without the other)."""
    ids = found.events.get(a.request_id, [])
    audits = found.audits.get(a.request_id, [])
    committed = [e for e in audits if e.get("outcome") == "committed"]
    if a.status is not None and a.status < 500:
        if ids or [e.get("outcome") for e in audits] != [str(a.status)]:
            return f"refused {a.request_id} ({a.status}): {len(ids)} event(s), audit {audits}"
        return None
    if len(ids) != len(committed) or len(ids) > 1:
        return (f"unacknowledged {a.request_id}: {len(ids)} event(s), "
                f"{len(committed)} committed audit record(s)")
    return None


def account(fault: str, system: System, charts: list[str], attempts: list[Attempt],
            **extra: Any) -> tuple[Counts, list[str]]:
    """Counts, and every broken guarantee in words."""
    found = stored(system, charts)
    counts = Counts(fault, len(attempts), 0, 0, 0, 0, dict(extra))
    problems = list(found.problems)
    for a in attempts:
        if a.acknowledged:
            judged = judge_acknowledged(a, found, counts)
        else:
            judged = judge_unacknowledged(a, found)
        problems += [judged] if judged else []
    sent = {a.request_id for a in attempts}
    problems += [f"entry of unknown request {r}" for r in found.events if r not in sent]
    if set(found.read_model) != {i for ids in found.events.values() for i in ids}:
        problems.append("chart_entries rows differ from the entries in the events")
    counts.extra["unacknowledged_but_committed"] = sum(
        len(found.events.get(a.request_id, [])) for a in attempts if not a.acknowledged)
    counts.extra["no_answer"] = sum(a.status is None for a in attempts)
    counts.extra["cut_off_in_flight"] = sum(  # sent, then the connection died
        a.status is None and a.error not in ("ConnectError", "ConnectTimeout") for a in attempts)
    counts.extra["statuses"] = dict(Counter(str(a.status) for a in attempts))
    return counts, problems
