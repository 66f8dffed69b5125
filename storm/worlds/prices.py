"""The synthetic world's hidden fragility and the prices it drives (pure numpy).

Fragility in [0, 1] is the logistic of a shared global OU factor plus a
per-market OU factor, so storms cluster across markets. It leads crashes:
each day a crash (a 12–30% fall over 3–12 days) starts with a hazard that
rises steeply with that day's fragility, and the evidence generators see
fragility on the days before the fall. Ordinary returns follow a GARCH(1,1)
with Student-t shocks whose long-run variance also rises with fragility, so
charts show it only through realised volatility.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PriceProcess:
    """Knobs of the synthetic process; the defaults give ~10–20% storm_20d days."""

    global_reversion: float = 0.02  # OU pull per day; half-life ≈ 35 days, so today's fragility speaks for the next 20
    market_reversion: float = 0.02
    fragility_offset: float = -0.9
    global_loading: float = 0.6  # shared factor: storms cluster across markets, but not all at once
    market_loading: float = 1.6
    crash_hazard_max: float = 0.15  # daily crash-start probability at fragility 1
    crash_hazard_power: float = 4.0  # steepness: hazard ∝ fragility ** power
    crash_depth: tuple[float, float] = (0.12, 0.30)
    crash_days: tuple[int, int] = (3, 12)
    crash_cooldown_days: int = 15
    daily_drift: float = 0.0003
    calm_daily_volatility: float = 0.008
    fragility_variance_boost: float = 1.5  # long-run variance × (1 + boost · fragility)
    garch_alpha: float = 0.08
    garch_beta: float = 0.90
    shock_degrees_of_freedom: float = 5.0
    crash_feeds_volatility: bool = False  # True: crashes leave GARCH aftershocks (then realised vol outpredicts fragility)


@dataclass(frozen=True)
class SyntheticPrices:
    """Per market (rows) and trading day (columns)."""

    fragility: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    crash_start: np.ndarray  # bool: a crash began that day


def simulate_fragility(rng: np.random.Generator, n_markets: int, n_days: int, process: PriceProcess) -> np.ndarray:
    """[n_markets, n_days] fragility in (0, 1): logistic of global + market OU factors (unit stationary std)."""
    global_factor = _ou_paths(rng, 1, n_days, process.global_reversion)
    market_factor = _ou_paths(rng, n_markets, n_days, process.market_reversion)
    latent = process.fragility_offset + process.global_loading * global_factor + process.market_loading * market_factor
    return 1.0 / (1.0 + np.exp(-latent))


def simulate_prices(rng: np.random.Generator, fragility: np.ndarray, process: PriceProcess) -> SyntheticPrices:
    """OHLCV driven by fragility: GARCH returns plus fragility-triggered crashes."""
    n_markets, n_days = fragility.shape
    crash_return, crash_start = _crash_returns(rng, fragility, process)
    log_return, volatility = _garch_returns(rng, fragility, crash_return, process)
    close = np.exp(rng.uniform(6.0, 8.0, size=(n_markets, 1)) + np.cumsum(log_return, axis=1))
    previous_close = np.concatenate([close[:, :1] * np.exp(-log_return[:, :1]), close[:, :-1]], axis=1)
    open_ = previous_close * np.exp(rng.normal(0.0, 0.25, size=close.shape) * volatility)
    upper_wick = np.abs(rng.normal(0.0, 0.5, size=close.shape)) * volatility
    lower_wick = np.abs(rng.normal(0.0, 0.5, size=close.shape)) * volatility
    high = np.maximum(open_, close) * np.exp(upper_wick)
    low = np.minimum(open_, close) * np.exp(-lower_wick)
    base_volume = np.exp(rng.uniform(18.0, 21.0, size=(n_markets, 1)))
    volume = base_volume * np.exp(rng.normal(0.0, 0.25, size=close.shape)) * (1.0 + 25.0 * np.abs(log_return))
    return SyntheticPrices(fragility, open_, high, low, close, np.rint(volume), crash_start)


def _ou_paths(rng: np.random.Generator, n_paths: int, n_days: int, reversion: float) -> np.ndarray:
    """Discrete OU paths with unit stationary std, started from the stationary law."""
    shock_scale = np.sqrt(1.0 - (1.0 - reversion) ** 2)
    paths = np.empty((n_paths, n_days))
    paths[:, 0] = rng.normal(size=n_paths)
    shocks = rng.normal(size=(n_paths, n_days)) * shock_scale
    for day in range(1, n_days):
        paths[:, day] = (1.0 - reversion) * paths[:, day - 1] + shocks[:, day]
    return paths


def _crash_returns(rng: np.random.Generator, fragility: np.ndarray, process: PriceProcess) -> tuple[np.ndarray, np.ndarray]:
    """Extra daily log returns of crashes, and the days they started; one crash at a time per market."""
    n_markets, n_days = fragility.shape
    hazard = process.crash_hazard_max * fragility ** process.crash_hazard_power
    draws = rng.uniform(size=fragility.shape)
    depths = rng.uniform(*process.crash_depth, size=fragility.shape)
    lengths = rng.integers(process.crash_days[0], process.crash_days[1] + 1, size=fragility.shape)
    jitter = rng.normal(1.0, 0.35, size=(n_markets, n_days + process.crash_days[1]))
    crash_return = np.zeros((n_markets, n_days + process.crash_days[1]))
    crash_start = np.zeros(fragility.shape, dtype=bool)
    for market in range(n_markets):
        free_from = 0
        for day in np.flatnonzero(draws[market] < hazard[market]):
            if day + 1 < free_from or day + 1 >= n_days:
                continue
            start, length = day + 1, lengths[market, day]  # fragility today, the fall from tomorrow
            shape = jitter[market, start:start + length]
            crash_return[market, start:start + length] += np.log(1.0 - depths[market, day]) * shape / shape.sum()
            crash_start[market, start] = True
            free_from = start + length + process.crash_cooldown_days
    return crash_return[:, :n_days], crash_start


def _garch_returns(rng: np.random.Generator, fragility: np.ndarray, crash_return: np.ndarray,
                   process: PriceProcess) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) log returns plus crash returns, and each day's volatility (crashes feed it only if configured)."""
    n_markets, n_days = fragility.shape
    dof = process.shock_degrees_of_freedom
    shocks = rng.standard_t(dof, size=fragility.shape) * np.sqrt((dof - 2.0) / dof)
    long_run_variance = process.calm_daily_volatility ** 2 * (1.0 + process.fragility_variance_boost * fragility)
    omega = long_run_variance * (1.0 - process.garch_alpha - process.garch_beta)
    variance = long_run_variance[:, 0].copy()
    log_return = np.empty(fragility.shape)
    volatility = np.empty(fragility.shape)
    for day in range(n_days):
        volatility[:, day] = np.sqrt(variance)
        log_return[:, day] = process.daily_drift + volatility[:, day] * shocks[:, day] + crash_return[:, day]
        surprise = log_return[:, day] - process.daily_drift - (0.0 if process.crash_feeds_volatility else crash_return[:, day])
        variance = omega[:, day] + process.garch_alpha * surprise ** 2 + process.garch_beta * variance
    return log_return, volatility
