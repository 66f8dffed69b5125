"""The horizon-order guard on stored scores: a storm within 5 days is also one within 20.

For every (date, market), the score (probability of a storm within h trading days) must not fall as
h grows, beyond floating-point noise, and an alert at a horizon must also be an alert at every longer
one. The scan checks a day before storing it; tests check every stored scores file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from storm.config import StorageConfig
from storm.store.layout import Layout
from storm.store.objectstore import ObjectStore, open_store

ORDER_TOLERANCE = 1e-6  # float noise; the heads and calibration are monotone in exact arithmetic
SHOWN = 5  # offending pairs spelled out in an error message
_KEYS = ["date", "market"]


class IncoherentScores(ValueError):
    """Scores (or alerts) that fall as the horizon grows: the day must not be stored or published."""


def horizon_order_violations(scores: pd.DataFrame, tolerance: float = ORDER_TOLERANCE) -> pd.DataFrame:
    """Every (date, market, shorter, longer) pair whose shorter-horizon score exceeds the longer one's by > tolerance,
    or whose shorter horizon alerts while the longer does not; worst first. NaN scores compare as coherent."""
    _require_columns(scores, [*_KEYS, "horizon", "score"])
    columns = [*_KEYS, "horizon", "score"] + (["alert"] if "alert" in scores.columns else [])
    table = scores[columns].astype({"date": str, "market": str})
    pairs = table.merge(table, on=_KEYS, suffixes=("_shorter", "_longer"))
    pairs = pairs[pairs.horizon_shorter < pairs.horizon_longer]
    excess = pairs.score_shorter - pairs.score_longer
    broken = excess > tolerance
    if "alert" in columns:
        broken |= pairs.alert_shorter.astype(bool) & ~pairs.alert_longer.astype(bool)
    found = pairs[broken].assign(excess=excess[broken])
    found = found.rename(columns={"horizon_shorter": "shorter", "horizon_longer": "longer"})
    return found.sort_values(["excess", *_KEYS, "shorter", "longer"], ascending=[False, True, True, True, True],
                             kind="stable").reset_index(drop=True)


def check_horizon_order(scores: pd.DataFrame, tolerance: float = ORDER_TOLERANCE, source: str = "scores") -> None:
    """Raise IncoherentScores naming market, date, horizons and values when the horizon order is broken."""
    violations = horizon_order_violations(scores, tolerance)
    if violations.empty:
        return
    markets = scores.groupby("date")["market"].nunique()
    broken = violations.groupby("date")["market"].nunique()
    days = ", ".join(f"{date}: {broken[date]} of {markets[date]} markets" for date in broken.index)
    shown = "; ".join(_describe(row, tolerance) for row in violations.head(SHOWN).itertuples())
    more = f" (and {len(violations) - SHOWN} more pairs)" if len(violations) > SHOWN else ""
    raise IncoherentScores(
        f"{source}: storm scores fall as the horizon grows ({days}), beyond {tolerance:g}: {shown}{more}. "
        "P(storm within h days) must not decrease with h and an alert at a horizon must hold at every longer one. "
        "The model's heads or calibration are not coherent: retrain with the current storm (coherent heads and "
        "calibration) before scanning; the day was not stored."
    )


def assert_scores_coherent_under(store_root: str | Path | ObjectStore, tolerance: float = ORDER_TOLERANCE) -> int:
    """Check every scores/date=*/scores.parquet under a store (or its root path); return how many were checked."""
    store = store_root if isinstance(store_root, ObjectStore) else open_store(StorageConfig(root=str(store_root)))
    files = [path for path in store.list_files(Layout(store).scores_dir(), suffix="scores.parquet")]
    for path in files:
        check_horizon_order(store.read_table(path).to_pandas(), tolerance, source=path)
    return len(files)


def _describe(row, tolerance: float) -> str:
    parts = []
    if row.excess > tolerance:
        parts.append(f"{row.shorter}d score {row.score_shorter:.6g} > {row.longer}d score {row.score_longer:.6g}")
    if getattr(row, "alert_shorter", False) and not getattr(row, "alert_longer", True):
        parts.append(f"{row.shorter}d alerts but {row.longer}d does not")
    return f"{row.market} on {row.date}: " + ", ".join(parts)


def _require_columns(scores: pd.DataFrame, needed: list[str]) -> None:
    missing = [name for name in needed if name not in scores.columns]
    if missing:
        raise ValueError(f"scores table lacks column(s) {missing} (see storm.schema.SCORE_COLUMNS); "
                         "cannot check the horizon order")
