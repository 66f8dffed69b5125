"""Paired block bootstrap: 95% intervals for AUROC, PR-AUC, Brier and ECE, and for fused − other.

One resample draws markets with replacement and, independently, moving blocks of
consecutive test dates (blocks at least as long as the longest horizon, so the
overlap of forward-looking labels stays inside a block). Row (market, date) then
weighs (times its market was drawn) × (times its date was drawn). The same
weights serve every model, so a difference is measured on the same resampled
world for both sides (paired). Metrics are weighted rank statistics in numpy, a
whole chunk of resamples at once: no per-resample sklearn call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from arch.bootstrap import MovingBlockBootstrap
from scipy import sparse
from threadpoolctl import threadpool_limits

from storm.config import EvaluationConfig

METRICS = ("auroc", "pr_auc", "brier", "ece")
HIGHER_IS_BETTER = {"auroc": True, "pr_auc": True, "brier": False, "ece": False}
PROBABILITY_METRICS = ("brier", "ece")
RESAMPLES_PER_CHUNK = 50  # bounds memory: a chunk holds RESAMPLES_PER_CHUNK × rows weights


@dataclass(frozen=True)
class Interval:
    """A figure on the test rows as they are, and its percentile interval over resamples."""

    estimate: float | None
    low: float | None
    high: float | None
    n_resamples: int  # resamples where the figure was defined

    def as_dict(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n_resamples": self.n_resamples}


def verdict(difference: Interval, metric: str) -> str | None:
    """Whether the reference model is "better", "worse" or "not distinguishable": the interval must exclude 0."""
    if difference.low is None or difference.high is None:
        return None
    above, below = difference.low > 0, difference.high < 0
    if not above and not below:
        return "not distinguishable"
    return "better" if above == HIGHER_IS_BETTER[metric] else "worse"


DEFAULT_BLOCK_DAYS = 60
"""About a quarter of trading days. Measured on stocknet and reuters-sp500 (BENCHMARKS, "block length"): blocks of
60 days widen the 20-day fused - prices-only intervals by 19-22% over blocks of the 20-day horizon, so volatility
regimes outlast the label horizon and shorter blocks understate the uncertainty."""


def block_length(settings: EvaluationConfig, horizons: list[int]) -> int:
    """evaluation.block_days, or DEFAULT_BLOCK_DAYS (at least the longest horizon); shorter blocks would cut
    overlapping labels apart."""
    longest = max(horizons)
    if settings.block_days is None:
        return max(DEFAULT_BLOCK_DAYS, longest)
    if settings.block_days < longest:
        raise ValueError(f"evaluation.block_days={settings.block_days} is shorter than the longest horizon "
                         f"({longest} days): labels overlap across blocks; set it to {longest} or more, or leave it unset")
    return settings.block_days


def resample_counts(n_markets: int, n_dates: int, n_resamples: int, block_days: int,
                    seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks of (market counts [n_markets, C], date counts [n_dates, C]): how often each was drawn per resample."""
    rng = np.random.default_rng(seed)
    blocks = MovingBlockBootstrap(min(block_days, n_dates), np.arange(n_dates), seed=rng)
    for start in range(0, n_resamples, RESAMPLES_PER_CHUNK):
        size = min(RESAMPLES_PER_CHUNK, n_resamples - start)
        markets = np.stack([np.bincount(rng.integers(0, n_markets, n_markets), minlength=n_markets)
                            for _ in range(size)], axis=1)
        dates = np.stack([np.bincount(blocks.update_indices(), minlength=n_dates) for _ in range(size)], axis=1)
        yield markets.astype(np.float64), dates.astype(np.float64)


