"""Scores against realised storms: the figures a risk team judges a warning system by.

Pure: takes a predictions-shaped table (market, date, score_{h}d, alert_{h}d,
storm_{h}d, optionally fold, vol_pred and fwd_log_vol) and returns numbers. Ranking figures
pair storm and calm days of the same fold only (each fold's model is calibrated on its own
validation block; pairs across folds would compare calibrations), and the cross-sectional
AUROC pairs markets of the same date. Rows whose
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
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from storm.labels import TRADING_DAYS_PER_YEAR, storm_episode_ids
from storm.schema import (FWD_VOL, alert_column, logit_column, score_column,  # noqa: F401 (re-exported)
                          storm_column)

NAN = float("nan")
CALIBRATION_BINS = 10
FOLD = "fold"  # the walk-forward fold whose test block holds a row; a table without it is one fold



def by_fold_and_market(table: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """(the rows in fold, market, date order; per row its fold/market key): runs of storm days never continue
    from one market into the next, nor from one fold's test block into the next fold's."""
    keys = [FOLD, "market", "date"] if FOLD in table.columns else ["market", "date"]
    ordered = table.sort_values(keys, ignore_index=True)
    group = ordered["market"].astype(str).to_numpy()
    if FOLD in ordered.columns:
        group = ordered[FOLD].astype(str).to_numpy() + "/" + group
    return ordered, group


@dataclass
class HorizonMetrics:
    """Every figure for one model at one horizon on the test rows with known labels."""

    horizon: int
    n_rows: int
    n_positives: int
    auroc: float = NAN  # within folds: each fold's storm days against its own calm days, folds weighted by pairs
    cross_sectional_auroc: float = NAN  # per date, storm markets against calm ones, averaged over dates with both
    pr_auc: float = NAN  # within folds: each fold's average precision, weighted by its storm days
    brier: float = NAN
    brier_base_rate: float = NAN  # Brier of the test rows' own storm share as a constant forecast
    log_loss: float = NAN
    log_loss_base_rate: float = NAN
    ece: float = NAN  # expected calibration error, equal-width bins
    n_storm_episodes: int = 0  # runs of consecutive storm days, counted within each fold's test block
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
    folds = known[FOLD].to_numpy() if FOLD in known.columns else np.zeros(len(known), dtype=int)
    _ranking_metrics(result, labels, scores, folds)
    result.cross_sectional_auroc = cross_sectional_auroc(labels, scores, known["date"].to_numpy())
    result.n_storm_episodes = storm_episode_count(table, horizon)
    if probabilistic and len(labels):
        probabilities = np.clip(scores, 0.0, 1.0)
        result.brier = float(brier_score_loss(labels, probabilities))
        result.log_loss = float(log_loss(labels, probabilities, labels=[0, 1]))
        base_rate = np.full(len(labels), labels.mean())
        result.brier_base_rate = float(brier_score_loss(labels, base_rate))
        result.log_loss_base_rate = float(log_loss(labels, base_rate, labels=[0, 1]))
        result.ece = expected_calibration_error(labels, scores, n_bins)
    result.recall_at_threshold, result.precision_at_threshold = recall_precision(labels, alerts, result.notes)
    result.false_alarms_per_market_year = false_alarms_per_market_year(known, label_name, alert_name)
    leads = lead_times(table, horizon)
    result.n_episodes, result.n_episodes_warned = len(leads), int(np.sum(~np.isnan(leads))) if len(leads) else 0
    result.median_lead_days = float(np.nanmedian(leads)) if result.n_episodes_warned else NAN
    if "vol_pred" in table.columns and FWD_VOL in table.columns:
        result.vol_rmse = volatility_rmse(table["vol_pred"].to_numpy(float), table[FWD_VOL].to_numpy(float))
    return result


def _ranking_metrics(result: HorizonMetrics, labels: np.ndarray, scores: np.ndarray, folds: np.ndarray) -> None:
    ranked = [fold for fold in np.unique(folds) if len(np.unique(labels[folds == fold])) == 2]
    if not ranked:
        only = ("no rows" if not len(labels) else f"only {'storm' if labels[0] else 'calm'} days"
                if len(np.unique(labels)) < 2 else "no fold with both storm and calm days")
        result.notes.append(f"storm_{result.horizon}d: {only} in the test labels, AUROC and PR-AUC undefined")
        return
    result.auroc = within_fold_auroc(labels, scores, folds)
    positives = [float(labels[folds == fold].sum()) for fold in ranked]
    precisions = [average_precision_score(labels[folds == fold], scores[folds == fold]) for fold in ranked]
    result.pr_auc = float(np.average(precisions, weights=positives))


def within_fold_auroc(labels: np.ndarray, scores: np.ndarray, folds: np.ndarray) -> float:
    """Σ over folds of AUROC_k × pairs_k / Σ pairs_k: the share of (storm, calm) pairs of one fold ranked right.

    Unchanged by any strictly increasing map applied to one fold's scores, which is what a fold's own
    calibration is; a pooled AUROC is not, and ranks the folds' calibrations as much as their models.
    """
    labels, scores, folds = np.asarray(labels, int), np.asarray(scores, float), np.asarray(folds)
    weighted, pairs = 0.0, 0.0
    for fold in np.unique(folds):
        y, s = labels[folds == fold], scores[folds == fold]
        fold_pairs = float(y.sum()) * float((1 - y).sum())
        if fold_pairs:
            weighted += roc_auc_score(y, s) * fold_pairs
            pairs += fold_pairs
    return weighted / pairs if pairs else NAN


def cross_sectional_auroc(labels: np.ndarray, scores: np.ndarray, dates: np.ndarray) -> float:
    """Mean over dates holding both storm and calm markets of that date's AUROC: which names are riskiest today.

    Mann–Whitney per date with average ranks for ties, all dates at once (one sklearn call per date would cost
    seconds on a wide world); NaN on a world of one market.
    """
    frame = pd.DataFrame({"date": np.asarray(dates), "label": np.asarray(labels, int), "score": np.asarray(scores, float)})
    frame["storm_rank"] = frame.groupby("date")["score"].rank(method="average") * frame["label"]
    per_date = frame.groupby("date").agg(storm=("label", "sum"), rows=("label", "size"), storm_rank=("storm_rank", "sum"))
    per_date = per_date[(per_date["storm"] > 0) & (per_date["storm"] < per_date["rows"])]
    if per_date.empty:
        return NAN
    calm = per_date["rows"] - per_date["storm"]
    u = per_date["storm_rank"] - per_date["storm"] * (per_date["storm"] + 1) / 2
    return float((u / (per_date["storm"] * calm)).mean())


def storm_episode_count(table: pd.DataFrame, horizon: int) -> int:
    """Runs of consecutive storm days per market within each fold's test block: the independent events a verdict
    rests on (a fall seen from each of the h days before it is one storm, not h)."""
    ordered, group = by_fold_and_market(table)
    ids = storm_episode_ids(group, ordered[storm_column(horizon)].to_numpy(float))
    return int(ids.max() + 1) if len(ids) and ids.max() >= 0 else 0


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
    """Lead time in trading days of the warning for each storm episode with a known start (NaN: never warned).

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
    episodes = episode_warnings(table, horizon)
    return episodes.loc[episodes["known_start"], "lead_days"].to_numpy(float)


