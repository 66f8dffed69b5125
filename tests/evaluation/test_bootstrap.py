"""The paired block bootstrap: fast weighted metrics equal sklearn's, and intervals with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from storm.config import EvaluationConfig
from storm.evaluation.bootstrap import BootstrapInput, RankedRows, block_length, paired_bootstrap, resample_counts

HORIZONS = [5, 20]


def world(n_markets=12, n_dates=150, seed=0):
    """Rows of a panel with labels per horizon, keyed by market and date."""
    rng = np.random.default_rng(seed)
    markets = np.repeat([f"M{i:02d}" for i in range(n_markets)], n_dates)
    dates = np.tile([f"2020-{1 + d // 28:02d}-{1 + d % 28:02d}" for d in range(n_dates)], n_markets)
    labels = {h: (rng.random(len(markets)) < 0.15).astype(float) for h in HORIZONS}
    return rng, markets, dates, labels


def test_weighted_metrics_equal_sklearn_with_ties_weights_and_a_row_subset():
    rng = np.random.default_rng(3)
    labels = (rng.random(3000) < 0.12).astype(float)
    scores = np.round(np.clip(0.1 + 0.3 * labels + 0.2 * rng.standard_normal(3000), 0, 1), 2)  # many ties
    weights = rng.integers(0, 4, 3000).astype(float)
    rows = np.flatnonzero(rng.random(3000) < 0.6)
    figures = RankedRows(scores, labels, rows, n_bins=10).metrics(weights[:, None], probabilistic=True)
    y, s, w = labels[rows], scores[rows], weights[rows]
    assert figures["auroc"][0] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert figures["pr_auc"][0] == pytest.approx(average_precision_score(y, s, sample_weight=w), abs=1e-12)
    assert figures["brier"][0] == pytest.approx(brier_score_loss(y, s, sample_weight=w), abs=1e-12)
    bins = np.minimum((s * 10).astype(int), 9)
    ece = sum(abs(np.sum(w[bins == b] * (s - y)[bins == b])) for b in range(10)) / w.sum()
    assert figures["ece"][0] == pytest.approx(ece, abs=1e-12)


def test_identical_models_differ_by_exactly_zero_in_every_resample():
    rng, markets, dates, labels = world()
    score = {h: np.clip(0.2 + 0.3 * labels[h] + 0.3 * rng.standard_normal(len(markets)), 0, 1) for h in HORIZONS}
    data = BootstrapInput(markets, dates, labels, {"fused": score, "twin": {h: s.copy() for h, s in score.items()}}, {})
    result = paired_bootstrap(data, HORIZONS, "fused", EvaluationConfig(bootstrap_resamples=200))
    for h in HORIZONS:
        for metric, (difference, verdict) in result[h]["vs_reference"]["twin"].items():
            assert (difference.estimate, difference.low, difference.high) == (0.0, 0.0, 0.0), metric
            assert verdict == "not distinguishable"
        own = result[h]["models"]["fused"]["auroc"]
        assert own.low < own.estimate < own.high  # the model's own figure does vary


def test_perfect_scores_beat_random_scores_far_beyond_the_interval():
    rng, markets, dates, labels = world(seed=1)
    perfect = {h: labels[h].copy() for h in HORIZONS}
    random = {h: rng.random(len(markets)) for h in HORIZONS}
    data = BootstrapInput(markets, dates, labels, {"fused": perfect, "coin": random}, {})
    result = paired_bootstrap(data, HORIZONS, "fused", EvaluationConfig(bootstrap_resamples=200))
    for h in HORIZONS:
        auroc, verdict = result[h]["vs_reference"]["coin"]["auroc"]
        assert auroc.low > 0.4 and verdict == "better"
        assert result[h]["models"]["fused"]["auroc"].low == 1.0
        brier, brier_verdict = result[h]["vs_reference"]["coin"]["brier"]
        assert brier.high < 0 and brier_verdict == "better"  # lower Brier is better: fused − coin < 0


def test_iid_mean_interval_matches_the_normal_interval():
    """One market, one-day blocks: the bootstrap of a mean is the classic iid bootstrap."""
    rng = np.random.default_rng(5)
    n = 4000
    labels = {1: (rng.random(n) < 0.3).astype(float)}
    data = BootstrapInput(np.full(n, "ONLY"), np.arange(n).astype(str), labels,
                          {"zero": {1: np.zeros(n)}}, {})  # Brier of a constant 0 forecast = mean label
    brier = paired_bootstrap(data, [1], None, EvaluationConfig(bootstrap_resamples=2000))[1]["models"]["zero"]["brier"]
    mean = labels[1].mean()
    half_width = 1.96 * np.sqrt(mean * (1 - mean) / n)
    assert brier.estimate == pytest.approx(mean)
    assert brier.low == pytest.approx(mean - half_width, abs=0.1 * half_width)
    assert brier.high == pytest.approx(mean + half_width, abs=0.1 * half_width)


def test_same_seed_same_intervals_other_seed_other_intervals():
    rng, markets, dates, labels = world(seed=2)
    scores = {"fused": {h: rng.random(len(markets)) for h in HORIZONS}, "garch": {h: rng.random(len(markets)) for h in HORIZONS}}
    data = BootstrapInput(markets, dates, labels, scores, {})

    def auroc_interval(seed):
        interval = paired_bootstrap(data, HORIZONS, "fused", EvaluationConfig(bootstrap_resamples=100, bootstrap_seed=seed))
        return interval[20]["vs_reference"]["garch"]["auroc"][0]

    assert auroc_interval(4) == auroc_interval(4)
    assert auroc_interval(4) != auroc_interval(5)


def test_time_blocks_are_whole_runs_of_consecutive_dates():
    _, date_counts = next(resample_counts(n_markets=3, n_dates=100, n_resamples=5, block_days=20, seed=0))
    assert date_counts.shape == (100, 5) and (date_counts.sum(axis=0) == 100).all()
    # moving blocks of 20 over 100 dates: 5 blocks, so at most 5 runs of drawn dates per resample
    drawn = date_counts > 0
    runs = (drawn[1:] & ~drawn[:-1]).sum(axis=0) + drawn[0]
    assert (runs <= 5).all()


def test_a_model_without_scores_on_some_rows_is_compared_on_the_rows_both_scored():
    rng, markets, dates, labels = world(seed=4)
    fused = {h: labels[h] + 0.0 for h in HORIZONS}
    partial = {h: labels[h] + 0.0 for h in HORIZONS}
    for h in HORIZONS:
        partial[h][:300] = np.nan  # e.g. GARCH without enough history on the first rows
    data = BootstrapInput(markets, dates, labels, {"fused": fused, "garch": partial}, {})
    result = paired_bootstrap(data, HORIZONS, "fused", EvaluationConfig(bootstrap_resamples=50))
    difference, verdict = result[20]["vs_reference"]["garch"]["auroc"]
    assert (difference.low, difference.high) == (0.0, 0.0)


def test_default_blocks_span_a_quarter_of_trading_days_or_the_longest_horizon_if_longer():
    assert block_length(EvaluationConfig(), [5, 10, 20]) == 60
    assert block_length(EvaluationConfig(), [5, 90]) == 90
    assert block_length(EvaluationConfig(block_days=20), [5, 10, 20]) == 20


def test_blocks_shorter_than_the_longest_horizon_are_refused():
    _, markets, dates, labels = world()
    data = BootstrapInput(markets, dates, labels, {"fused": {h: labels[h] for h in HORIZONS}}, {})
    with pytest.raises(ValueError, match="evaluation.block_days=5 .* longest horizon \\(20"):
        paired_bootstrap(data, HORIZONS, "fused", EvaluationConfig(block_days=5))


def test_non_probabilistic_scores_get_no_brier_or_ece():
    rng, markets, dates, labels = world()
    data = BootstrapInput(markets, dates, labels, {"garch": {h: rng.normal(size=len(markets)) for h in HORIZONS}},
                          {"garch": {5: False, 20: False}})
    figures = paired_bootstrap(data, HORIZONS, None, EvaluationConfig(bootstrap_resamples=20))[5]["models"]["garch"]
    assert figures["brier"].estimate is None and figures["ece"].low is None
    assert figures["auroc"].estimate is not None
