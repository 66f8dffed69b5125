"""Where the storms fell: episodes per fold part, and a fold placement that would put enough in the test blocks.

A verdict needs storms in the test blocks. On one real index a 3-fold walk-forward can hold 2 or 3 episodes there
while the warm-up holds the rest; the report says so, and which ``train.warmup_fraction`` would move enough of the
history's storms into test blocks (more, shorter folds over an expanding window keep every model trained on its
past). Pure: takes the label table and the splits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.labels import storm_episode_ids
from storm.schema import storm_column
from storm.splits import DateSplit

WARMUP_FLOOR = 0.2  # a first fold trained on less than a fifth of the history learns little
WARMUP_STEP = 0.05


def episode_starts(labels: pd.DataFrame, horizon: int, dates: set[str] | None = None) -> pd.Series:
    """The first storm day of each episode (run of storm days of one market) among ``dates`` (all when None)."""
    rows = labels if dates is None else labels[labels["date"].isin(dates)]
    ordered = rows.sort_values(["market", "date"], ignore_index=True)
    ids = storm_episode_ids(ordered["market"].to_numpy(), ordered[storm_column(horizon)].to_numpy(float))
    first = ids >= 0
    first &= np.r_[True, ids[1:] != ids[:-1]]
    return ordered.loc[first, "date"].astype(str)


def fold_storms(labels: pd.DataFrame, split: DateSplit, horizons: list[int]) -> dict:
    """{part: {horizon: episodes}} for a split's train, validation and test dates."""
    return {part: {str(h): int(len(episode_starts(labels, h, set(getattr(split, part))))) for h in horizons}
            for part in ("train", "validation", "test")}


def placement_advice(labels: pd.DataFrame, splits: list, horizons: list[int], min_episodes: int) -> dict:
    """Per horizon: episodes in the test blocks, in the warm-up, in the whole history, and where the test blocks
    could start to hold ``min_episodes`` (None when they already do, or when the history cannot)."""
    dates = sorted(set(labels["date"].astype(str)))
    first_test = min(split.test[0] for split in splits if split.test)
    advice = {}
    for h in horizons:
        starts = np.sort(episode_starts(labels, h).to_numpy(str))
        in_test = int(sum(len(episode_starts(labels, h, set(split.test))) for split in splits))
        entry = {"test_episodes": in_test, "history_episodes": int(len(starts)),
                 "warmup_episodes": int(np.sum(starts < first_test)), "first_test_day": first_test, "advice": None}
        if in_test < min_episodes:
            entry["advice"] = _advice(starts, dates, h, min_episodes)
        advice[str(h)] = entry
    return advice


def _advice(starts: np.ndarray, dates: list[str], horizon: int, min_episodes: int) -> str:
    if len(starts) < min_episodes:
        return (f"the whole history holds {len(starts)} storm episodes at {horizon}d, fewer than "
                f"evaluation.min_episodes={min_episodes}: no fold placement can judge it; a longer history or more "
                f"markets can")
    latest_start = starts[len(starts) - min_episodes]  # test blocks from here hold min_episodes episodes
    fraction = int(np.searchsorted(dates, latest_start) / len(dates) / WARMUP_STEP) * WARMUP_STEP
    if fraction < WARMUP_FLOOR:
        return (f"{min_episodes} storm episodes at {horizon}d need test blocks from {latest_start}, which leaves the "
                f"first fold under {WARMUP_FLOOR:.0%} of the history to train on")
    return (f"train.warmup_fraction={fraction:.2f} (with more folds, e.g. --folds 6) starts the test blocks by "
            f"{latest_start} and puts at least {min_episodes} of the history's {len(starts)} episodes at {horizon}d "
            f"in them")
