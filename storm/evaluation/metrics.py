"""Scores against realised storms: the figures a risk team judges a warning system by.

Pure: takes a predictions-shaped table (market, date, score_{h}d, alert_{h}d,
storm_{h}d, optionally vol_pred and fwd_log_vol) and returns numbers. Rows whose
label is not known yet (NaN) are left out of every classification figure.
A figure that cannot be computed (one class only, no alerts) is NaN with a note,
never an exception: a quiet test period is a real outcome, not a bug.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from storm.labels import TRADING_DAYS_PER_YEAR
from storm.schema import FWD_VOL, storm_column

NAN = float("nan")
CALIBRATION_BINS = 10


def score_column(horizon: int) -> str:
    return f"score_{horizon}d"


def alert_column(horizon: int) -> str:
    return f"alert_{horizon}d"


@dataclass
class HorizonMetrics:
    """Every figure for one model at one horizon on the test rows with known labels."""

    horizon: int
    n_rows: int
    n_positives: int
    auroc: float = NAN
    pr_auc: float = NAN
    brier: float = NAN
    ece: float = NAN  # expected calibration error, equal-width bins
    recall_at_threshold: float = NAN
    precision_at_threshold: float = NAN
    false_alarms_per_market_year: float = NAN  # alert-days on calm days per market-year
    median_lead_days: float = NAN
    n_episodes: int = 0
    n_episodes_warned: int = 0
    vol_rmse: float = NAN
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {key: _json_number(value) for key, value in asdict(self).items()}


def horizon_metrics(table: pd.DataFrame, horizon: int, probabilistic: bool = True,
                    n_bins: int = CALIBRATION_BINS) -> HorizonMetrics:
    """All figures for one horizon. ``probabilistic=False`` skips Brier and ECE (the score is not a probability)."""
    label_name, score_name, alert_name = storm_column(horizon), score_column(horizon), alert_column(horizon)
    known = table[table[label_name].notna() & table[score_name].notna()]
    labels = known[label_name].to_numpy(dtype=int)
    scores = known[score_name].to_numpy(dtype=float)
    alerts = known[alert_name].to_numpy(dtype=bool)
    result = HorizonMetrics(horizon=horizon, n_rows=len(known), n_positives=int(labels.sum()))
    dropped = int(table[label_name].notna().sum()) - len(known)
    if dropped:
        result.notes.append(f"{dropped} labelled rows had no score (too little history) and were left out")
    _ranking_metrics(result, labels, scores)
    if probabilistic and len(labels):
        result.brier = float(brier_score_loss(labels, np.clip(scores, 0.0, 1.0)))
        result.ece = expected_calibration_error(labels, scores, n_bins)
    result.recall_at_threshold, result.precision_at_threshold = recall_precision(labels, alerts, result.notes)
    result.false_alarms_per_market_year = false_alarms_per_market_year(known, label_name, alert_name)
    leads = lead_times(table, horizon)
    result.n_episodes, result.n_episodes_warned = len(leads), int(np.sum(~np.isnan(leads))) if len(leads) else 0
    result.median_lead_days = float(np.nanmedian(leads)) if result.n_episodes_warned else NAN
    if "vol_pred" in table.columns and FWD_VOL in table.columns:
        result.vol_rmse = volatility_rmse(table["vol_pred"].to_numpy(float), table[FWD_VOL].to_numpy(float))
    return result


def _ranking_metrics(result: HorizonMetrics, labels: np.ndarray, scores: np.ndarray) -> None:
    if len(np.unique(labels)) < 2:
        only = "no rows" if not len(labels) else f"only {'storm' if labels[0] else 'calm'} days"
        result.notes.append(f"storm_{result.horizon}d: {only} in the test labels, AUROC and PR-AUC undefined")
        return
    result.auroc = float(roc_auc_score(labels, scores))
    result.pr_auc = float(average_precision_score(labels, scores))


def recall_precision(labels: np.ndarray, alerts: np.ndarray, notes: list[str] | None = None) -> tuple[float, float]:
    """Share of storm days alerted, and share of alerts that were storm days (NaN when undefined)."""
    labels, alerts = np.asarray(labels).astype(int), np.asarray(alerts).astype(int)
    if not len(labels):
        return NAN, NAN
    recall = float(recall_score(labels, alerts, zero_division=np.nan))
    precision = float(precision_score(labels, alerts, zero_division=np.nan))
    if notes is not None and not alerts.any():
        notes.append("no alerts raised: precision undefined")
    return recall, precision


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, n_bins: int = CALIBRATION_BINS) -> float:
    """Σ over equal-width probability bins of (share of rows in the bin) × |mean label − mean probability|."""
    labels, probabilities = np.asarray(labels, float), np.clip(np.asarray(probabilities, float), 0.0, 1.0)
    if not len(labels):
        return NAN
    bins = np.minimum((probabilities * n_bins).astype(int), n_bins - 1)
    gap_per_bin = np.bincount(bins, weights=probabilities - labels, minlength=n_bins)
    return float(np.abs(gap_per_bin).sum() / len(labels))


def reliability_points(labels: np.ndarray, probabilities: np.ndarray, n_bins: int = CALIBRATION_BINS) -> dict | None:
    """Reliability curve {"predicted": [...], "observed": [...]} over quantile bins (None with one class).

    Quantile bins, because storm probabilities crowd near 0: equal-width bins would
    leave one full bin and nine nearly empty ones.
    """
    labels, probabilities = np.asarray(labels, float), np.asarray(probabilities, float)
    known = ~np.isnan(labels) & ~np.isnan(probabilities)
    if len(np.unique(labels[known])) < 2:
        return None
    observed, predicted = calibration_curve(labels[known].astype(int), np.clip(probabilities[known], 0, 1),
                                            n_bins=n_bins, strategy="quantile")
    return {"predicted": predicted.tolist(), "observed": observed.tolist()}


def false_alarms_per_market_year(table: pd.DataFrame, label_name: str, alert_name: str) -> float:
    """Alert-days on calm (label 0) days per market-year covered.

    Market-years = labelled rows / 252 trading days (summed over markets), so the
    figure reads as "false-alarm days a year for one market".
    """
    known = table[table[label_name].notna()]
    if known.empty:
        return NAN
    false_alarms = int(np.sum(known[alert_name].to_numpy(bool) & (known[label_name].to_numpy() == 0)))
    market_years = len(known) / TRADING_DAYS_PER_YEAR
    return false_alarms / market_years


def lead_times(table: pd.DataFrame, horizon: int) -> np.ndarray:
    """Lead time in trading days of the warning for each storm episode (NaN: never warned).

    Per market, rows in date order, counted by position (one row = one trading day):
    - an episode is a run of days labelled storm_{h}d = 1 that follows a day labelled 0
      (a run on the first row, or after an unknown label, has no known start: not counted);
      it starts on day s, its first storm-labelled day (the first day from which a
      fall of the threshold lies within h days), and ends on day e, its last;
    - its warning is the earliest run of consecutive alert days [a, b] that reaches the
      episode: b >= s and a <= e. A run carried over from the previous episode of the
      same market counts from the day after that episode ended;
    - lead time = s - a. Positive: warned that many days before the storm entered the
      horizon; 0: on its first day; negative: only once it was under way.
    Measured to s, which is at or before the fall's first day, so the lead is a lower bound.
    """
    ordered = table.sort_values(["market", "date"])
    labels, alerts = ordered[storm_column(horizon)].to_numpy(float), ordered[alert_column(horizon)].to_numpy(bool)
    market_starts = np.flatnonzero(np.concatenate([[True], ordered["market"].to_numpy()[1:] != ordered["market"].to_numpy()[:-1]]))
    leads: list[float] = []
    for start, end in zip(market_starts, [*market_starts[1:], len(ordered)]):
        leads.extend(_market_lead_times(labels[start:end], alerts[start:end]))
    return np.asarray(leads, dtype=float)


def _market_lead_times(labels: np.ndarray, alerts: np.ndarray) -> list[float]:
    storm = np.concatenate([[False], labels == 1, [False]])
    starts = np.flatnonzero(~storm[:-1] & storm[1:])
    ends = np.flatnonzero(storm[:-1] & ~storm[1:]) - 1  # last day of each run of storm days
    alerting = np.concatenate([[False], alerts, [False]])
    run_starts = np.flatnonzero(~alerting[:-1] & alerting[1:])
    run_ends = np.flatnonzero(alerting[:-1] & ~alerting[1:]) - 1
    leads, previous_end = [], -1
    for start, end in zip(starts, ends):
        if start > 0 and labels[start - 1] == 0:  # a known start
            reaching = np.flatnonzero((run_ends >= start) & (run_starts <= end))
            first_alert = max(run_starts[reaching[0]], previous_end + 1) if len(reaching) else None
            leads.append(NAN if first_alert is None else float(start - first_alert))
        previous_end = end
    return leads


def volatility_rmse(predicted: np.ndarray, realised: np.ndarray) -> float:
    """Root mean squared error of log volatility where both are known."""
    both = ~np.isnan(predicted) & ~np.isnan(realised)
    if not both.any():
        return NAN
    return float(root_mean_squared_error(realised[both], predicted[both]))


def _json_number(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
