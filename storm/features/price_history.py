"""Per-day price features: what the chart shows, as numbers a temporal encoder reads day by day.

Pure numpy/pandas on one market's OHLCV in date order; each day's features use
that day's close and earlier only. Scaled to order-one values with fixed
constants (no statistics fitted on data, so nothing leaks across a split).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.labels import TRADING_DAYS_PER_YEAR, market_starts

PRICE_FEATURES = ("log_return", "abs_return", "range", "volume_surprise", "drawdown_60", "log_vol_20", "log_vol_60")
RETURN_SCALE = 50.0  # a 2% day reads as 1.0
TYPICAL_LOG_VOL = np.log(0.18)  # annualised volatility of a calm index
VOLUME_WINDOW = 60


def annualised_volatility(log_returns: np.ndarray, window: int, min_periods: int,
                          market: np.ndarray | None = None) -> np.ndarray:
    """Annualised std (ddof 1) of the last ``window`` daily log returns at each day; NaN before ``min_periods``.

    The one definition of trailing volatility: the model's price readings and the trail-vol baseline both use it.
    ``market`` (rows grouped by market): each market's windows hold its own returns only.
    """
    std = _rolling(log_returns, market, window, min_periods).std().to_numpy()
    return std * np.sqrt(TRADING_DAYS_PER_YEAR)


def drawdown_from_peak(close: np.ndarray, window: int = 60, min_periods: int | None = None,
                       market: np.ndarray | None = None) -> np.ndarray:
    """1 − close / (highest close of the last ``window`` days, today included); NaN before ``min_periods`` days
    (default: the whole window)."""
    peak = _rolling(close, market, window, window if min_periods is None else min_periods).max().to_numpy()
    return 1.0 - close / peak


def daily_price_features(prices: pd.DataFrame) -> np.ndarray:
    """float32 [n_days, len(PRICE_FEATURES)] for one market's rows (sorted by date); NaN-free.

    With a ``market`` column: rows sorted by market, then date, every market read from its own rows only, all
    markets in one pass (a loop over 2,400 markets cost a scan 4 s).
    """
    market = prices["market"].to_numpy() if "market" in prices.columns else None
    close = prices["close"].to_numpy(np.float64)
    log_close = np.log(np.maximum(close, 1e-12))
    log_return = np.diff(log_close, prepend=log_close[:1])
    if market is not None:
        log_return[market_starts(market)] = 0.0  # a market's first day has no return
    high = prices["high"].to_numpy(np.float64)
    low = prices["low"].to_numpy(np.float64)
    day_range = np.log(np.maximum(high, 1e-12) / np.maximum(low, 1e-12))
    log_volume = np.log1p(np.maximum(prices["volume"].to_numpy(np.float64), 0.0))
    volume_surprise = log_volume - _rolling(log_volume, market, VOLUME_WINDOW, 1).mean().to_numpy()
    drawdown = drawdown_from_peak(close, 60, min_periods=1, market=market)
    vol_20 = annualised_volatility(log_return, 20, min_periods=2, market=market)
    vol_60 = annualised_volatility(log_return, 60, min_periods=2, market=market)
    features = np.stack([
        log_return * RETURN_SCALE,
        np.abs(log_return) * RETURN_SCALE,
        day_range * RETURN_SCALE,
        np.clip(volume_surprise, -3.0, 3.0),
        drawdown * 5.0,
        np.log(np.maximum(vol_20, 1e-4)) - TYPICAL_LOG_VOL,
        np.log(np.maximum(vol_60, 1e-4)) - TYPICAL_LOG_VOL,
    ], axis=1)
    return np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _rolling(values: np.ndarray, market: np.ndarray | None, window: int, min_periods: int):
    """A trailing window over ``values``; with ``market`` (rows grouped by market) one that restarts per market."""
    series = pd.Series(values)
    if market is None:
        return series.rolling(window, min_periods=min_periods)
    return series.groupby(np.cumsum(market_starts(market)), sort=False).rolling(window, min_periods=min_periods)
