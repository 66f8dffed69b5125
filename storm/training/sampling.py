"""Calm-day sampling: every storm-adjacent training row each epoch, a fresh weighted sample of the calm ones.

On a large panel most rows are calm days far from any storm, and neighbouring calm
days of one market carry nearly the same window. Training on all storm-adjacent
rows (a storm label at any horizon within ``margin`` trading days of the row, in
the same market) and on a share ``p`` of the calm rows, redrawn every epoch, cuts
an epoch to about ``adjacent + p * calm`` rows. Each sampled calm row carries the
importance weight ``1 / p``, so the weighted loss is the full loss in expectation
and predicted probabilities keep the base rate (calibration on the untouched
validation block then only corrects what training leaves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EpochRows:
    """The rows one epoch trains on, shuffled, with their loss weights (1 for kept rows, 1/p for sampled calm)."""

    rows: np.ndarray     # int64 panel row indices
    weights: np.ndarray  # float32, same length

    def share(self, rank: int, world_size: int) -> "EpochRows":
        """This rank's equal share (DDP steps in lockstep, so every rank gets the same count)."""
        size = len(self.rows) // world_size
        part = slice(rank * size, (rank + 1) * size)
        return EpochRows(self.rows[part], self.weights[part])


def storm_adjacent(labels: np.ndarray, market_start: np.ndarray, margin: int) -> np.ndarray:
    """bool [N]: a storm label (any horizon) within ``margin`` rows of the row, in the row's own market.

    Rows are grouped by market and in date order (storm.features.evidence_panel), so rows are trading days."""
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=bool)
    stormy = np.nan_to_num(np.asarray(labels, dtype=np.float64), nan=0.0).reshape(n, -1).max(axis=1) > 0.5
    starts = np.asarray(market_start, dtype=np.int64)
    is_first = np.r_[True, starts[1:] != starts[:-1]]
    first_rows = np.flatnonzero(is_first)
    ends = np.repeat(np.r_[first_rows[1:], n], np.diff(np.r_[first_rows, n]))  # one past each row's market
    cumulative = np.r_[0, np.cumsum(stormy)]
    index = np.arange(n)
    low = np.maximum(index - margin, starts)
    high = np.minimum(index + margin + 1, ends)
    return cumulative[high] - cumulative[low] > 0


def epoch_rows(train_rows: np.ndarray, adjacent: np.ndarray | None, calm_fraction: float, seed: int,
               epoch: int) -> EpochRows:
    """A seeded shuffle of this epoch's rows: all of ``train_rows`` when ``calm_fraction`` is 1 (or ``adjacent`` is
    None); otherwise the adjacent rows and a Bernoulli(calm_fraction) draw of the others, weighted 1/calm_fraction.

    ``adjacent`` is aligned with ``train_rows``. The same (seed, epoch) gives the same rows on every worker."""
    rows = np.asarray(train_rows, dtype=np.int64)
    rng = np.random.default_rng([seed, epoch])
    if adjacent is None or calm_fraction >= 1.0:
        return EpochRows(rng.permutation(rows), np.ones(len(rows), dtype=np.float32))
    adjacent = np.asarray(adjacent, dtype=bool)
    drawn = adjacent | (rng.random(len(rows)) < calm_fraction)
    weights = np.where(adjacent, 1.0, 1.0 / calm_fraction).astype(np.float32)[drawn]
    order = rng.permutation(int(drawn.sum()))
    return EpochRows(rows[drawn][order], weights[order])
