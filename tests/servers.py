"""Real Prometheus and Pushgateway (Debian binaries) on free loopback ports, for end-to-end tests.

Context managers, so any test folder can wrap them in fixtures:

    from servers import pushgateway_server, prometheus_server
    with pushgateway_server(tmp) as gateway, prometheus_server(tmp, gateway.address) as prom: ...

Each server runs in its own process group and is stopped (by its pid) on exit.
Each starts empty: no state is shared with earlier runs or other sessions.

A free port is only free when it is asked for: on a machine where other test
sessions start the same servers, another Pushgateway can bind it before ours
does. Ours then exits ("address already in use") while the other answers
/-/ready, and a test would read someone else's series. So a server counts as
ready only once its own process holds the listening socket, and a start that
lost its port is retried on a new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import yaml

PUSHGATEWAY_BINARY = "/usr/bin/prometheus-pushgateway"
PROMETHEUS_BINARY = "/usr/bin/prometheus"
PROMTOOL_BINARY = "/usr/bin/promtool"
STARTUP_TIMEOUT_SECONDS = 60.0
START_ATTEMPTS = 3
PORT_TAKEN = "address already in use"
TCP_LISTEN = "0A"  # socket state in /proc/net/tcp



S3_KEY = "testing-key"  # the moto server accepts any credentials; tests use these
S3_SECRET = "testing-secret"
S3_REGION = "us-east-1"

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningServer:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


@contextlib.contextmanager
def pushgateway_server(workdir: Path, basic_auth_users: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """basic_auth_users: username -> bcrypt hash; every request then needs basic auth."""
    options = []
    if basic_auth_users:
        web_config = workdir / "pushgateway-web.yml"
        web_config.write_text(yaml.safe_dump({"basic_auth_users": basic_auth_users}))
        options.append(f"--web.config.file={web_config}")

    def command(port: int) -> list[str]:
        # Debian builds default --persistence.file to /var/lib/prometheus/pushgateway.data: every Pushgateway on the
        # machine would load the series the last one saved at exit. An empty value turns persistence off.
        return [PUSHGATEWAY_BINARY, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", *options]

    with _running(command, workdir / "pushgateway.log") as server:
        yield server


@contextlib.contextmanager
def prometheus_server(
    workdir: Path,
    pushgateway_address: str,
    rule_files: Sequence[Path] = (),
    interval: str = "1s",
) -> Iterator[RunningServer]:
    """Prometheus scraping the Pushgateway (honor_labels, like infra/prometheus) every `interval`."""
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(Path(p).resolve()) for p in rule_files],
        "scrape_configs": [{
            "job_name": "pushgateway",
            "honor_labels": True,
            "static_configs": [{"targets": [pushgateway_address]}],
        }],
    }
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))

    def command(port: int) -> list[str]:
        return [PROMETHEUS_BINARY, f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}"]

    with _running(command, workdir / "prometheus.log") as server:
        yield server


@contextlib.contextmanager
def _running(command_for_port: Callable[[int], list[str]], log: Path) -> Iterator[RunningServer]:
    """Start the server on a free port; on a port lost to another process, again on a new one."""
    log.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        with open(log, "wb") as sink:
            process = subprocess.Popen(command_for_port(port), stdout=sink, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        server = RunningServer(process=process, port=port, log=log)
        try:
            _wait_ready(server)
            break
        except PortTaken:
            stop_process_group(process)
            if attempt == START_ATTEMPTS:
                raise
        except BaseException:
            stop_process_group(process)
            raise
    try:
        yield server
    finally:
        stop_process_group(process)


class PortTaken(RuntimeError):
    """Another process bound the port between free_port() and the server's own bind."""


def _wait_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            output = server.log.read_text()
            error = PortTaken if PORT_TAKEN in output else RuntimeError
            raise error(f"{server.process.args[0]} exited at start-up:\n{output[-3000:]}")
        if not listens_on(server.process.pid, server.port):  # whoever answers on the port is not ours (yet)
            time.sleep(0.2)
            continue
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as reply:
                if reply.status == 200:
                    return
        except urllib.error.HTTPError as err:
            if err.code == 401:  # up, and asking for the credentials it was started with
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{server.process.args[0]} not ready on {server.url}:\n{server.log.read_text()[-3000:]}")


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds a listening TCP socket on `port` (Linux /proc: socket inodes vs its fds)."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                    listening.add(f"socket:[{inode}]")
    if not listening:
        return False
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(FileNotFoundError, PermissionError):
        return any(os.readlink(fd) in listening for fd in fd_dir.iterdir())
    return False


def stop_process_group(process: subprocess.Popen, grace_seconds: float = 20) -> None:
    """Stop a server started in its own process group: SIGTERM to its leader, then SIGKILL to what is left.

    The leader alone gets SIGTERM: `ray start --block` stops its own processes and exits in ~2 s, where the same
    signal to the whole group at once took ~33 s (each process shutting down beside the others).
    """
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the group is gone already
        pass
    process.wait(timeout=30)


def prometheus_query(prometheus_url: str, promql: str) -> list[dict]:
    """Instant query through the HTTP API; the result vector (or [] for no data)."""
    query = urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/query?{query}", timeout=10) as reply:
        payload = json.load(reply)
    if payload["status"] != "success":
        raise AssertionError(f"query {promql!r} failed: {payload}")
    data = payload["data"]
    return data["result"] if data["resultType"] in ("vector", "matrix") else [data["result"]]


def prometheus_alerts(prometheus_url: str) -> list[dict]:
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/alerts", timeout=10) as reply:
        return json.load(reply)["data"]["alerts"]


def wait_until(condition, timeout: float = 60.0, interval: float = 0.5, what: str = "condition"):
    """Poll condition() until it returns something truthy; that value, or TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
