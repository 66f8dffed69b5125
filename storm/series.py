"""Price-series arithmetic that labels and features both read: market boundaries, trailing windows, volatility,
daily returns and the equal-weighted index. One definition each, at the bottom of the layers, so a label and a
feature can never mean two different volatilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRADING_DAYS_PER_YEAR = 252


def market_starts(market: np.ndarray) -> np.ndarray:
    """Per row of rows grouped by market (as read_prices returns them): True where a market's first row is."""
    market = np.asarray(market)
    return np.r_[True, market[1:] != market[:-1]] if len(market) else np.zeros(0, dtype=bool)


def trailing_window(values: np.ndarray, market: np.ndarray | None, window: int, min_periods: int):
    """A trailing window over ``values``; with ``market`` (rows grouped by market) one that restarts per market."""
    series = pd.Series(values)
    if market is None:
        return series.rolling(window, min_periods=min_periods)
    return series.groupby(np.cumsum(market_starts(market)), sort=False).rolling(window, min_periods=min_periods)


def annualised_volatility(log_returns: np.ndarray, window: int, min_periods: int,
                          market: np.ndarray | None = None) -> np.ndarray:
    """Annualised std (ddof 1) of the last ``window`` daily log returns at each day; NaN before ``min_periods``.

    The one definition of trailing volatility: the model's price readings, the trail-vol baseline and the
    vol_scaled labels all use it. ``market`` (rows grouped by market): each market's windows hold its own returns.
    """
    std = trailing_window(log_returns, market, window, min_periods).std().to_numpy()
    return std * np.sqrt(TRADING_DAYS_PER_YEAR)


def daily_log_returns(close: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Per row (rows grouped by market): log(close / the market's previous close); NaN on a market's first day and
    where a close is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_close = np.log(np.where(close > 0, close, np.nan))
    returns = np.diff(log_close, prepend=np.nan)
    returns[market_starts(market)] = np.nan  # a market's first day has no return
    return returns


def equal_weighted_index(prices: pd.DataFrame) -> pd.DataFrame:
    """date, close of the world's equal-weighted index: each date's mean daily log return over the markets that
    traded that day and the day before, compounded from 1 (a market's first day adds no return)."""
    prices = prices.sort_values(["market", "date"], kind="stable")
    returns = daily_log_returns(prices["close"].to_numpy(np.float64), prices["market"].to_numpy())
    mean = pd.Series(returns).groupby(prices["date"].astype(str).to_numpy()).mean().sort_index()
    return pd.DataFrame({"date": mean.index.to_numpy(), "close": np.exp(np.cumsum(mean.fillna(0.0).to_numpy()))})
