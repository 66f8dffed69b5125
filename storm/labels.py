"""Storm labels and forward volatility from daily closes (pure numpy / pandas).

A storm within h days on day t means a peak-to-trough fall somewhere in days
t..t+h of the kind ``labels.kind`` names: the close by ``drawdown_threshold``
(``drawdown``), the close by ``vol_multiple`` × trailing σ × √h
(``vol_scaled``), or the close relative to an index by ``excess_threshold``
(``excess``). Days whose future is not in the data yet get NaN, never 0: an
unknown future is not calm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from storm.config import LabelConfig
from storm.schema import FWD_VOL, storm_column
from storm.series import (TRADING_DAYS_PER_YEAR, annualised_volatility, daily_log_returns,  # noqa: F401 (re-exported)
                          equal_weighted_index, market_starts)

_MIN_VOLATILITY = 1e-6  # keeps log finite on a flat stretch


def forward_max_drawdown(close: np.ndarray, horizon: int) -> np.ndarray:
    """For day t: max over t ≤ b ≤ t+horizon of ``1 - close[b] / max(close[t..b])``; NaN where t+horizon is past the data.

    One pass per day ahead over all days at once: memory stays one array, whatever the horizon.
    """
    close = np.asarray(close, dtype=np.float64)
    drawdown = np.full(close.shape[0], np.nan)
    if horizon < 0:
        raise ValueError(f"horizon must be ≥ 0 trading days, got {horizon}")
    if close.shape[0] <= horizon:
        return drawdown
    days = close.shape[0] - horizon
    running_peak = close[:days].copy()
    worst = np.zeros(days)
    for ahead in range(1, horizon + 1):
        later = close[ahead:ahead + days]
        np.maximum(running_peak, later, out=running_peak)
        np.maximum(worst, 1.0 - later / running_peak, out=worst)
    drawdown[:days] = worst
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


def storm_flags(close: np.ndarray, horizon: int, threshold: float | np.ndarray) -> np.ndarray:
    """1.0 where the forward max drawdown within horizon reaches threshold (one, or one per day), 0.0 where it does
    not, NaN where either is unknown."""
    drawdown = forward_max_drawdown(close, horizon)
    unknown = np.isnan(drawdown) | np.isnan(threshold)
    return np.where(unknown, np.nan, (drawdown >= threshold).astype(np.float64))


def trailing_daily_volatility(close: np.ndarray, market: np.ndarray, lookback: int) -> np.ndarray:
    """Per row (rows grouped by market, in date order): the std (ddof 1) of the market's last ``lookback`` daily log
    returns up to and including that day; NaN until the market has that many. Trailing only: the vol_scaled threshold
    of day t never reads a day after t."""
    returns = daily_log_returns(close, market)
    return annualised_volatility(returns, lookback, lookback, market) / np.sqrt(TRADING_DAYS_PER_YEAR)


def close_relative_to_index(prices: pd.DataFrame, labels: LabelConfig) -> np.ndarray:
    """Per row of ``prices`` (market, date, close; grouped by market, in date order): close / the index's level on
    that date (its last level on or before it; NaN before the index starts). Its drawdown is the excess fall.

    The index is the market ``labels.index_market`` or, unset, the equal-weighted index of every market here.
    """
    if labels.index_market is None:
        index = equal_weighted_index(prices)
    elif labels.index_market in set(prices["market"]):
        index = prices.loc[prices["market"] == labels.index_market, ["date", "close"]]
    else:
        raise ValueError(f"labels.index_market {labels.index_market!r} is not a market of these prices; import its "
                         "prices with the world, or leave labels.index_market unset for the equal-weighted index")
    index = index.assign(date=index["date"].astype(str)).sort_values("date", kind="stable")
    index_dates, index_close = index["date"].to_numpy(), index["close"].to_numpy(np.float64)
    at = np.searchsorted(index_dates, prices["date"].astype(str).to_numpy(), side="right") - 1
    level = np.where(at >= 0, index_close[np.maximum(at, 0)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return prices["close"].to_numpy(np.float64) / level


def label_table(prices: pd.DataFrame, labels: LabelConfig) -> pd.DataFrame:
    """``date``, ``storm_{h}d`` per horizon and ``fwd_log_vol`` for one market's prices (sorted by date).

    A frame with a ``market`` column is labelled per market and keeps that column (sorted by market, date):
    all markets in one pass, a day whose look-ahead reaches past its own market's last day being unknown.
    """
    by_market = "market" in prices.columns
    ordered = prices.sort_values(["market", "date"] if by_market else "date", kind="stable")
    close = ordered["close"].to_numpy(dtype=np.float64)
    market = ordered["market"].to_numpy() if by_market else np.zeros(len(ordered), dtype=np.int64)
    days_left = _days_left_in_market(market)
    table = pd.DataFrame({"date": ordered["date"].astype(str).to_numpy()})
    falling, threshold = _what_falls_and_how_far(ordered.assign(market=market), labels)
    for horizon in labels.horizons:
        flags = storm_flags(falling, horizon, threshold(horizon))
        table[storm_column(horizon)] = np.where(days_left >= horizon, flags, np.nan)
    volatility = forward_log_volatility(close, labels.volatility_window)
    table[FWD_VOL] = np.where(days_left >= labels.volatility_window, volatility, np.nan)
    if by_market:
        table.insert(0, "market", ordered["market"].to_numpy())
    return table


def refuse_excess_without_an_index(markets: int, labels: LabelConfig) -> None:
    """``excess`` on a world of one market with no named index can never fire: the market is its own equal-weighted
    index. Refused with the fix before any work (train and evaluate alike)."""
    if labels.kind == "excess" and labels.index_market is None and markets == 1:
        horizons = ", ".join(str(h) for h in labels.horizons)
        raise ValueError(f"labels.kind=excess on a world of one market: it is its own equal-weighted index, so no day "
                         f"falls more than it and no day is a storm at any horizon ({horizons} days). Name an index "
                         "with labels.index_market (a market imported with the world's prices), or use "
                         "labels.kind=drawdown or vol_scaled")


def require_some_storm(table: pd.DataFrame, labels: LabelConfig) -> None:
    """Refuse to judge a world whose labels hold no storm at any horizon: every AUROC would be undefined after the
    whole walk-forward. Says why and what to change. (Training alone goes on: a plumbing check may train on a
    storm-free toy world.)"""
    markets = table["market"].nunique() if "market" in table.columns else 1
    refuse_excess_without_an_index(markets, labels)
    columns = [storm_column(h) for h in labels.horizons]
    if np.nansum(table[columns].to_numpy(np.float64)) > 0:
        return
    threshold = {"drawdown": f"labels.drawdown_threshold={labels.drawdown_threshold}",
                 "vol_scaled": f"labels.vol_multiple={labels.vol_multiple}",
                 "excess": f"labels.excess_threshold={labels.excess_threshold}"}[labels.kind]
    horizons = ", ".join(str(h) for h in labels.horizons)
    raise ValueError(f"labels.kind={labels.kind}: no day of these prices ({markets} market(s), {len(table)} days) is a "
                     f"storm at any horizon ({horizons} days), so there is nothing to judge; lower {threshold}, or "
                     "import more history")


def _what_falls_and_how_far(prices: pd.DataFrame, labels: LabelConfig):
    """(the series whose forward drawdown is read, horizon → the fall that makes a storm: one or one per row)."""
    close = prices["close"].to_numpy(dtype=np.float64)
    if labels.kind == "excess":
        return close_relative_to_index(prices, labels), lambda horizon: labels.excess_threshold
    if labels.kind == "vol_scaled":
        # a flat stretch (σ = 0) must not make a zero fall a storm
        daily = np.maximum(trailing_daily_volatility(close, prices["market"].to_numpy(), labels.vol_lookback),
                           _MIN_VOLATILITY)
        return close, lambda horizon: labels.vol_multiple * daily * np.sqrt(horizon)
    return close, lambda horizon: labels.drawdown_threshold


def _days_left_in_market(market: np.ndarray) -> np.ndarray:
    """Per row of rows grouped by market: how many later rows its market has."""
    if len(market) == 0:
        return np.zeros(0, dtype=np.int64)
    run_end = np.r_[np.flatnonzero(market_starts(market))[1:] - 1, len(market) - 1]  # each market's last row
    end_of_row = np.repeat(run_end, np.diff(np.r_[-1, run_end]))
    return end_of_row - np.arange(len(market))


def storm_episode_ids(market: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per row of rows grouped by market in date order: the storm episode each storm day belongs to (0, 1, …), −1
    on calm or unknown days.

    An episode is a run of consecutive storm days (label 1) of one market: the days of one fall, seen from each
    day before it that the horizon reaches. Consecutive storm days are one event, not many: counting days would
    count a single crash h times, and a verdict would rest on far fewer independent events than it claims.
    """
    labels = np.asarray(labels, dtype=np.float64)
    storm = labels == 1
    starts = storm & ~np.r_[False, storm[:-1]]
    starts |= storm & market_starts(market)  # a run never continues into the next market
    ids = np.cumsum(starts) - 1
    return np.where(storm, ids, -1)


def count_storm_episodes(market: np.ndarray, labels: np.ndarray) -> int:
    """How many runs of consecutive storm days the rows hold (rows grouped by market, in date order)."""
    ids = storm_episode_ids(market, labels)
    return int(ids.max() + 1) if len(ids) and ids.max() >= 0 else 0


def forward_drawdowns(prices: pd.DataFrame, horizons: list[int]) -> pd.DataFrame:
    """market, date, drawdown_{h}d: the deepest peak-to-trough fall within h days ahead of each day (NaN where the
    future is not in the data): how deep the storm a label counts was."""
    ordered = prices.sort_values(["market", "date"], kind="stable")
    close = ordered["close"].to_numpy(np.float64)
    days_left = _days_left_in_market(ordered["market"].to_numpy())
    table = pd.DataFrame({"market": ordered["market"].to_numpy(), "date": ordered["date"].astype(str).to_numpy()})
    for horizon in horizons:
        table[f"drawdown_{horizon}d"] = np.where(days_left >= horizon, forward_max_drawdown(close, horizon), np.nan)
    return table
