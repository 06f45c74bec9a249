"""`sequester bench api`: audited chart reads and writes against `sequester serve` on
PostgreSQL over loopback, beside two floors served with the same settings: a route
returning a constant and a route doing one INSERT and COMMIT.

Throughput is measured closed-loop (N concurrent connections for a bounded time) with
`wrk` where it is installed (a C generator that leaves the CPU to the server), else with
the Python generator below; the p99 at 200 req/s is measured open-loop (requests sent
on a fixed schedule whatever the latency, so a slow server cannot slow the offered
rate). The generator runs on the same 2-core machine as the server: the ratios are
the meaningful figures. Each closed loop also reports the CPU milliseconds per request
spent by the server's processes, the projector's and PostgreSQL's (read from /proc):
with the cores shared, CPU per request, not waiting, is what caps throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from bench.crypto import POSTGRES_URL
from ops.bootstrap import System, build, ensure_development_keys
from ops.demo import load_demo
from ops.keys.tokens import sign_development_token
from ops.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str,
            log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(ready_url, timeout=1).status_code < 500:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise RuntimeError(f"server did not start: {log.read_text()[-1000:]}")
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def background(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that serves nothing (the projection worker), stopped afterwards."""
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def cpu_snapshot() -> dict[int, tuple[int, str, float]]:
    """pid → (parent pid, name, CPU seconds so far) of every process (Linux's /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    snapshot = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        snapshot[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / ticks)
    return snapshot


def cpu_ms_per_request(before: dict[int, tuple[int, str, float]],
                       after: dict[int, tuple[int, str, float]],
                       roots: dict[str, int], requests: int) -> dict[str, float]:
    """CPU milliseconds per request spent by each root process with its descendants,
    and by PostgreSQL's processes, between two snapshots: where a request's cost goes."""
    def group(pid: int) -> str | None:
        name = after[pid][1]
        while pid in after:
            for label, root in roots.items():
                if pid == root:
                    return label
            pid = after[pid][0]
        return "postgres" if name == "postgres" else None

    spent: dict[str, float] = dict.fromkeys((*roots, "postgres"), 0.0)
    for pid, (_, _, seconds) in after.items():
        label = group(pid)
        if label is not None:
            spent[label] += seconds - (before[pid][2] if pid in before else 0.0)
    return {label: round(spent[label] * 1000 / max(requests, 1), 3)
            for label in (*roots, "postgres")}


async def attempt(send: Callable[[httpx.AsyncClient], Any], http: httpx.AsyncClient) -> bool:
    """One request: True for a success; an error status or a dropped connection is False."""
    try:
        response = await send(http)
    except httpx.TransportError:
        return False
    return bool(response.status_code < 400)


async def closed_loop(send: Callable[[httpx.AsyncClient], Any], seconds: float, clients: int,
                      base: str) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as http:
        stop = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                started = time.perf_counter()
                errors += not await attempt(send, http)
                latencies.append(time.perf_counter() - started)
        started = time.perf_counter()  # (errors: responses >= 400, e.g. 409 on a contended chart)
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return summary(latencies, elapsed, errors)


WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("\\n{\\"requests\\": %d, \\"duration_us\\": %d, \\"errors\\": %d, "
    .. "\\"p50_us\\": %d, \\"p99_us\\": %d, \\"mean_us\\": %.1f}\\n",
    summary.requests, summary.duration, e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def wrk_loop(base: str, paths: list[str], method: str, headers: dict[str, str],
             body: str | None, seconds: float, clients: int, work: Path) -> dict[str, Any]:
    """A closed loop driven by wrk: the same figures as `closed_loop` (errors: a status
    >= 400 or a socket error); each request goes to one of `paths` at random."""
    script = work / f"wrk-{method.lower()}.lua"
    lines = [f"wrk.method = {json.dumps(method)}",
             f"paths = {{{', '.join(json.dumps(p) for p in paths)}}}",
             "request = function() return wrk.format(nil, paths[math.random(#paths)]) end"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if body is not None:
        lines += [f"wrk.body = {json.dumps(body)}",
                  'wrk.headers["Content-Type"] = "application/json"']
    script.write_text("\n".join(lines) + WRK_REPORT)
    threads = str(min(2, clients))
    out = subprocess.run(
        ["wrk", "-t", threads, "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "-s", str(script),
         f"{base}{paths[0]}"], capture_output=True, text=True, check=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return {"rps": round(r["requests"] / (r["duration_us"] / 1e6), 1),
            "p50_ms": round(r["p50_us"] / 1000, 2), "p99_ms": round(r["p99_us"] / 1000, 2),
            "requests": r["requests"], "errors": r["errors"],
            "mean_ms": round(r["mean_us"] / 1000, 2), "generator": "wrk"}


async def open_loop(host: str, port: int, path: str, headers: dict[str, str], rate: float,
                    seconds: float) -> dict[str, Any]:
    """Requests on a fixed schedule, whatever the latency: each request is sent at its
    time on an idle keep-alive connection (a new one if none is idle), and its latency
    counts from that time. Raw HTTP/1.1 on asyncio streams, so the generator's own cost
    stays small beside the server's on the same two cores."""
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def one(due: float) -> None:
        try:
            reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.1 3")):
                errors[head[9:12].decode()] += 1
            idle.append((reader, writer))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, AttributeError) as e:
            errors[type(e).__name__] += 1
        latencies.append(time.perf_counter() - due)

    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        due = start + n / rate
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    return summary(latencies, elapsed, sum(errors.values())) | {"error_kinds": dict(errors)}


