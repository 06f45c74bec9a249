"""Real processes for the fault tests: `sequester serve` on a port of its own choosing,
`sequester project`, `sequester audit verify`, and a private PostgreSQL cluster that a
test may crash and start again (never the shared server on 5432)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

#: Connections each process keeps open on the shared server (others' tests use it too).
SMALL_POOL = 2
#: uvicorn names the port it bound when asked for port 0 (so no free-port race).
LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def sequester_env(database_url: str, key_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of a sequester process; `settings` become SEQUESTER_<NAME>."""
    env = {**os.environ, "SEQUESTER_DATABASE_URL": database_url,
           "SEQUESTER_KEY_DIR": str(key_dir), "SEQUESTER_LOG_FORMAT": "json"}
    env.update({f"SEQUESTER_{name.upper()}": str(value) for name, value in settings.items()})
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    base: str = ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, open transactions die with the process."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Fleet:
    """Every process a test starts; the fixture stops whatever is still running."""

    env: dict[str, str]
    workdir: Path
    processes: list[Process] = field(default_factory=list)

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> Process:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "ops.cli", *args], env=env or self.env,
                cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def api(self, name: str, **settings: object) -> Process:
        """Start `sequester serve` on port 0 (one worker); `ready()` waits for it.
        `settings` override the fleet's, as SEQUESTER_<NAME>."""
        env = {**self.env, **{f"SEQUESTER_{k.upper()}": str(v) for k, v in settings.items()}}
        return self._spawn(name, "serve", "--port", "0", "--workers", "1", env=env)

    def worker(self, name: str = "projections") -> Process:
        return self._spawn(name, "project", "--poll-interval", "0.05")

    def ready(self, process: Process, timeout: float = 45.0) -> Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.alive():
                pytest.fail(f"{process.name} exited {process.popen.returncode}: {process.tail()}")
            if not process.base and (found := LISTENING.search(process.log.read_text())):
                process.base = found.group(1)
            if process.base:
                try:
                    if httpx.get(f"{process.base}/readyz", timeout=5).status_code == 200:
                        return process
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        pytest.fail(f"{process.name} did not become ready: {process.tail()}")

    def audit_verify(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops.cli", "audit", "verify"], env=self.env,
            cwd=self.workdir, capture_output=True, text=True, timeout=120, check=False,
        )

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A throwaway cluster in /tmp, owned by `postgres` when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="seqpg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = 0
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            self.root.chmod(0o700)

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def init(self) -> None:
        done = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                         "--no-sync")
        if done.returncode != 0:
            pytest.fail(f"initdb failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        """Start on the port it had (after a stop), or on a fresh one (retried if taken)."""
        for _ in range(5):
            self.port = self.port or free_port()
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                             "-o", options, "-w", "-t", "60", "start")
            if done.returncode == 0:
                return
            self.port = 0  # most likely the port was taken meanwhile
        pytest.fail(f"pg_ctl start failed: {done.stderr[-1000:]} {self.server_log()}")

    def stop(self, mode: str) -> None:
        """`immediate` is a crash (recovery on the next start); `fast` a clean stop."""
        done = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        if done.returncode != 0:
            pytest.fail(f"pg_ctl stop -m {mode} failed: {done.stderr[-1000:]}")

    def server_log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def url(self, schema: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?schema={schema}"

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
