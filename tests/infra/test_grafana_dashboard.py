"""infra/grafana: the committed dashboard JSON is what build_dashboard.py produces, wired to the provisioned datasource."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import yaml

from storm.metrics import contract

GRAFANA_DIR = Path(__file__).resolve().parents[2] / "infra" / "grafana"
COMMITTED = GRAFANA_DIR / "dashboards" / "storm.json"


def load_builder():
    spec = importlib.util.spec_from_file_location("build_dashboard", GRAFANA_DIR / "build_dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard_targets(board: dict) -> list[dict]:
    return [target for panel in board["panels"] for target in panel.get("targets", [])]


def test_committed_dashboard_is_in_sync_with_the_builder():
    regenerated = load_builder().render()
    assert COMMITTED.read_text() == regenerated, "run `python infra/grafana/build_dashboard.py` and commit the JSON"


def test_dashboard_is_bare_json_with_fixed_datasource_uid_and_ref_ids():
    board = json.loads(COMMITTED.read_text())
    assert "dashboard" not in board and board["uid"] and board["title"]
    provisioned = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = provisioned["datasources"][0]["uid"]
    targets = dashboard_targets(board)
    assert targets
    for target in targets:
        assert target["refId"], target
        assert target["datasource"] == {"type": "prometheus", "uid": uid}
    assert "${DS_PROMETHEUS}" not in COMMITTED.read_text()


def test_dashboard_shows_every_contract_metric_family_a_reader_needs():
    queries = " ".join(target["expr"] for target in dashboard_targets(json.loads(COMMITTED.read_text())))
    used = set(re.findall(r"storm_[a-z_]+", queries))
    assert used <= set(contract.ALL_METRICS), used - set(contract.ALL_METRICS)
    for needed in (contract.ALERT_SCORE, contract.ALERT_THRESHOLD, contract.ALERT_CONTRIBUTION, contract.SCAN_LAST_SUCCESS,
                   contract.SCAN_DURATION, contract.SCAN_INPUTS):
        assert needed in used


def test_why_is_it_alerting_shows_the_contributions_of_alerting_markets_only():
    board = json.loads(COMMITTED.read_text())
    panel = next(p for p in board["panels"] if p.get("title") == "Why is it alerting")
    expr = panel["targets"][0]["expr"]
    assert contract.ALERT_CONTRIBUTION in expr and f"({contract.ALERT_ACTIVE} == 1)" in expr
    assert "modality" in panel["targets"][0]["legendFormat"]


def test_dashboard_provider_points_grafana_at_files():
    provider = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "provider.yml").read_text())
    assert provider["providers"][0]["type"] == "file"
    assert provider["providers"][0]["options"]["path"]
