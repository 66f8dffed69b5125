"""Per-day price features: what the chart shows, as numbers a temporal encoder reads day by day.

Pure numpy/pandas on one market's OHLCV in date order; each day's features use
that day's close and earlier only. Scaled to order-one values with fixed
constants (no statistics fitted on data, so nothing leaks across a split).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.series import (TRADING_DAYS_PER_YEAR, annualised_volatility, daily_log_returns,  # noqa: F401 (re-exported)
                          equal_weighted_index, market_starts, trailing_window)

PRICE_FEATURES = ("log_return", "abs_return", "range", "volume_surprise", "drawdown_60", "log_vol_20", "log_vol_60")
RETURN_SCALE = 50.0  # a 2% day reads as 1.0
TYPICAL_LOG_VOL = np.log(0.18)  # annualised volatility of a calm index
VOLUME_WINDOW = 60


def drawdown_from_peak(close: np.ndarray, window: int = 60, min_periods: int | None = None,
                       market: np.ndarray | None = None) -> np.ndarray:
    """1 − close / (highest close of the last ``window`` days, today included); NaN before ``min_periods`` days
    (default: the whole window)."""
    peak = trailing_window(close, market, window, window if min_periods is None else min_periods).max().to_numpy()
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
    volume_surprise = log_volume - trailing_window(log_volume, market, VOLUME_WINDOW, 1).mean().to_numpy()
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


# ---- price features a quant would engineer (the boosted candidate's inputs) ---------------------------------------

QUANT_FEATURES = (
    "har_vol_1", "har_vol_5", "har_vol_22", "downside_semivariance_22", "drawdown_60", "drawdown_250",
    "return_5", "return_20", "return_60", "return_250", "vol_vs_year_median", "beta_252", "idiosyncratic_vol_60",
    "index_vol_22", "index_drawdown_60", "turnover_detrended", "days_since_call", "days_until_call",
    "vol_trend_deviation",
)
# +1: a higher value, all else equal, never lowers the storm hazard; -1: never raises it; 0: the sign is not clear.
QUANT_MONOTONE: dict[str, int] = {
    "har_vol_1": 1, "har_vol_5": 1, "har_vol_22": 1,  # volatility clusters: more recent variance, larger moves ahead
    "downside_semivariance_22": 1,  # falls beget falls (leverage effect); it is the bad half of the variance
    "drawdown_60": 1, "drawdown_250": 1,  # a market already falling is closer to a 10% fall, and falls cluster
    "return_5": 0, "return_20": 0, "return_60": 0, "return_250": 0,  # momentum, reversal and bubbles: either sign
    "vol_vs_year_median": 0,  # with the level of vol known, a high ratio also means a usually calm market
    "beta_252": 0,  # high beta carries the index's crashes, low beta sits beside high idiosyncratic risk
    "idiosyncratic_vol_60": 1,  # the market's own variance: larger own moves ahead
    "index_vol_22": 1, "index_drawdown_60": 1,  # the whole world in a storm drags every market toward one
    "turnover_detrended": 0,  # heavy volume comes with capitulation and with good news alike
    "days_since_call": 0, "days_until_call": 0,  # the hazard peaks around a call: U-shaped, not monotone
    "vol_trend_deviation": 0,  # high now raises the near hazard, yet low vol breeds later crises (DVZ 2018)
}
CALL_DAYS_CAP = 252
MIN_VOL = 1e-4  # floor under annualised volatilities before a log (a day with no move is not -inf)


def quant_price_features(prices: pd.DataFrame, calls: pd.DataFrame | None = None,
                         index: pd.DataFrame | None = None) -> pd.DataFrame:
    """market, date and QUANT_FEATURES for every row of ``prices``; each from that day's close and earlier only.

    What a quant feeds a boosted model before any text or audio: the bar storm's models must clear.
    ``prices``: market, date (YYYY-MM-DD), close, optionally volume. ``calls``: market, date of scheduled earnings
    calls (None: no calendar). ``index``: date, close of the index to measure beta against (None: the equal-weighted
    index of these markets). All markets in one pass, each reading only its own rows (and the index's).
    """
    prices = prices.sort_values(["market", "date"], kind="stable").reset_index(drop=True)
    market = prices["market"].to_numpy()
    dates = prices["date"].astype(str).to_numpy()
    close = prices["close"].to_numpy(np.float64)
    returns = daily_log_returns(close, market)
    index = equal_weighted_index(prices) if index is None else index
    index_returns, index_features = _index_readings(index, dates, market)
    features = {
        **_volatility_features(returns, market),
        "drawdown_60": drawdown_from_peak(close, 60, min_periods=1, market=market),
        "drawdown_250": drawdown_from_peak(close, 250, min_periods=1, market=market),
        **{f"return_{days}": log_return_over(close, days, market) for days in (5, 20, 60, 250)},
        **_market_model(returns, index_returns, market),
        **index_features,
        "turnover_detrended": _detrended_log_volume(prices, market),
        **_call_timing(market, dates, calls),
    }
    table = prices[["market", "date"]].copy()
    for name in QUANT_FEATURES:
        table[name] = features[name]
    return table


def _log_realised_vol(mean_square: np.ndarray) -> np.ndarray:
    """log annualised volatility from a mean squared daily return (uncentred, as realised variance is)."""
    return np.log(np.maximum(np.sqrt(mean_square * TRADING_DAYS_PER_YEAR), MIN_VOL))


def _volatility_features(returns: np.ndarray, market: np.ndarray) -> dict[str, np.ndarray]:
    """HAR's daily/weekly/monthly realised vol (Corsi 2009), downside semivariance (Barndorff-Nielsen, Kinnebrock
    & Shephard 2010), and the monthly vol against its own year's median and its five-year trend (Danielsson,
    Valenzuela & Zer 2018)."""
    square = returns ** 2
    har = {days: _log_realised_vol(trailing_window(square, market, days, days).mean().to_numpy()) for days in (1, 5, 22)}
    downside = trailing_window(square * (returns < 0), market, 22, 22)  # NaN stays NaN: a missing day is no calm day
    semivariance = downside.mean().to_numpy() * TRADING_DAYS_PER_YEAR
    year_median = trailing_window(np.exp(har[22]), market, TRADING_DAYS_PER_YEAR, 126).median().to_numpy()
    trend = trailing_window(har[22], market, 5 * TRADING_DAYS_PER_YEAR, TRADING_DAYS_PER_YEAR).mean().to_numpy()
    return {
        "har_vol_1": har[1], "har_vol_5": har[5], "har_vol_22": har[22],
        "downside_semivariance_22": np.log(np.maximum(semivariance, MIN_VOL ** 2)),
        "vol_vs_year_median": har[22] - np.log(year_median),
        "vol_trend_deviation": har[22] - trend,
    }


def log_return_over(close: np.ndarray, days: int, market: np.ndarray) -> np.ndarray:
    """log(close / close ``days`` rows earlier in the same market); NaN for a market's first ``days`` rows."""
    starts = np.flatnonzero(market_starts(market))
    position = np.arange(len(close)) - np.repeat(starts, np.diff(np.r_[starts, len(close)]))
    earlier = np.full(len(close), np.nan)
    has_past = position >= days
    earlier[has_past] = close[np.flatnonzero(has_past) - days]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(close / earlier)


