"""A pushed scan seen through real Prometheus: every contract metric, every dashboard query, the StormWarning alert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servers import prometheus_alerts, prometheus_query, wait_until
from storm.metrics import build_registry, contract, publish

DASHBOARD = Path(__file__).resolve().parents[2] / "infra" / "grafana" / "dashboards" / "storm.json"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scraped(prometheus, pushgateway, tmp_path_factory):
    """One scan pushed to the Pushgateway and scraped at least once by Prometheus."""
    from metrics_samples import make_scores, make_stats
    from storm.config import MetricsConfig

    metrics = MetricsConfig(pushgateway_url=pushgateway.url, textfile=str(tmp_path_factory.mktemp("tf") / "storm.prom"))
    publish(build_registry(make_scores(), make_stats(), {"run": "demo"}), metrics)
    wait_until(lambda: prometheus_query(prometheus.url, contract.SCAN_INPUTS), what="the pushed scan in Prometheus")
    return prometheus


@pytest.mark.parametrize("metric", contract.ALL_METRICS)
def test_every_contract_metric_reaches_prometheus_with_the_pushed_job_label(scraped, metric):
    series = prometheus_query(scraped.url, metric)
    assert series, f"{metric} not in Prometheus"
    assert {s["metric"]["job"] for s in series} == {"storm_nightly_scan"}  # honor_labels kept the pushed job


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel.get("targets", [])]


@pytest.mark.parametrize(("title", "expr"), dashboard_queries())
def test_every_dashboard_query_returns_data(scraped, title, expr):
    assert prometheus_query(scraped.url, expr), f"panel {title!r}: {expr} returned nothing"


def test_dashboard_alert_table_lists_exactly_the_market_over_threshold(scraped):
    alert_query = next(expr for title, expr in dashboard_queries() if title.startswith("Current alerts"))
    in_alert = {(s["metric"]["market"], s["metric"]["horizon"]) for s in prometheus_query(scraped.url, alert_query)}
    assert in_alert == {("SPX", "20")}


def test_storm_warning_goes_pending_for_the_market_over_threshold(scraped):
    def storm_warnings():
        return [a for a in prometheus_alerts(scraped.url) if a["labels"]["alertname"] == "StormWarning"]

    alerts = wait_until(storm_warnings, what="StormWarning in /api/v1/alerts")
    assert {(a["labels"]["market"], a["labels"]["horizon"]) for a in alerts} == {("SPX", "20")}
    assert alerts[0]["state"] in ("pending", "firing")
    assert alerts[0]["annotations"]["summary"] == "Storm warning: SPX within 20 trading days"