def episode_warnings(table: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """One row per storm episode (per fold where the table has one): fold, market, first_storm_day,
    last_storm_day, known_start, lead_days (NaN: no alert run reached it), by lead_times' rule."""
    ordered, group = by_fold_and_market(table)
    labels, alerts = ordered[storm_column(horizon)].to_numpy(float), ordered[alert_column(horizon)].to_numpy(bool)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    rows = []
    for start, end in zip(starts, [*starts[1:], len(ordered)]):
        for first, last, known, lead in _market_lead_times(labels[start:end], alerts[start:end]):
            rows.append({FOLD: ordered[FOLD].iloc[start] if FOLD in ordered.columns else None,
                         "market": ordered["market"].iloc[start], "first_storm_day": ordered["date"].iloc[start + first],
                         "last_storm_day": ordered["date"].iloc[start + last], "known_start": known, "lead_days": lead})
    columns = [FOLD, "market", "first_storm_day", "last_storm_day", "known_start", "lead_days"]
    return pd.DataFrame(rows, columns=columns).astype({"known_start": bool, "lead_days": float})


def _market_lead_times(labels: np.ndarray, alerts: np.ndarray) -> list[tuple[int, int, bool, float]]:
    """(first day, last day, whether its start is known, lead) per run of storm days of one market."""
    storm = np.concatenate([[False], labels == 1, [False]])
    starts = np.flatnonzero(~storm[:-1] & storm[1:])
    ends = np.flatnonzero(storm[:-1] & ~storm[1:]) - 1  # last day of each run of storm days
    alerting = np.concatenate([[False], alerts, [False]])
    run_starts = np.flatnonzero(~alerting[:-1] & alerting[1:])
    run_ends = np.flatnonzero(alerting[:-1] & ~alerting[1:]) - 1
    episodes, previous_end = [], -1
    for start, end in zip(starts, ends):
        reaching = np.flatnonzero((run_ends >= start) & (run_starts <= end))
        first_alert = max(run_starts[reaching[0]], previous_end + 1) if len(reaching) else None
        known = bool(start > 0 and labels[start - 1] == 0)
        episodes.append((int(start), int(end), known, NAN if first_alert is None else float(start - first_alert)))
        previous_end = end
    return episodes


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
