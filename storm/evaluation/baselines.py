"""What the fused model must beat: trailing volatility, GARCH(1,1), and (synthetic only) the oracle.

Each baseline turns prices (or the hidden truth) into one raw score per (market, date)
and horizon, using only what was known at that day's close. ``score_baseline`` then
treats it like the model: a probability fitted on the validation period (Platt
scaling) and a threshold chosen on validation at the same false-alarm rate as the
model's, so the comparison on the test period is fair.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from arch import arch_model
from sklearn.linear_model import LogisticRegression

from storm.evaluation.metrics import TRADING_DAYS_PER_YEAR, alert_column, score_column
from storm.schema import FWD_VOL, storm_column
from storm.training.calibration import threshold_for_false_alarm_rate  # the model's own rule: a fair comparison

GARCH_SCALE = 100.0  # arch fits best on returns in percent
MIN_GARCH_RETURNS = 100


def raw_score_column(horizon: int) -> str:
    return f"raw_{horizon}d"


def trailing_log_volatility(close: np.ndarray, window: int = 20) -> np.ndarray:
    """Log annualised std of the last ``window`` daily log returns up to and including each day."""
    returns = pd.Series(np.diff(np.log(close)))
    std = returns.rolling(window, min_periods=window).std(ddof=1).to_numpy()
    with np.errstate(divide="ignore"):
        log_vol = np.log(std * np.sqrt(TRADING_DAYS_PER_YEAR))
    return np.concatenate([[np.nan], log_vol])


def garch_log_volatility(
    close: np.ndarray, positions: np.ndarray, horizons: list[int], refit_every: int = 20
) -> dict[int, np.ndarray]:
    """GARCH(1,1) forecast of log annualised volatility over the next h days, for each day in ``positions``.

    Parameters are fitted on an expanding window of returns strictly before the first
    day of each block of ``refit_every`` days, then held fixed while the variance
    recursion runs through each day's own return: a day's forecast never sees a later
    price. Days with fewer than MIN_GARCH_RETURNS returns behind them stay NaN.
    """
    returns = np.diff(np.log(close)) * GARCH_SCALE
    forecasts = {h: np.full(len(close), np.nan) for h in horizons}
    todo = sorted(int(p) for p in positions if p - 1 >= MIN_GARCH_RETURNS)
    params = None
    while todo:
        first_origin = todo[0] - 1  # day p's return is returns[p - 1]
        block = [p for p in todo if p < todo[0] + refit_every]
        variance, params = _garch_variance_paths(returns, first_origin, block[-1] - 1, max(horizons), params)
        for h in horizons:
            mean_variance = variance[:, :h].mean(axis=1)
            for p in block:
                forecasts[h][p] = 0.5 * np.log(mean_variance[p - 1 - first_origin] * TRADING_DAYS_PER_YEAR) - np.log(GARCH_SCALE)
        todo = todo[len(block):]
    return forecasts


def _garch_variance_paths(returns: np.ndarray, first_origin: int, last_origin: int, horizon: int, start_params):
    """Variance forecasts [origins first..last, horizon] from GARCH(1,1) fitted on returns[:first_origin].

    The filter runs on returns[:last_origin + 1] only: later returns are not even handed to arch.
    Returns (variance paths, fitted parameters to warm-start the next fit).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short windows; a poor fit is still a fair baseline
        estimation = arch_model(returns[:first_origin], mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
        fitted = estimation.fit(disp="off", show_warning=False, starting_values=start_params)
        filtering = arch_model(returns[: last_origin + 1], mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
        forecast = filtering.fix(fitted.params).forecast(horizon=horizon, start=first_origin, reindex=False)
    return forecast.variance.to_numpy(), fitted.params.to_numpy()


def price_baseline_scores(
    prices: pd.DataFrame, dates: set[str], horizons: list[int], vol_window: int, refit_every: int = 20
) -> dict[str, pd.DataFrame]:
    """Raw scores of the two price baselines on ``dates``: {"trailing_vol": table, "garch": table}.

    ``prices``: market, date, close (all history: the baselines need the past).
    Tables: market, date, raw_{h}d for each horizon, vol_pred (each baseline's volatility forecast).
    """
    trailing, garch = [], []
    for market, rows in prices.sort_values(["market", "date"]).groupby("market", sort=False):
        close = rows["close"].to_numpy(float)
        market_dates = rows["date"].to_numpy()
        wanted = np.flatnonzero(np.isin(market_dates, list(dates)))
        keys = pd.DataFrame({"market": market, "date": market_dates[wanted]})
        trailing_vol = trailing_log_volatility(close, vol_window)[wanted]
        trailing.append(keys.assign(**{raw_score_column(h): trailing_vol for h in horizons}, vol_pred=trailing_vol))
        forecast = garch_log_volatility(close, wanted, sorted(set(horizons) | {vol_window}), refit_every)
        garch.append(keys.assign(**{raw_score_column(h): forecast[h][wanted] for h in horizons},
                                 vol_pred=forecast[vol_window][wanted]))
    return {"trailing_vol": pd.concat(trailing, ignore_index=True), "garch": pd.concat(garch, ignore_index=True)}


def oracle_scores(truth: pd.DataFrame, dates: set[str], horizons: list[int]) -> pd.DataFrame:
    """The best possible score on a synthetic world: the hidden fragility itself (truth: market, date, fragility)."""
    rows = truth[truth["date"].isin(dates)]
    return rows[["market", "date"]].assign(**{raw_score_column(h): rows["fragility"].to_numpy(float) for h in horizons})


def score_baseline(
    raw: pd.DataFrame,
    labels: pd.DataFrame,
    validation_dates: set[str],
    test_dates: set[str],
    horizons: list[int],
    false_alarm_rate: float,
) -> tuple[pd.DataFrame, dict[int, bool], list[str]]:
    """Turn raw baseline scores into a predictions table on the test dates.

    Per horizon, fitted on validation rows only: Platt scaling (a probability, so Brier
    means something) and the alert threshold at ``false_alarm_rate``. Where validation
    cannot support a probability (one class, or a score that ranks backwards) the raw
    score is kept and the horizon is marked not probabilistic.
    Returns (table with score_{h}d, alert_{h}d, labels, vol_pred if given; {h: probabilistic}; notes).
    """
    joined = raw.merge(labels, on=["market", "date"], how="left")
    validation = joined[joined["date"].isin(validation_dates)]
    test = joined[joined["date"].isin(test_dates)].copy()
    probabilistic, notes = {}, []
    for h in horizons:
        raw_name, label_name = raw_score_column(h), storm_column(h)
        to_probability = _platt_scaler(validation[raw_name].to_numpy(float), validation[label_name].to_numpy(float))
        probabilistic[h] = to_probability is not None
        if to_probability is None:
            notes.append(f"storm_{h}d: validation cannot calibrate this baseline; raw score kept, Brier skipped")
            to_probability = lambda scores: scores  # noqa: E731
        validation_score = to_probability(validation[raw_name].to_numpy(float))
        threshold = threshold_for_false_alarm_rate(validation_score, validation[label_name].to_numpy(float), false_alarm_rate)
        test[score_column(h)] = to_probability(test[raw_name].to_numpy(float))
        test[alert_column(h)] = test[score_column(h)].to_numpy() >= threshold
    keep = ["market", "date", *(c for h in horizons for c in (score_column(h), alert_column(h), storm_column(h)))]
    keep += [c for c in ("vol_pred", FWD_VOL) if c in test.columns]
    return test[keep].sort_values(["market", "date"]).reset_index(drop=True), probabilistic, notes


def _platt_scaler(scores: np.ndarray, labels: np.ndarray):
    known = ~np.isnan(scores) & ~np.isnan(labels)
    if len(np.unique(labels[known])) < 2:
        return None
    fitted = LogisticRegression().fit(scores[known].reshape(-1, 1), labels[known].astype(int))
    if fitted.coef_[0, 0] <= 0:
        return None

    def to_probability(values: np.ndarray) -> np.ndarray:
        probability = np.full(len(values), np.nan)
        finite = ~np.isnan(values)
        if finite.any():
            probability[finite] = fitted.predict_proba(values[finite].reshape(-1, 1))[:, 1]
        return probability

    return to_probability