class RankedRows:
    """One model's scores at one horizon on its usable rows, reduced to the sums the metrics need.

    Sorted by score, the rows fall into segments: for each tie group holding a storm
    day, its calm rows and its storm rows; and the calm rows between such groups.
    Every metric is then a function of the segments' weight sums, which one sparse
    product gives for a whole chunk of resamples.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_bins: int):
        ordered = rows[np.argsort(scores[rows], kind="stable")]
        score, label = scores[ordered], labels[ordered]
        group = np.cumsum(np.concatenate([[True], score[1:] != score[:-1]])) - 1
        positive_groups = np.unique(group[label == 1])
        self.n_groups = len(positive_groups)
        in_positive_group = np.isin(group, positive_groups)
        rank = np.searchsorted(positive_groups, group)  # index among storm groups (valid where in one)
        first_row = np.searchsorted(group, positive_groups)  # sorted position where each storm group starts
        between = np.searchsorted(first_row, np.arange(len(ordered)), side="right")  # storm groups started so far
        # segment rows: calm between storm groups [0, G], calm tied with storm [G+1, 2G], storm [2G+1, 3G]
        groups = self.n_groups
        segment = np.where(in_positive_group, rank + 1 + groups * (1 + (label == 1)), between)
        n_segments = 3 * self.n_groups + 1
        bins = np.clip((np.clip(score, 0, 1) * n_bins).astype(int), 0, n_bins - 1)
        # one sparse map from row weights to every sum: segments, then Brier's sum, then the gap per bin (ECE)
        self.sums = sparse.csr_matrix(
            (np.concatenate([np.ones(len(ordered)), (score - label) ** 2, score - label]),
             (np.concatenate([segment, np.full(len(ordered), n_segments), n_segments + 1 + bins]), np.tile(ordered, 3))),
            shape=(n_segments + 1 + n_bins, len(scores)))

    def metrics(self, weights: np.ndarray, probabilistic: bool) -> dict[str, np.ndarray]:
        """Each metric per resample from row weights [all table rows, C] (rows outside this model's are ignored)."""
        g = self.n_groups
        sums = self.sums @ weights  # [3G + 1 + 1 + bins, C]
        calm_between, calm_tied, storm_tied, errors = sums[:g], sums[g + 1:2 * g + 1], sums[2 * g + 1:3 * g + 1], sums[3 * g + 1:]
        storm_total = storm_tied.sum(axis=0)
        calm_total = sums[:2 * g + 1].sum(axis=0)
        calm_below = np.cumsum(calm_between + calm_tied, axis=0)
        calm_below -= calm_tied  # calm weight strictly below each storm group
        storm_below = np.cumsum(storm_tied, axis=0)
        storm_below -= storm_tied
        with np.errstate(invalid="ignore", divide="ignore"):
            # AUROC: each storm day beats the calm days below its tie group and half those tied with it
            auroc = (storm_tied * (calm_below + 0.5 * calm_tied)).sum(axis=0) / (storm_total * calm_total)
            # average precision (sklearn's): Σ over thresholds of Δrecall × precision at that threshold
            true_alerts, false_alerts = storm_total - storm_below, calm_total - calm_below
            precision = np.divide(true_alerts, true_alerts + false_alerts, out=np.zeros_like(true_alerts),
                                  where=true_alerts + false_alerts > 0)
            defined = (storm_total > 0) & (calm_total > 0)
            result = {"auroc": np.where(defined, auroc, np.nan),
                      "pr_auc": np.where(storm_total > 0, (storm_tied * precision).sum(axis=0) / storm_total, np.nan)}
            if probabilistic:
                total = calm_total + storm_total
                result["brier"] = errors[0] / total
                result["ece"] = np.abs(errors[1:]).sum(axis=0) / total
        return result


@dataclass
class BootstrapInput:
    """Test rows pooled over folds, aligned across models (NaN score = that model has no score there)."""

    markets: np.ndarray  # [n] market name per row
    dates: np.ndarray  # [n] date per row
    labels: dict[int, np.ndarray]  # horizon -> [n] 0/1/NaN
    scores: dict[str, dict[int, np.ndarray]]  # model -> horizon -> [n]
    probabilistic: dict[str, dict[int, bool]]  # model -> horizon -> score is a probability (Brier/ECE make sense)


def paired_bootstrap(data: BootstrapInput, horizons: list[int], reference: str | None,
                     settings: EvaluationConfig) -> dict:
    """{h: {"models": {m: {metric: Interval}}, "vs_reference": {m: {metric: (Interval, verdict)}}}}.

    Each model is scored on its rows with a known label and a score; a difference on
    the rows both models scored. ``reference`` (the fused model) minus each other model.
    """
    market_index = np.unique(data.markets, return_inverse=True)[1]
    date_index = np.unique(data.dates, return_inverse=True)[1]
    tasks = _tasks(data, horizons, reference, settings.calibration_bins)
    samples = {key: {metric: [] for metric in METRICS} for key in tasks}
    block = block_length(settings, horizons)
    n_markets, n_dates = market_index.max() + 1, date_index.max() + 1
    with threadpool_limits(1):  # one core: BLAS threads only contend on a shared machine
        for market_counts, date_counts in resample_counts(n_markets, n_dates, settings.bootstrap_resamples, block,
                                                          settings.bootstrap_seed):
            weights = market_counts[market_index] * date_counts[date_index]  # [rows, C]
            for key, (ranked, probabilistic) in tasks.items():
                for metric, values in ranked.metrics(weights, probabilistic).items():
                    samples[key][metric].append(values)
        everything_once = np.ones((len(market_index), 1))
        estimates = {key: ranked.metrics(everything_once, probabilistic) for key, (ranked, probabilistic) in tasks.items()}
    return _summarise(data, horizons, reference, tasks, samples, estimates, settings.confidence)


def _tasks(data: BootstrapInput, horizons, reference, n_bins) -> dict[tuple, tuple[RankedRows, bool]]:
    """(model, horizon, rows-key) -> ranked rows; a difference reuses a model's own rows when they are the same."""
    tasks = {}
    for h in horizons:
        known = ~np.isnan(data.labels[h])
        usable = {m: known & ~np.isnan(data.scores[m][h]) for m in data.scores}
        for model in data.scores:
            pairs = [(model, usable[model])]
            if reference is not None and model != reference:
                both = usable[model] & usable[reference]
                pairs += [(model, both), (reference, both)]
            for name, mask in pairs:
                key = (name, h, _rows_key(mask, usable[name]))
                if key not in tasks and mask.any():
                    probabilistic = data.probabilistic.get(name, {}).get(h, True)
                    tasks[key] = (RankedRows(data.scores[name][h], data.labels[h], np.flatnonzero(mask), n_bins),
                                  probabilistic)
    return tasks


def _rows_key(mask: np.ndarray, own: np.ndarray):
    return "own" if np.array_equal(mask, own) else mask.tobytes()


def _summarise(data, horizons, reference, tasks, samples, estimates, confidence) -> dict:
    tail = 100 * (1 - confidence) / 2
    stacked = {key: {metric: np.concatenate(values) for metric, values in by_metric.items() if values}
               for key, by_metric in samples.items()}

    def interval(values: np.ndarray | None, estimate: float | None) -> Interval:
        if values is None:
            return Interval(None, None, None, 0)
        defined = values[~np.isnan(values)]
        if not len(defined) or estimate is None:
            return Interval(estimate, None, None, len(defined))
        low, high = np.percentile(defined, [tail, 100 - tail])
        return Interval(estimate, float(low), float(high), len(defined))

    def estimate(key, metric):
        value = estimates.get(key, {}).get(metric)
        return None if value is None or np.isnan(value[0]) else float(value[0])

    result = {}
    for h in horizons:
        known = ~np.isnan(data.labels[h])
        models, versus = {}, {}
        for model in data.scores:
            own_key = (model, h, "own")
            models[model] = {metric: interval(stacked.get(own_key, {}).get(metric), estimate(own_key, metric))
                             for metric in METRICS}
            if reference is None or model == reference:
                continue
            both = known & ~np.isnan(data.scores[model][h]) & ~np.isnan(data.scores[reference][h])
            key_of = lambda name: (name, h, _rows_key(both, known & ~np.isnan(data.scores[name][h])))  # noqa: E731
            versus[model] = {}
            for metric in METRICS:
                ours, theirs = stacked.get(key_of(reference), {}).get(metric), stacked.get(key_of(model), {}).get(metric)
                ours_now, theirs_now = estimate(key_of(reference), metric), estimate(key_of(model), metric)
                difference = interval(None if ours is None or theirs is None else ours - theirs,
                                      None if ours_now is None or theirs_now is None else ours_now - theirs_now)
                versus[model][metric] = (difference, verdict(difference, metric))
        result[h] = {"models": models, "vs_reference": versus}
    return result
