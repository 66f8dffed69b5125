"""Paired block bootstrap: intervals for within-fold and cross-sectional AUROC, PR-AUC, Brier, log loss and ECE,
and for reference − other.

The ranking figures never compare two folds' scores: each fold's model is calibrated on
its own validation block, so a storm day of one fold ranked against a calm day of another
measures the two calibrations, not the models. AUROC is the share of within-fold
(storm, calm) pairs ranked right, folds weighted by their pairs; the cross-sectional AUROC
ranks each date's storm markets against its calm ones, averaged over dates holding both.
Any strictly increasing map applied to one fold's scores leaves both unchanged.

One resample draws markets with replacement and, independently within each fold's test
block, moving blocks of consecutive dates (blocks at least as long as the longest horizon,
so the overlap of forward-looking labels stays inside a block). Row (market, date) then
weighs (times its market was drawn) × (times its date was drawn). The same weights serve
every model, so a difference is measured on the same resampled world for both sides
(paired). Metrics are weighted rank statistics in numpy, a whole chunk of resamples at
once: no per-resample sklearn call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from arch.bootstrap import MovingBlockBootstrap
from scipy import sparse
from threadpoolctl import threadpool_limits

from storm.config import EvaluationConfig

METRICS = ("auroc", "cross_sectional_auroc", "pr_auc", "brier", "log_loss", "ece")
HIGHER_IS_BETTER = {"auroc": True, "cross_sectional_auroc": True, "pr_auc": True, "brier": False, "log_loss": False,
                    "ece": False}
PROBABILITY_METRICS = ("brier", "log_loss", "ece")
RESAMPLES_PER_CHUNK = 50  # bounds memory: a chunk holds RESAMPLES_PER_CHUNK × rows weights
PROBABILITY_FLOOR = np.finfo(np.float64).eps  # log loss clips probabilities to [eps, 1 − eps], as scikit-learn does


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
"""About a quarter of trading days. Measured on stocknet and reuters-sp500: blocks of
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


