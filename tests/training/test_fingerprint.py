"""A run's fingerprint holds what decides its result, and nothing else: settings that decide nothing never force a
retrain of every stored model."""

from __future__ import annotations

from storm.config import StormConfig
from storm.splits import DateSplit
from storm.training.trainer import run_fingerprint

SPLIT = DateSplit(train=["2020-01-02"], validation=["2020-02-03"], test=[], embargo_days=20)


def fingerprint(**overrides) -> str:
    return run_fingerprint(StormConfig().with_overrides(overrides), SPLIT, world="w")


def test_a_drawdown_run_ignores_the_parameters_of_other_label_kinds():
    base = fingerprint()
    assert fingerprint(**{"labels.vol_multiple": 3.0, "labels.excess_threshold": 0.2,
                          "labels.index_market": "^GSPC"}) == base
    assert fingerprint(**{"labels.drawdown_threshold": 0.15}) != base


def test_a_label_kind_and_its_own_parameters_change_the_run():
    scaled = fingerprint(**{"labels.kind": "vol_scaled"})
    assert scaled != fingerprint()
    assert fingerprint(**{"labels.kind": "vol_scaled", "labels.vol_multiple": 3.0}) != scaled
    assert fingerprint(**{"labels.kind": "vol_scaled", "labels.drawdown_threshold": 0.2}) == scaled


def test_the_stored_date_range_and_sandbox_limits_decide_no_result():
    assert fingerprint(**{"ingest.latest_days_ahead": 5}) == fingerprint()
