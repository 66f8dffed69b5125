"""`storm metrics serve`: the textfile's current content on /metrics."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

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