def wait_caught_up(api: str, timeout: float = 120) -> None:
    """Until the projector has applied every event (`/readyz` reports a lag of 0)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/readyz", timeout=5).json().get("projection_lag") == 0:
                return
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError("the projector did not catch up")


def combined(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Closed loops' figures over several rounds: requests/s over their whole time,
    latencies and CPU per request weighted by requests, and each round's requests/s."""
    requests: int = sum(r["requests"] for r in rounds)
    seconds: float = sum(r["requests"] / r["rps"] for r in rounds if r["rps"])

    def weighted(values: list[float]) -> float:
        total = sum(v * r["requests"] for v, r in zip(values, rounds, strict=True))
        return round(float(total) / max(requests, 1), 3)

    cpu = rounds[0]["cpu_ms_per_request"]
    return {
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": weighted([r["p50_ms"] for r in rounds]),
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "requests": requests, "errors": sum(r["errors"] for r in rounds),
        "mean_ms": weighted([r["mean_ms"] for r in rounds]), "generator": rounds[0]["generator"],
        "cpu_ms_per_request": {k: weighted([r["cpu_ms_per_request"][k] for r in rounds])
                               for k in cpu},
        "rounds_rps": [r["rps"] for r in rounds],
    }


def summary(latencies: list[float], elapsed: float, errors: int) -> dict[str, Any]:
    ordered = sorted(latencies)

    def p(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"rps": round(len(ordered) / elapsed, 1), "p50_ms": round(p(0.50), 2),
            "p99_ms": round(p(0.99), 2), "requests": len(ordered), "errors": errors,
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2) if ordered else 0.0}


def main(args: argparse.Namespace) -> int:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the generator must not log per request
    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="sequester-bench-api-") as tmp:
        work = Path(tmp)
        key_dir = work / "keys"
        url = f"{POSTGRES_URL}?schema={schema}"
        settings = Settings(database_url=url, key_dir=key_dir, log_level="WARNING")
        ensure_development_keys(settings)
        system = build(settings)
        load_demo(system)
        pseudonym = system.subjects.list_pseudonyms()[0]  # C-002 holds a write grant
        write_charts = charts_to_write(system, WRITE_CHARTS)
        system.close()
        try:
            report = run(args, work, key_dir, url, schema, pseudonym, write_charts)
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0


WRITE_CHARTS = 8


def charts_to_write(system: System, count: int) -> list[str]:
    """Charts of new clients that C-002 may write, so writers spread as a clinic's do
    (thirty-two writers on one chart would measure its conflicts, not its writes)."""
    now = datetime.now(UTC)
    pseudonyms = []
    for n in range(count):
        pseudonym, _ = system.subjects.enrol(f"Bench Client {n}", date(1980, 1, 1), "public_figure",
                                             enrolled_on=now.date())
        subject_id = system.subjects.get(pseudonym).id
        system.charts.open(pseudonym, subject_id, now.date())
        grant_id, _ = system.access.grant("C-002", pseudonym, subject_id, "write", "TREAT",
                                          now + timedelta(days=1), "bench", "PO-01", now,
                                          actor_roles=["privacy_officer"])
        system.access.confirm(grant_id, "D-001", now, None, actor_roles=["director"])
        pseudonyms.append(pseudonym)
    return pseudonyms