def _index_readings(index: pd.DataFrame, dates: np.ndarray, market: np.ndarray):
    """The index's log return over each market row's own interval (previous row to this one, each day's level as of
    that date, so calendars need not match), and the index's 22-day vol and 60-day drawdown as of each row."""
    index = index.assign(date=index["date"].astype(str)).sort_values("date", kind="stable")
    index_dates = index["date"].to_numpy()
    index_close = index["close"].to_numpy(np.float64)
    index_market = np.zeros(len(index_close), dtype=np.int64)  # one series: no market boundaries
    square = daily_log_returns(index_close, index_market) ** 2
    own = {"index_vol_22": _log_realised_vol(trailing_window(square, index_market, 22, 22).mean().to_numpy()),
           "index_drawdown_60": drawdown_from_peak(index_close, 60, min_periods=1, market=index_market)}
    at = np.searchsorted(index_dates, dates, side="right") - 1  # the index's last date on or before each row

    def as_of(values: np.ndarray) -> np.ndarray:
        return np.where(at >= 0, values[np.maximum(at, 0)], np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        level = as_of(np.log(np.where(index_close > 0, index_close, np.nan)))
    index_returns = np.diff(level, prepend=np.nan)
    index_returns[market_starts(market)] = np.nan
    return index_returns, {name: as_of(values) for name, values in own.items()}


def _market_model(returns: np.ndarray, index_returns: np.ndarray, market: np.ndarray) -> dict[str, np.ndarray]:
    """Beta to the index over a year (at least 60 days) and the residual vol of the 60-day market-model regression
    (idiosyncratic vol, Ang, Hodrick, Xing & Zhang 2006), both from days where both returns exist."""
    both = np.isfinite(returns) & np.isfinite(index_returns)
    y, x = np.where(both, returns, np.nan), np.where(both, index_returns, np.nan)

    def moments(window: int, min_periods: int):
        mean = {name: trailing_window(v, market, window, min_periods).mean().to_numpy()
                for name, v in {"x": x, "y": y, "xy": x * y, "xx": x * x, "yy": y * y}.items()}
        return (mean["xy"] - mean["x"] * mean["y"], mean["xx"] - mean["x"] ** 2, mean["yy"] - mean["y"] ** 2)

    with np.errstate(divide="ignore", invalid="ignore"):
        covariance, index_variance, _ = moments(TRADING_DAYS_PER_YEAR, 60)
        beta = np.where(index_variance > 0, covariance / index_variance, np.nan)
        covariance, index_variance, variance = moments(60, 60)
        residual = variance - np.where(index_variance > 0, covariance ** 2 / index_variance, 0.0)
    residual = np.where(np.isnan(variance), np.nan, np.maximum(residual, 0.0))
    return {"beta_252": beta, "idiosyncratic_vol_60": _log_realised_vol(residual)}


def _detrended_log_volume(prices: pd.DataFrame, market: np.ndarray) -> np.ndarray:
    """log volume minus its 250-day mean; NaN on days without a positive volume (or without a volume column)."""
    if "volume" not in prices.columns:
        return np.full(len(prices), np.nan)
    volume = pd.to_numeric(prices["volume"], errors="coerce").to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_volume = np.log(np.where(volume > 0, volume, np.nan))
    return log_volume - trailing_window(log_volume, market, 250, 20).mean().to_numpy()


def _call_timing(market: np.ndarray, dates: np.ndarray, calls: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Business days since the last call (on or before the day) and until the next (on or after), capped at
    CALL_DAYS_CAP (also before the first / after the last known call); NaN for markets without a call."""
    missing = {"days_since_call": np.full(len(dates), np.nan), "days_until_call": np.full(len(dates), np.nan)}
    if calls is None or calls.empty:
        return missing
    names = pd.Index(pd.unique(market))
    call_code = names.get_indexer(calls["market"].to_numpy()).astype(np.int64)  # -1: a market without prices
    call_day = pd.to_datetime(calls["date"].astype(str)).to_numpy().astype("datetime64[D]")[call_code >= 0]
    call_code = call_code[call_code >= 0]
    if len(call_code) == 0:
        return missing
    code = names.get_indexer(market).astype(np.int64)
    day = pd.to_datetime(pd.Series(dates)).to_numpy().astype("datetime64[D]")
    origin = min(day.min(), call_day.min())
    span = int((max(day.max(), call_day.max()) - origin).astype(np.int64)) + 1
    # one sorted key per (market, day): a row's last and next call are its neighbours among the call keys
    call_key = np.unique(call_code * span + (call_day - origin).astype(np.int64))
    key = code * span + (day - origin).astype(np.int64)
    last = np.searchsorted(call_key, key, side="right") - 1
    upcoming = np.searchsorted(call_key, key, side="left")
    last_ok = (last >= 0) & (call_key[np.maximum(last, 0)] // span == code)
    next_ok = (upcoming < len(call_key)) & (call_key[np.minimum(upcoming, len(call_key) - 1)] // span == code)
    key_day = call_key % span + origin
    since = np.full(len(key), float(CALL_DAYS_CAP))
    until = np.full(len(key), float(CALL_DAYS_CAP))
    since[last_ok] = np.busday_count(key_day[last[last_ok]], day[last_ok])
    until[next_ok] = np.busday_count(day[next_ok], key_day[upcoming[next_ok]])
    since, until = np.minimum(since, CALL_DAYS_CAP), np.minimum(until, CALL_DAYS_CAP)
    has_calls = np.isin(code, np.unique(call_code))
    return {"days_since_call": np.where(has_calls, since, np.nan), "days_until_call": np.where(has_calls, until, np.nan)}


# ---- the engineered features as the neural prices encoder reads them -----------------------------------------------

# QUANT_FEATURES but the call calendar (the boosted model reads none either: its future dates are not a scan's to know)
ENGINEERED_FEATURES = tuple(name for name in QUANT_FEATURES if name not in ("days_since_call", "days_until_call"))
PRICE_INPUTS = PRICE_FEATURES + ENGINEERED_FEATURES  # the panel's price columns: daily readings, then engineered ones
_LOG_VOLS = ("har_vol_1", "har_vol_5", "har_vol_22", "idiosyncratic_vol_60", "index_vol_22")
_RETURN_DAYS = {"return_5": 5, "return_20": 20, "return_60": 60, "return_250": 250}
ENGINEERED_CLIP = 5.0


def scaled_engineered_features(quant: pd.DataFrame) -> np.ndarray:
    """float32 [n, len(ENGINEERED_FEATURES)] of quant_price_features' table on the fixed scales the daily readings use
    (log vols against a calm index's, drawdowns x5, returns in daily-vol units of a 2% day), clipped to +-5, NaN 0.

    Fixed constants, as daily_price_features: nothing fitted on data, so nothing leaks across a split.
    """
    columns = []
    for name in ENGINEERED_FEATURES:
        values = quant[name].to_numpy(np.float64)
        if name in _LOG_VOLS:
            values = values - TYPICAL_LOG_VOL
        elif name == "downside_semivariance_22":  # log of an annualised variance: half of it is a log vol
            values = 0.5 * values - TYPICAL_LOG_VOL
        elif name in ("drawdown_60", "drawdown_250", "index_drawdown_60"):
            values = values * 5.0
        elif name in _RETURN_DAYS:
            values = values * RETURN_SCALE / np.sqrt(_RETURN_DAYS[name])
        elif name == "beta_252":
            values = values - 1.0
        columns.append(values)  # vol_vs_year_median, turnover_detrended, vol_trend_deviation: log ratios as they are
    scaled = np.clip(np.stack(columns, axis=1), -ENGINEERED_CLIP, ENGINEERED_CLIP)
    return np.nan_to_num(scaled, nan=0.0).astype(np.float32)


def price_inputs(prices: pd.DataFrame, quant: pd.DataFrame | None = None) -> np.ndarray:
    """float32 [len(prices), len(PRICE_INPUTS)] for rows sorted by market, then date: the daily readings and the
    engineered features, the universe index being the equal-weighted index of ``prices``' markets (pass every market
    of the world, not a batch of them, so that a scan's batch reads the same index as training did).

    ``quant``: quant_price_features(prices) when the caller has it (row for row), so it is computed once."""
    quant = quant_price_features(prices) if quant is None else quant
    if len(quant) != len(prices):
        raise ValueError(f"quant has {len(quant)} rows for {len(prices)} price rows: it must be row for row")
    engineered = scaled_engineered_features(quant)
    return np.concatenate([daily_price_features(prices), engineered], axis=1)