def resample_counts(n_markets: int, n_dates: int, n_resamples: int, block_days: int, seed: int,
                    date_folds: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks of (market counts [n_markets, C], date counts [n_dates, C]): how often each was drawn per resample.

    ``date_folds`` [n_dates]: the fold each date's test block belongs to (None: one fold). Blocks are drawn within
    each fold, so every resample keeps each fold's number of test dates and no block spans two folds' models.
    """
    rng = np.random.default_rng(seed)
    date_folds = np.zeros(n_dates, dtype=np.int64) if date_folds is None else np.asarray(date_folds)
    fold_dates = [np.flatnonzero(date_folds == fold) for fold in np.unique(date_folds)]
    blocks = [MovingBlockBootstrap(min(block_days, len(dates)), np.arange(len(dates)), seed=rng) for dates in fold_dates]
    for start in range(0, n_resamples, RESAMPLES_PER_CHUNK):
        size = min(RESAMPLES_PER_CHUNK, n_resamples - start)
        markets = np.stack([np.bincount(rng.integers(0, n_markets, n_markets), minlength=n_markets)
                            for _ in range(size)], axis=1)
        dates = np.zeros((n_dates, size))
        for index, column in ((d, c) for c in range(size) for d in range(len(fold_dates))):
            dates[fold_dates[index], column] = np.bincount(blocks[index].update_indices(),
                                                           minlength=len(fold_dates[index]))
        yield markets.astype(np.float64), dates


class RankedRows:
    """One model's scores at one horizon on its usable rows, reduced to the sums the metrics need, per group.

    Rows are ranked within their group only (a fold, or a date): sorted by (group, score),
    they fall into segments: for each tie group holding a storm day, its calm rows and its
    storm rows; and the calm rows between such tie groups. Every metric is a function of the
    segments' weight sums and each group's totals, which one sparse product gives for a
    whole chunk of resamples; a group's own ranks are the global ranks less what earlier
    groups hold.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_bins: int,
                 groups: np.ndarray | None = None, ranking_only: bool = False):
        groups = np.zeros(len(scores), dtype=np.int64) if groups is None else np.asarray(groups)
        ordered = rows[np.lexsort((scores[rows], groups[rows]))]
        score, label, group_of_row = scores[ordered], labels[ordered], groups[ordered]
        self.group_ids, group_index = np.unique(group_of_row, return_inverse=True)
        n_groups = len(self.group_ids)
        new_tie = np.r_[True, (score[1:] != score[:-1]) | (group_of_row[1:] != group_of_row[:-1])]
        tie = np.cumsum(new_tie) - 1
        positive_ties = np.unique(tie[label == 1])
        self.n_ties = g = len(positive_ties)
        in_positive_tie = np.isin(tie, positive_ties)
        rank = np.searchsorted(positive_ties, tie)  # index among storm tie groups (valid where in one)
        first_row = np.searchsorted(tie, positive_ties)  # sorted position where each storm tie group starts
        between = np.searchsorted(first_row, np.arange(len(ordered)), side="right")  # storm tie groups started so far
        self.tie_group = group_index[first_row]  # the group each storm tie group belongs to
        # segment rows: calm between storm ties [0, G], calm tied with storm [G+1, 2G], storm [2G+1, 3G]
        segment = np.where(in_positive_tie, rank + 1 + g * (1 + (label == 1)), between)
        n_segments = 3 * g + 1
        bins = np.clip((np.clip(score, 0, 1) * n_bins).astype(int), 0, n_bins - 1)
        floored = np.clip(score, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
        with np.errstate(invalid="ignore", divide="ignore"):
            log_loss = -(label * np.log(floored) + (1 - label) * np.log1p(-floored))
        # one sparse map from row weights to every sum: segments, Brier's and log loss's sums, the gap per bin (ECE),
        # then calm and storm weight per group
        n = len(ordered)
        at = n_segments
        # ranking_only (a by-date ranking needs no loss sums): those rows stay in the map, empty, so indices hold
        losses = [] if ranking_only else [(score - label) ** 2, log_loss, score - label]
        loss_rows = [] if ranking_only else [np.full(n, at), np.full(n, at + 1), at + 2 + bins]
        self.sums = sparse.csr_matrix(
            (np.concatenate([np.ones(n), *losses, 1 - label, label]),
             (np.concatenate([segment, *loss_rows, at + 2 + n_bins + group_index,
                              at + 2 + n_bins + n_groups + group_index]),
              np.tile(ordered, 3 + len(losses)))),
            shape=(at + 2 + n_bins + 2 * n_groups, len(scores)))
        self.n_bins = n_bins
        self.by_group = sparse.csr_matrix((np.ones(g), (self.tie_group, np.arange(g))), shape=(n_groups, g))

    def metrics(self, weights: np.ndarray, probabilistic: bool,
                group_weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each metric per resample from row weights [all table rows, C] (rows outside this model's are ignored).

        "auroc" and "pr_auc" pool pairs within groups; with ``group_weights`` [n groups of the whole table, C] also
        "group_mean_auroc": each group's AUROC averaged over groups holding both classes, weighted by those weights.
        """
        g, k = self.n_ties, len(self.group_ids)
        sums = self.sums @ weights
        calm_between, calm_tied, storm_tied = sums[:g], sums[g + 1:2 * g + 1], sums[2 * g + 1:3 * g + 1]
        at = 3 * g + 1
        brier_sum, log_loss_sum, gaps = sums[at], sums[at + 1], sums[at + 2:at + 2 + self.n_bins]
        calm_per_group = sums[at + 2 + self.n_bins:at + 2 + self.n_bins + k]
        storm_per_group = sums[at + 2 + self.n_bins + k:]
        calm_before_group = np.cumsum(calm_per_group, axis=0) - calm_per_group
        storm_before_group = np.cumsum(storm_per_group, axis=0) - storm_per_group
        calm_below = np.cumsum(calm_between + calm_tied, axis=0) - calm_tied - calm_before_group[self.tie_group]
        storm_below = np.cumsum(storm_tied, axis=0) - storm_tied - storm_before_group[self.tie_group]
        storm_total, calm_total = storm_per_group.sum(axis=0), calm_per_group.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            # AUROC: each storm day beats the calm days of its group below its tie group and half those tied with it
            concordant = self.by_group @ (storm_tied * (calm_below + 0.5 * calm_tied))  # [groups, C]
            pairs = storm_per_group * calm_per_group
            # average precision (sklearn's) per group: Σ over thresholds of Δrecall × precision at that threshold
            true_alerts = storm_per_group[self.tie_group] - storm_below
            false_alerts = calm_per_group[self.tie_group] - calm_below
            precision = np.divide(true_alerts, true_alerts + false_alerts, out=np.zeros_like(true_alerts),
                                  where=true_alerts + false_alerts > 0)
            result = {"auroc": np.where(pairs.sum(axis=0) > 0, concordant.sum(axis=0) / pairs.sum(axis=0), np.nan),
                      "pr_auc": np.where(storm_total > 0, (storm_tied * precision).sum(axis=0) / storm_total, np.nan)}
            if group_weights is not None:
                both = pairs > 0
                weight = np.where(both, group_weights[self.group_ids], 0.0)
                per_group = np.where(both, concordant / np.where(both, pairs, 1.0), 0.0)
                result["group_mean_auroc"] = np.where(weight.sum(axis=0) > 0,
                                                      (weight * per_group).sum(axis=0) / weight.sum(axis=0), np.nan)
            if probabilistic:
                total = calm_total + storm_total
                result["brier"] = brier_sum / total
                result["log_loss"] = log_loss_sum / total
                result["ece"] = np.abs(gaps).sum(axis=0) / total
        return result


class ModelRows:
    """A model's rows at one horizon ranked two ways: within folds (every figure) and within dates (the
    cross-sectional AUROC, where the rows span more than one market)."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_bins: int, folds: np.ndarray,
                 dates: np.ndarray, several_markets: bool):
        self.by_fold = RankedRows(scores, labels, rows, n_bins, folds)
        self.by_date = RankedRows(scores, labels, rows, n_bins, dates, ranking_only=True) if several_markets else None

    def metrics(self, weights: np.ndarray, probabilistic: bool, date_counts: np.ndarray) -> dict[str, np.ndarray]:
        result = self.by_fold.metrics(weights, probabilistic)
        nan = np.full(weights.shape[1], np.nan)
        result["cross_sectional_auroc"] = (nan if self.by_date is None else
                                           self.by_date.metrics(weights, False, date_counts)["group_mean_auroc"])
        return result


@dataclass
class BootstrapInput:
    """Test rows of every fold, aligned across models (NaN score = that model has no score there)."""

    markets: np.ndarray  # [n] market name per row
    dates: np.ndarray  # [n] date per row
    labels: dict[int, np.ndarray]  # horizon -> [n] 0/1/NaN
    scores: dict[str, dict[int, np.ndarray]]  # model -> horizon -> [n]
    probabilistic: dict[str, dict[int, bool]]  # model -> horizon -> score is a probability (Brier/ECE make sense)
    folds: np.ndarray | None = None  # [n] the walk-forward fold whose test block holds the row (None: one fold)

    def fold_index(self) -> np.ndarray:
        return (np.zeros(len(self.markets), dtype=np.int64) if self.folds is None
                else np.unique(np.asarray(self.folds), return_inverse=True)[1])


def paired_bootstrap(data: BootstrapInput, horizons: list[int], reference: str | None,
                     settings: EvaluationConfig) -> dict:
    """{h: {"models": {m: {metric: Interval}}, "vs_reference": {m: {metric: (Interval, verdict)}}}}.

    Each model is scored on its rows with a known label and a score; a difference on
    the rows both models scored. ``reference`` minus each other model.
    """
    market_index = np.unique(data.markets, return_inverse=True)[1]
    date_index = np.unique(data.dates, return_inverse=True)[1]
    fold_index = data.fold_index()
    n_markets, n_dates = market_index.max() + 1, date_index.max() + 1
    date_folds = np.zeros(n_dates, dtype=np.int64)
    date_folds[date_index] = fold_index
    if np.any(date_folds[date_index] != fold_index):
        raise ValueError("a test date belongs to two folds: walk-forward test blocks must be disjoint")
    tasks = _tasks(data, horizons, reference, settings.calibration_bins, fold_index, date_index, n_markets > 1)
    samples = {key: {metric: [] for metric in METRICS} for key in tasks}
    block = block_length(settings, horizons)
    with threadpool_limits(1):  # one core: BLAS threads only contend on a shared machine
        for market_counts, date_counts in resample_counts(n_markets, n_dates, settings.bootstrap_resamples, block,
                                                          settings.bootstrap_seed, date_folds):
            weights = market_counts[market_index] * date_counts[date_index]  # [rows, C]
            for key, (ranked, probabilistic) in tasks.items():
                for metric, values in ranked.metrics(weights, probabilistic, date_counts).items():
                    samples[key][metric].append(values)
        everything_once = np.ones((len(market_index), 1))
        estimates = {key: ranked.metrics(everything_once, probabilistic, np.ones((n_dates, 1)))
                     for key, (ranked, probabilistic) in tasks.items()}
    return _summarise(data, horizons, reference, tasks, samples, estimates, settings.confidence)


def _tasks(data: BootstrapInput, horizons, reference, n_bins, folds, dates, several_markets) -> dict:
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
                    tasks[key] = (ModelRows(data.scores[name][h], data.labels[h], np.flatnonzero(mask), n_bins, folds,
                                            dates, several_markets), probabilistic)
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