def run(args: argparse.Namespace, work: Path, key_dir: Path, url: str, schema: str,
        pseudonym: str, write_charts: list[str]) -> dict[str, Any]:
    env = {**os.environ, "SEQUESTER_DATABASE_URL": url, "SEQUESTER_KEY_DIR": str(key_dir),
           "SEQUESTER_LOG_LEVEL": "WARNING", "SEQUESTER_LOG_FORMAT": "json",
           "SEQUESTER_PROJECTIONS_IN_PROCESS": "false",  # as deployed: one projector process
           "SEQUESTER_BENCH_FLOOR_URL": POSTGRES_URL, "SEQUESTER_BENCH_FLOOR_SCHEMA": schema}
    token = sign_development_token(key_dir, sub="C-002", roles=["clinician"],
                                   issuer="sequester-dev", audience="sequester", ttl=3600)
    auth = {"Authorization": f"Bearer {token}"}
    port, floor_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}"
    floor = f"http://127.0.0.1:{floor_port}"
    workers = str(args.workers)
    serve = [sys.executable, "-m", "ops.cli", "serve", "--port", str(port), "--workers", workers]
    project = [sys.executable, "-m", "ops.cli", "project"]
    floor_cmd = [sys.executable, "-m", "uvicorn", "bench.floor_app:create_floor_app", "--factory",
                 "--port", str(floor_port), "--workers", workers, "--log-level", "warning",
                 "--no-access-log"]
    entry = json.dumps({"activity_type": "individual_session",
                        "service_date": datetime.now(UTC).date().isoformat(),
                        "note": "Bench note: brief check-in."})
    chart = f"/charts/{pseudonym}"
    seconds, clients = args.seconds, args.clients

    def closed(base: str, method: str, path: str | list[str], roots: dict[str, int],
               headers: dict[str, str] | None = None, body: str | None = None,
               settle: Callable[[], None] = lambda: None) -> dict[str, Any]:
        """One closed loop; its CPU counts until `settle()` returns (the projector's
        catching up on what the loop wrote belongs to the loop)."""
        headers, paths = headers or {}, [path] if isinstance(path, str) else path
        before = cpu_snapshot()
        if shutil.which("wrk"):
            result: dict[str, Any] = wrk_loop(base, paths, method, headers, body, seconds,
                                              clients, work)
        else:
            send = lambda http: http.request(
                method, random.choice(paths), headers=headers, content=body)
            result = asyncio.run(closed_loop(send, seconds, clients, base))
        settle()
        return result | {"cpu_ms_per_request": cpu_ms_per_request(
            before, cpu_snapshot(), roots, int(result["requests"]))}

    write_headers = {**auth, "Content-Type": "application/json"}
    results: dict[str, Any] = {}
    with process(floor_cmd, env, f"{floor}/constant", work / "floor.log") as floor_server, \
            background(project, env, work / "project.log") as projector, \
            process(serve, env, f"{api}/readyz", work / "serve.log") as server:
        floor_roots = {"server": floor_server.pid}
        roots = {"server": server.pid, "projector": projector.pid}

        def caught_up() -> None:
            wait_caught_up(api)

        caught_up()
        results["constant"] = closed(floor, "GET", "/constant", floor_roots)
        # the open loop before any closed one, on a machine at rest
        results["read_at_200rps"] = asyncio.run(open_loop(
            "127.0.0.1", port, f"{chart}?purpose=TREAT", auth, 200, seconds))
        caught_up()
        # The read target is a ratio to the INSERT floor: the two are measured in
        # alternating rounds, so a change in the machine's state during the run (the
        # two cores are shared with PostgreSQL and the load generator) falls on both.
        rounds: dict[str, list[dict[str, Any]]] = {"insert": [], "read": []}
        for _ in range(args.rounds):
            rounds["insert"].append(closed(floor, "POST", "/insert", floor_roots))
            rounds["read"].append(closed(api, "GET", f"{chart}?purpose=TREAT", roots, auth,
                                         settle=caught_up))
        results["insert"], results["read"] = combined(rounds["insert"]), combined(rounds["read"])
        results["write"] = closed(api, "POST", [f"/charts/{p}/entries" for p in write_charts],
                                  roots, write_headers, entry, settle=caught_up)
    return {
        "read_vs_insert_floor": round(results["read"]["rps"] / results["insert"]["rps"], 3),
        "p99_ms_at_200rps": results["read_at_200rps"]["p99_ms"],
        "read_rps": results["read"]["rps"],
        "write_rps": results["write"]["rps"],
        "insert_floor_rps": results["insert"]["rps"],
        "constant_rps": results["constant"]["rps"],
        "details": results,
        "settings": {"workers": args.workers, "clients": clients, "seconds": seconds,
                     "backend": "postgresql on loopback",
                     "projections": "one separate `sequester project` process",
                     "reads": "one chart: 200/s open loop, then closed loops alternating "
                              f"with the INSERT floor's ({args.rounds} rounds each), then the "
                              f"writes: {len(write_charts)} charts at random",
                     "generator": "wrk" if shutil.which("wrk") else "python (httpx)"},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
