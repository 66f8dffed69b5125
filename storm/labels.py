"""Storm labels and forward volatility from daily closes (pure numpy / pandas).

A storm within h days on day t means the close falls, peak to trough, by at
least ``labels.drawdown_threshold`` somewhere in days t..t+h. Days whose
future is not in the data yet get NaN, never 0: an unknown future is not calm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from storm.config import LabelConfig
from storm.schema import FWD_VOL, storm_column

TRADING_DAYS_PER_YEAR = 252
_MIN_VOLATILITY = 1e-6  # keeps log finite on a flat stretch


def forward_max_drawdown(close: np.ndarray, horizon: int) -> np.ndarray:
    """For day t: max over t ≤ b ≤ t+horizon of ``1 - close[b] / max(close[t..b])``; NaN where t+horizon is past the data."""
    close = np.asarray(close, dtype=np.float64)
    drawdown = np.full(close.shape[0], np.nan)
    if horizon < 0:
        raise ValueError(f"horizon must be ≥ 0 trading days, got {horizon}")
    if close.shape[0] <= horizon:
        return drawdown
    windows = sliding_window_view(close, horizon + 1)  # windows[t, j] = close[t + j]
    running_peak = np.maximum.accumulate(windows, axis=1)
    drawdown[: windows.shape[0]] = (1.0 - windows / running_peak).max(axis=1)
    return drawdown


def forward_log_volatility(close: np.ndarray, window: int) -> np.ndarray:
    """For day t: log of the annualised sample std of daily log returns on days t+1..t+window; NaN where unknown."""
    close = np.asarray(close, dtype=np.float64)
    volatility = np.full(close.shape[0], np.nan)
    if window < 2:
        raise ValueError(f"volatility window must be ≥ 2 returns, got {window}")
    log_returns = np.diff(np.log(close))  # log_returns[k] is the return of day k+1
    if log_returns.shape[0] < window:
        return volatility
    windows = sliding_window_view(log_returns, window)  # windows[t] = returns of days t+1..t+window
    annualised = windows.std(axis=1, ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR)
    volatility[: windows.shape[0]] = np.log(np.maximum(annualised, _MIN_VOLATILITY))
    return volatility


def storm_flags(close: np.ndarray, horizon: int, threshold: float) -> np.ndarray:
    """1.0 where the forward max drawdown within horizon reaches threshold, 0.0 where it does not, NaN where unknown."""
    drawdown = forward_max_drawdown(close, horizon)
    return np.where(np.isnan(drawdown), np.nan, (drawdown >= threshold).astype(np.float64))


def label_table(prices: pd.DataFrame, labels: LabelConfig) -> pd.DataFrame:
    """``date``, ``storm_{h}d`` per horizon and ``fwd_log_vol`` for one market's prices (sorted by date).

    A frame with a ``market`` column is labelled market by market and keeps that column.
    """
    if "market" in prices.columns:
        parts = [_label_one_market(group, labels).assign(market=market)
                 for market, group in prices.groupby("market", sort=True)]
        table = pd.concat(parts, ignore_index=True) if parts else _label_one_market(prices.iloc[:0], labels)
        return table[["market", *[c for c in table.columns if c != "market"]]]
    return _label_one_market(prices, labels)


def _label_one_market(prices: pd.DataFrame, labels: LabelConfig) -> pd.DataFrame:
    ordered = prices.sort_values("date", kind="stable")
    close = ordered["close"].to_numpy(dtype=np.float64)
    table = pd.DataFrame({"date": ordered["date"].astype(str).to_numpy()})
    for horizon in labels.horizons:
        table[storm_column(horizon)] = storm_flags(close, horizon, labels.drawdown_threshold)
    table[FWD_VOL] = forward_log_volatility(close, labels.volatility_window)
    return table
