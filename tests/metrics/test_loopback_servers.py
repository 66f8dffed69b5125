"""tests/servers.py: a test never talks to a server it did not start, even when its port was taken first."""

from __future__ import annotations

import itertools
import urllib.request

import pytest

import servers
from servers import listens_on, pushgateway_server

pytestmark = pytest.mark.slow


def push(url: str, market: str) -> None:
    body = f"# TYPE storm_alert_score gauge\nstorm_alert_score{{market=\"{market}\"}} 1\n".encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/metrics/job/storm", data=body, method="POST"), timeout=10)


def test_a_server_whose_port_was_taken_restarts_on_another_port_and_sees_none_of_the_others_series(
        tmp_path, monkeypatch):
    (tmp_path / "theirs").mkdir(), (tmp_path / "ours").mkdir()
    with pushgateway_server(tmp_path / "theirs") as theirs:
        push(theirs.url, "DAX")
        real_free_port = servers.free_port
        offered = itertools.chain([theirs.port], iter(real_free_port, None))  # first offer: a port already taken
        monkeypatch.setattr(servers, "free_port", lambda: next(offered))
        with pushgateway_server(tmp_path / "ours") as ours:
            assert ours.port != theirs.port
            assert listens_on(ours.process.pid, ours.port) and not listens_on(ours.process.pid, theirs.port)
            exposed = urllib.request.urlopen(f"{ours.url}/metrics", timeout=10).read().decode()
    assert 'market="DAX"' not in exposed


def test_a_new_pushgateway_starts_empty_whatever_an_earlier_one_held(tmp_path):
    """The stale-series flake: Debian's Pushgateway saved its series at exit and the next one loaded them."""
    (tmp_path / "first").mkdir(), (tmp_path / "second").mkdir()
    with pushgateway_server(tmp_path / "first") as first:
        push(first.url, "DAX")
    with pushgateway_server(tmp_path / "second") as second:
        exposed = urllib.request.urlopen(f"{second.url}/metrics", timeout=10).read().decode()
    assert "storm_alert_score" not in exposed
