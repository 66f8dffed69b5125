"""Fixtures for the metrics tests: a hand-made scores table, and real Pushgateway + Prometheus servers.

The servers come from tests/servers.py so other folders (the scan's end-to-end
test) can start the same ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics_samples import make_scores, make_stats
from servers import prometheus_server, pushgateway_server
from storm.config import MetricsConfig
from storm.schema import ScanStats

RULES = Path(__file__).resolve().parents[2] / "infra" / "prometheus" / "rules" / "storm.rules.yml"


@pytest.fixture
def scores():
    return make_scores()


@pytest.fixture
def stats() -> ScanStats:
    return make_stats()


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory):
    with pushgateway_server(tmp_path_factory.mktemp("pushgateway")) as server:
        yield server


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, pushgateway):
    """Prometheus scraping the Pushgateway every second and evaluating infra's storm rules."""
    with prometheus_server(tmp_path_factory.mktemp("prometheus"), pushgateway.address, rule_files=[RULES]) as server:
        yield server


@pytest.fixture
def metrics_config(tmp_path, pushgateway) -> MetricsConfig:
    return MetricsConfig(pushgateway_url=pushgateway.url, textfile=str(tmp_path / "storm.prom"),
                         push_retries=1, push_backoff_seconds=0.01)
