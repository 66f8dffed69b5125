"""build_registry: the scores table and scan stats become the contract's gauges, with the right labels."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client import generate_latest

from metrics_samples import HAND_MADE_SCORES, SCAN_DATE, THRESHOLDS
from storm.metrics import contract
from storm.metrics.contract import as_of_timestamp, build_registry


def samples(registry) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in registry.collect() for s in family.samples}


def value(registry, name: str, **labels) -> float:
    return samples(registry)[(name, tuple(sorted(labels.items())))]


def test_every_contract_metric_is_present_and_only_gauges(scores, stats):
    registry = build_registry(scores, stats, {"run": "demo"})
    families = {family.name: family for family in registry.collect()}
    assert set(families) == set(contract.ALL_METRICS)
    assert {family.type for family in families.values()} == {"gauge"}
    assert not any(name.endswith("_created") for name, _ in samples(registry))


def test_scores_thresholds_and_alerts_carry_market_and_horizon(scores, stats):
    registry = build_registry(scores, stats, {})
    for (market, horizon), score in HAND_MADE_SCORES.items():
        assert value(registry, contract.ALERT_SCORE, market=market, horizon=str(horizon)) == pytest.approx(score)
        expected_alert = 1.0 if score >= THRESHOLDS[horizon] else 0.0
        assert value(registry, contract.ALERT_ACTIVE, market=market, horizon=str(horizon)) == expected_alert
    for horizon, threshold in THRESHOLDS.items():
        assert value(registry, contract.ALERT_THRESHOLD, horizon=str(horizon)) == pytest.approx(threshold)


def test_explicit_thresholds_override_the_scores_column(scores, stats):
    registry = build_registry(scores, stats, {}, thresholds={20: 0.9})
    assert value(registry, contract.ALERT_THRESHOLD, horizon="20") == pytest.approx(0.9)
    assert (contract.ALERT_THRESHOLD, (("horizon", "5"),)) not in samples(registry)


def test_modality_weights_come_from_the_longest_horizon(scores, stats):
    registry = build_registry(scores, stats, {})
    assert value(registry, contract.MODALITY_WEIGHT, market="SPX", modality="news") == pytest.approx(0.5 + 20 / 1000)
    assert value(registry, contract.MODALITY_WEIGHT, market="DAX", modality="prices") == pytest.approx(0.6)


def test_contributions_carry_market_horizon_member_and_modality(scores, stats):
    registry = build_registry(scores, stats, {})
    assert value(registry, contract.ALERT_CONTRIBUTION, market="SPX", horizon="5", member="fused",
                 modality="news") == pytest.approx(0.5 + 5 / 1000)
    assert value(registry, contract.ALERT_CONTRIBUTION, market="DAX", horizon="20", member="fused",
                 modality="calls") == pytest.approx(0.4)
    assert len([k for k in samples(registry) if k[0] == contract.ALERT_CONTRIBUTION]) == len(scores) * 3


def test_a_stacked_scores_members_are_published_with_modality_all_and_unused_members_are_not(scores, stats):
    stacked = scores.assign(member_garch=0.03, member_fused=0.01, member_boosted=float("nan"))
    registry = build_registry(stacked, stats, {})
    assert value(registry, contract.ALERT_CONTRIBUTION, market="SPX", horizon="5", member="garch",
                 modality="all") == pytest.approx(0.03)
    members = {dict(k[1])["member"] for k in samples(registry) if k[0] == contract.ALERT_CONTRIBUTION
               and dict(k[1])["modality"] == "all"}
    assert members == {"garch", "fused"}


def test_scores_stored_before_stacks_existed_still_publish(scores, stats):
    old = scores.drop(columns=[c for c in scores.columns if c.startswith("member_")])
    registry = build_registry(old, stats, {})
    assert len([k for k in samples(registry) if k[0] == contract.ALERT_CONTRIBUTION]) == len(scores) * 3


def test_scan_gauges_report_stats_and_the_scored_dates_midnight(scores, stats):
    registry = build_registry(scores, stats, {})
    assert value(registry, contract.SCAN_AS_OF) == as_of_timestamp(SCAN_DATE) == 1_710_460_800.0
    assert value(registry, contract.SCAN_LAST_SUCCESS) == stats.finished_at
    assert value(registry, contract.SCAN_DURATION) == 42.5
    assert value(registry, contract.SCAN_MARKETS_MISSING) == 1
    assert value(registry, contract.SCAN_MARKETS_SCORED) == 2
    assert value(registry, contract.SCAN_INPUTS, modality="calls", status="quarantined") == 1
    assert value(registry, contract.SCAN_INPUTS, modality="prices", status="missing") == 0


def test_model_info_labels_default_version_to_the_scores_model(scores, stats):
    registry = build_registry(scores, stats, {"run": "demo", "fusion": "gated"})
    assert value(registry, contract.MODEL_INFO, fusion="gated", run="demo", version="demo-3f2a") == 1.0


def test_without_stats_the_scan_stats_gauges_are_left_out(scores):
    names = {name for name, _ in samples(build_registry(scores, None, {}))}
    assert not names & set(contract.SCAN_STATS_METRICS)
    assert contract.ALERT_SCORE in names and contract.SCAN_AS_OF in names


def test_a_scores_table_missing_columns_is_refused_with_the_column_names(scores, stats):
    with pytest.raises(ValueError, match="weight_calls"):
        build_registry(scores.drop(columns=["weight_calls"]), stats, {})


def test_promtool_accepts_the_exposition(scores, stats):
    exposition = generate_latest(build_registry(scores, stats, {"run": "demo"}))
    result = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=60)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert result.stdout.decode().strip() == "" and result.stderr.decode().strip() == ""
