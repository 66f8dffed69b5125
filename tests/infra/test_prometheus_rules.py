"""infra/prometheus: config and alert rules checked and unit-tested by the real promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from storm.metrics import contract

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "infra" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "storm.rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "rules" / "storm.rules.test.yml"

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) not installed")


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def test_prometheus_config_is_valid_and_finds_the_rules():
    result = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_pushgateway_is_scraped_with_honor_labels():
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    pushgateway = next(job for job in config["scrape_configs"] if job["job_name"] == "pushgateway")
    assert pushgateway["honor_labels"] is True


def test_alert_rules_are_valid():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_promtool_unit_tests():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_use_only_contract_metric_names():
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    by_name = {rule["alert"]: rule for rule in rules}
    assert {"StormWarning", "StormScanStale", "StormHighQuarantineRatio"} <= set(by_name)
    assert contract.ALERT_SCORE in by_name["StormWarning"]["expr"]
    assert contract.ALERT_THRESHOLD in by_name["StormWarning"]["expr"]
    assert contract.SCAN_LAST_SUCCESS in by_name["StormScanStale"]["expr"]
    assert "absent(" in by_name["StormScanStale"]["expr"]
    assert contract.SCAN_INPUTS in by_name["StormHighQuarantineRatio"]["expr"]
    assert all(rule["labels"]["severity"] for rule in rules)


def test_horizon_order_rule_compares_every_pair_of_the_configured_horizons():
    from itertools import combinations

    from storm.config import LabelConfig

    groups = {group["name"]: group["rules"] for group in yaml.safe_load(RULES.read_text())["groups"]}
    by_name = {rule.get("record") or rule["alert"]: rule for rule in groups["storm_coherence"]}
    recorded = by_name["storm:alert_score_horizon_inversion"]["expr"]
    for shorter, longer in combinations(LabelConfig().horizons, 2):
        pair = (f'{contract.ALERT_SCORE}{{horizon="{shorter}"}} - ignoring (horizon) '
                f'{contract.ALERT_SCORE}{{horizon="{longer}"}} > 1e-6')
        assert pair in " ".join(recorded.split()), f"no rule compares the {shorter}d and {longer}d scores"
        assert f'"shorter", "{shorter}", "", ""), "longer", "{longer}", "", "")' in " ".join(recorded.split())
    incoherent = by_name["StormScoresIncoherent"]
    assert "storm:alert_score_horizon_inversion" in incoherent["expr"] and incoherent["labels"]["severity"]


def test_why_alerting_rules_read_the_contract_contribution_of_markets_on_alert():
    groups = {group["name"]: group for group in yaml.safe_load(RULES.read_text())["groups"]}
    rules = {rule["record"]: rule["expr"] for rule in groups["storm_explanations"]["rules"]}
    assert contract.ALERT_CONTRIBUTION in rules["storm:alert_contribution:on_alert"]
    assert contract.ALERT_ACTIVE in rules["storm:alert_contribution:on_alert"]
    assert "topk" in rules["storm:alert_main_driver"]
