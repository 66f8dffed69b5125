"""The synthetic world's hidden fragility and the prices it drives (pure numpy).

Fragility in [0, 1] is the logistic of a shared global OU factor plus a
per-market OU factor, so storms cluster across markets. It leads crashes:
each day a crash (a 12–30% fall over 3–12 days) starts with a hazard that
rises steeply with that day's fragility, and the evidence generators see
fragility on the days before the fall. Ordinary returns follow a GJR-GARCH(1,1)
with Student-t shocks whose long-run variance also rises with fragility.
In the realistic process a fall feeds the variance (aftershocks) and falls feed
it more than rises (the leverage effect), as in real indices; the legacy
process keeps crashes out of the variance, so only fragility moves it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PriceProcess:
    """Knobs of the synthetic process; the defaults are the realistic world (~10–20% storm_20d days)."""

    global_reversion: float = 0.02  # OU pull per day; half-life ≈ 35 days, so today's fragility speaks for the next 20
    market_reversion: float = 0.02
    fragility_offset: float = -1.2  # calmer than legacy (-0.9): aftershocks add storms of their own
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
    garch_alpha: float = 0.02
    garch_leverage: float = 0.08  # GJR gamma: a negative surprise adds (alpha + gamma) · surprise², a positive one alpha
    garch_beta: float = 0.90
    shock_degrees_of_freedom: float = 5.0
    crash_feeds_volatility: bool = True  # crashes leave GARCH aftershocks, so realised vol warns as in real markets

    @property
    def garch_persistence(self) -> float:
        """alpha + gamma/2 + beta: with symmetric shocks half the surprises are negative."""
        return self.garch_alpha + self.garch_leverage / 2.0 + self.garch_beta


LEGACY_PROCESS = PriceProcess(fragility_offset=-0.9, garch_alpha=0.08, garch_leverage=0.0, garch_beta=0.90,
                              crash_feeds_volatility=False)  # the first world: same seed, same prices as before


@dataclass(frozen=True)
class FragilityFactors:
    """The OU factors under fragility: [1, n_days] global and [n_markets, n_days] per market (unit stationary std)."""

    global_factor: np.ndarray
    market_factor: np.ndarray


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
    crash_return: np.ndarray  # [n_markets, n_days + longest crash]: crash log returns, including those past the end
    crash_end: np.ndarray  # int: day after the last day of the latest crash begun on or before this day (0: none yet)
    next_variance: np.ndarray  # GARCH variance of the next day's shock, known at this day's close


def fragility_from_factors(factors: FragilityFactors, process: PriceProcess) -> np.ndarray:
    latent = (process.fragility_offset + process.global_loading * factors.global_factor
              + process.market_loading * factors.market_factor)
    return 1.0 / (1.0 + np.exp(-latent))


def simulate_fragility_factors(rng: np.random.Generator, n_markets: int, n_days: int,
                               process: PriceProcess) -> FragilityFactors:
    global_factor = _ou_paths(rng, 1, n_days, process.global_reversion)
    market_factor = _ou_paths(rng, n_markets, n_days, process.market_reversion)
    return FragilityFactors(global_factor, market_factor)


def simulate_fragility(rng: np.random.Generator, n_markets: int, n_days: int, process: PriceProcess) -> np.ndarray:
    """[n_markets, n_days] fragility in (0, 1): logistic of global + market OU factors (unit stationary std)."""
    return fragility_from_factors(simulate_fragility_factors(rng, n_markets, n_days, process), process)


def simulate_prices(rng: np.random.Generator, fragility: np.ndarray, process: PriceProcess) -> SyntheticPrices:
    """OHLCV driven by fragility: GARCH returns plus fragility-triggered crashes."""
    n_markets, n_days = fragility.shape
    crash_return, crash_start, crash_end = _crash_returns(rng, fragility, process)
    log_return, volatility, next_variance = _garch_returns(rng, fragility, crash_return[:, :n_days], process)
    close = np.exp(rng.uniform(6.0, 8.0, size=(n_markets, 1)) + np.cumsum(log_return, axis=1))
    previous_close = np.concatenate([close[:, :1] * np.exp(-log_return[:, :1]), close[:, :-1]], axis=1)
    open_ = previous_close * np.exp(rng.normal(0.0, 0.25, size=close.shape) * volatility)
    upper_wick = np.abs(rng.normal(0.0, 0.5, size=close.shape)) * volatility
    lower_wick = np.abs(rng.normal(0.0, 0.5, size=close.shape)) * volatility
    high = np.maximum(open_, close) * np.exp(upper_wick)
    low = np.minimum(open_, close) * np.exp(-lower_wick)
    base_volume = np.exp(rng.uniform(18.0, 21.0, size=(n_markets, 1)))
    volume = base_volume * np.exp(rng.normal(0.0, 0.25, size=close.shape)) * (1.0 + 25.0 * np.abs(log_return))
    return SyntheticPrices(fragility, open_, high, low, close, np.rint(volume), crash_start, crash_return, crash_end,
                           next_variance)


def ou_step(previous: np.ndarray, shock: np.ndarray, reversion: float) -> np.ndarray:
    """One day of a unit-stationary-std OU factor, given a standard normal shock."""
    return (1.0 - reversion) * previous + shock * np.sqrt(1.0 - (1.0 - reversion) ** 2)


def crash_hazard(fragility: np.ndarray, process: PriceProcess) -> np.ndarray:
    """Probability that a crash starts tomorrow, given today's fragility."""
    return process.crash_hazard_max * fragility ** process.crash_hazard_power


