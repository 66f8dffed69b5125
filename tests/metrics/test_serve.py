"""`storm metrics serve`: the textfile's current content on /metrics."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from servers import free_port
from storm.metrics.serve import make_server


@pytest.fixture
def served(tmp_path):
    textfile = tmp_path / "storm.prom"
    server = make_server(textfile, free_port(), host="127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield textfile, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def test_metrics_endpoint_serves_the_latest_textfile(served):
    textfile, url = served
    textfile.write_text("storm_scan_duration_seconds 1.0\n")
    assert get(f"{url}/metrics")[2] == "storm_scan_duration_seconds 1.0\n"
    textfile.write_text("storm_scan_duration_seconds 2.0\n")
    status, content_type, body = get(f"{url}/metrics")
    assert status == 200 and content_type.startswith("text/plain") and body.endswith("2.0\n")


def test_missing_textfile_answers_503_with_what_to_run(served):
    _, url = served
    status, _, body = get(f"{url}/metrics")
    assert status == 503 and "storm scan" in body


def test_other_paths_are_not_found(served):
    assert get(f"{served[1]}/")[0] == 404


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def listening_addresses(port: int) -> set[str]:
    """IPv4 addresses with a socket listening on port, from the kernel's table (/proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_serve_command_listens_on_loopback_only_unless_given_a_host(tmp_path):
    textfile = tmp_path / "storm.prom"
    textfile.write_text("storm_scan_duration_seconds 1.0\n")
    for extra, expected in (([], {"127.0.0.1"}), (["--host", "0.0.0.0"], {"0.0.0.0"})):
        port = free_port()
        command = [str(Path(sys.executable).parent / "storm"), "metrics", "serve", "--port", str(port),
                   "--set", f"metrics.textfile={textfile}", *extra]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment,
                                  start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while not listening_addresses(port):
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "storm metrics serve never listened"
                time.sleep(0.2)
            assert listening_addresses(port) == expected
            assert get(f"http://127.0.0.1:{port}/metrics")[2] == "storm_scan_duration_seconds 1.0\n"
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def test_an_idle_connection_is_closed_after_the_read_timeout_and_connections_are_capped(tmp_path):
    """300 idle sockets used to hold 300 threads for ever."""
    textfile = tmp_path / "storm.prom"
    textfile.write_text("storm_scan_duration_seconds 1.0\n")
    server = make_server(textfile, free_port(), host="127.0.0.1", read_timeout=0.5, max_connections=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = ("127.0.0.1", server.server_address[1])
    try:
        idle = [socket.create_connection(address, timeout=10) for _ in range(2)]
        time.sleep(0.1)
        with socket.create_connection(address, timeout=10) as third:  # over the cap: closed unanswered
            third.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            assert third.recv(1024) == b""
        started = time.monotonic()
        for connection in idle:  # closed by the server once the read timeout passes
            assert connection.recv(1024) == b""
            connection.close()
        assert time.monotonic() - started < 5
        time.sleep(0.2)
        assert get(f"http://127.0.0.1:{address[1]}/metrics")[0] == 200  # slots freed: scrapes go on
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
