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
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from storm.schema import FWD_VOL, storm_column

TRADING_DAYS_PER_YEAR = 252
NAN = float("nan")


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
    recall_at_threshold: float = NAN
    precision_at_threshold: float = NAN
    false_alarms_per_year: float = NAN
    median_lead_days: float = NAN
    n_episodes: int = 0
    n_episodes_warned: int = 0
    vol_rmse: float = NAN
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {key: _json_number(value) for key, value in asdict(self).items()}


def horizon_metrics(table: pd.DataFrame, horizon: int, probabilistic: bool = True) -> HorizonMetrics:
    """All figures for one horizon. ``probabilistic=False`` skips Brier (the score is not a probability)."""
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
    result.recall_at_threshold, result.precision_at_threshold = recall_precision(labels, alerts, result.notes)
    result.false_alarms_per_year = false_alarms_per_year(known, label_name, alert_name)
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
    true_alerts = int(np.sum(alerts & (labels == 1)))
    positives, raised = int(np.sum(labels == 1)), int(np.sum(alerts))
    recall = true_alerts / positives if positives else NAN
    precision = true_alerts / raised if raised else NAN
    if notes is not None and not raised:
        notes.append("no alerts raised: precision undefined")
    return recall, precision


def false_alarms_per_year(table: pd.DataFrame, label_name: str, alert_name: str) -> float:
    """Alerts on calm (label 0) days per market-year covered.

    Years covered = labelled rows of each market / 252 trading days, summed over
    markets, so the figure reads as "false alarms a year for one market".
    """
    known = table[table[label_name].notna()]
    if known.empty:
        return NAN
    false_alarms = int(np.sum(known[alert_name].to_numpy(bool) & (known[label_name].to_numpy() == 0)))
    market_years = len(known) / TRADING_DAYS_PER_YEAR
    return false_alarms / market_years


def lead_times(table: pd.DataFrame, horizon: int) -> np.ndarray:
    """Lead time in trading days of the first warning for each storm episode (NaN: never warned).

    Per market, rows in date order, counted by position (one row = one trading day):
    - an episode starts on day s where storm_{h}d is 1 and day s-1 is labelled 0
      (a run already under way on the first row has no known start and is not counted);
      it ends on day e, the last day of that run of 1s;
    - the warning window is days s-h .. e: the h trading days before the fall first
      enters the h-day horizon, plus the episode itself;
    - lead time = s - (first alert day in the window). Positive: warned that many days
      before the storm entered the horizon; 0: warned on its first day; negative: warned
      only once the episode was under way. No alert in the window: NaN (missed).
    """
    label_name, alert_name = storm_column(horizon), alert_column(horizon)
    leads: list[float] = []
    for _, market_rows in table.sort_values(["market", "date"]).groupby("market", sort=False):
        labels = market_rows[label_name].to_numpy(float)
        alerts = market_rows[alert_name].to_numpy(bool)
        leads.extend(_market_lead_times(labels, alerts, horizon))
    return np.asarray(leads, dtype=float)


def _market_lead_times(labels: np.ndarray, alerts: np.ndarray, horizon: int) -> list[float]:
    leads = []
    for start in np.flatnonzero((labels[1:] == 1) & (labels[:-1] == 0)) + 1:
        end = start
        while end + 1 < len(labels) and labels[end + 1] == 1:
            end += 1
        window_start = max(0, start - horizon)
        alerted = np.flatnonzero(alerts[window_start : end + 1])
        leads.append(float(start - (window_start + alerted[0])) if len(alerted) else NAN)
    return leads


def volatility_rmse(predicted: np.ndarray, realised: np.ndarray) -> float:
    """Root mean squared error of log volatility where both are known."""
    both = ~np.isnan(predicted) & ~np.isnan(realised)
    if not both.any():
        return NAN
    return float(np.sqrt(np.mean((predicted[both] - realised[both]) ** 2)))


def _json_number(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