def crash_path(log_depth: np.ndarray, jitter: np.ndarray, length: np.ndarray) -> np.ndarray:
    """[n, days] daily log returns of crashes: log(1 - depth) spread over their first `length` days by jitter."""
    shape = np.where(np.arange(jitter.shape[-1]) < length[..., None], jitter, 0.0)
    return log_depth[..., None] * shape / shape.sum(axis=-1, keepdims=True)


def garch_update(process: PriceProcess, omega: np.ndarray, variance: np.ndarray, surprise: np.ndarray) -> np.ndarray:
    """GJR-GARCH(1,1): tomorrow's variance from today's surprise (negative surprises weigh alpha + gamma)."""
    weight = process.garch_alpha + process.garch_leverage * (surprise < 0.0) if process.garch_leverage else process.garch_alpha
    return omega + weight * surprise ** 2 + process.garch_beta * variance


def garch_omega(fragility: np.ndarray, process: PriceProcess) -> np.ndarray:
    """The constant term that makes the long-run variance calm_vol² · (1 + boost · fragility)."""
    long_run_variance = process.calm_daily_volatility ** 2 * (1.0 + process.fragility_variance_boost * fragility)
    if not process.garch_leverage:
        return long_run_variance * (1.0 - process.garch_alpha - process.garch_beta)  # the legacy arithmetic, bit for bit
    return long_run_variance * (1.0 - process.garch_persistence)


def _ou_paths(rng: np.random.Generator, n_paths: int, n_days: int, reversion: float) -> np.ndarray:
    """Discrete OU paths with unit stationary std, started from the stationary law."""
    shock_scale = np.sqrt(1.0 - (1.0 - reversion) ** 2)
    paths = np.empty((n_paths, n_days))
    paths[:, 0] = rng.normal(size=n_paths)
    shocks = rng.normal(size=(n_paths, n_days)) * shock_scale
    for day in range(1, n_days):
        paths[:, day] = (1.0 - reversion) * paths[:, day - 1] + shocks[:, day]
    return paths


def _crash_returns(rng: np.random.Generator, fragility: np.ndarray,
                   process: PriceProcess) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Extra daily log returns of crashes, the days they started and where each one ends; one crash at a time."""
    n_markets, n_days = fragility.shape
    hazard = crash_hazard(fragility, process)
    draws = rng.uniform(size=fragility.shape)
    depths = rng.uniform(*process.crash_depth, size=fragility.shape)
    lengths = rng.integers(process.crash_days[0], process.crash_days[1] + 1, size=fragility.shape)
    jitter = rng.normal(1.0, 0.35, size=(n_markets, n_days + process.crash_days[1]))
    crash_return = np.zeros((n_markets, n_days + process.crash_days[1]))
    crash_start = np.zeros(fragility.shape, dtype=bool)
    crash_end = np.zeros(fragility.shape, dtype=np.int64)
    for market in range(n_markets):
        free_from = 0
        for day in np.flatnonzero(draws[market] < hazard[market]):
            if day + 1 < free_from or day + 1 >= n_days:
                continue
            start, length = day + 1, lengths[market, day]  # fragility today, the fall from tomorrow
            shape = jitter[market, start:start + length]
            crash_return[market, start:start + length] += np.log(1.0 - depths[market, day]) * shape / shape.sum()
            crash_start[market, start] = True
            crash_end[market, start:] = start + length
            free_from = start + length + process.crash_cooldown_days
    return crash_return, crash_start, crash_end


def _garch_returns(rng: np.random.Generator, fragility: np.ndarray, crash_return: np.ndarray,
                   process: PriceProcess) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GARCH log returns plus crash returns, each day's volatility and the variance it leaves for the next day."""
    dof = process.shock_degrees_of_freedom
    shocks = rng.standard_t(dof, size=fragility.shape) * np.sqrt((dof - 2.0) / dof)
    omega = garch_omega(fragility, process)
    variance = process.calm_daily_volatility ** 2 * (1.0 + process.fragility_variance_boost * fragility[:, 0])
    log_return = np.empty(fragility.shape)
    volatility = np.empty(fragility.shape)
    next_variance = np.empty(fragility.shape)
    for day in range(fragility.shape[1]):
        volatility[:, day] = np.sqrt(variance)
        log_return[:, day] = process.daily_drift + volatility[:, day] * shocks[:, day] + crash_return[:, day]
        surprise = log_return[:, day] - process.daily_drift - (0.0 if process.crash_feeds_volatility else crash_return[:, day])
        variance = garch_update(process, omega[:, day], variance, surprise)
        next_variance[:, day] = variance
    return log_return, volatility, next_variance
