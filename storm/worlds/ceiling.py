"""The real ceiling: P(storm within h | the full simulator state at D), by simulating forward paths.

The fragility oracle sees only fragility; this sees everything the simulator
holds at D's close: both OU factors, the GARCH variance, a crash under way and
its remaining returns, and the cooldown before the next one may start. A crash
triggered by D's fragility starts on D+1 and is drawn, not known. Each path
steps the same process forward, and a storm within h is the same event as in
``storm.labels.forward_max_drawdown``: a peak-to-trough fall of at least the
threshold on days D..D+h, D's close included. Paths are shared across horizons,
so the probabilities never fall as h grows. Pure numpy; the caller owns the
generator, so the world's own draws are untouched.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from storm.worlds.plan import HiddenState
from storm.worlds.prices import (FragilityFactors, PriceProcess, crash_hazard, crash_path, fragility_from_factors,
                                 garch_omega, garch_update, ou_step)

PATH_STATES_PER_CHUNK = 300_000  # (market-day, path) pairs simulated at once: bounds memory near 100 MB


def storm_probability_column(horizon: int) -> str:
    return f"storm_probability_{horizon}d"


def ceiling_table(markets: tuple[str, ...], dates: tuple[str, ...], horizons: list[int],
                  probability: np.ndarray) -> pd.DataFrame:
    """truth/storm_probability.parquet: market, date, storm_probability_{h}d per horizon (market-major rows)."""
    table = pd.DataFrame({"market": np.repeat(markets, len(dates)), "date": np.tile(dates, len(markets))})
    for index, horizon in enumerate(horizons):
        table[storm_probability_column(horizon)] = probability[index].reshape(-1)
    return table


def storm_probabilities(hidden: HiddenState, horizons: list[int], threshold: float, n_paths: int,
                        rng: np.random.Generator, progress: bool = False) -> np.ndarray:
    """[len(horizons), n_markets, n_days] share of forward paths from each market-day with a storm within h."""
    n_markets, n_days = hidden.prices.fragility.shape
    markets, days = np.divmod(np.arange(n_markets * n_days), n_days)
    chunk = max(1, PATH_STATES_PER_CHUNK // n_paths)
    probability = np.empty((len(horizons), n_markets * n_days))
    chunks = range(0, markets.size, chunk)
    for first in tqdm(chunks, desc="ceiling", unit="chunk", file=sys.stderr, disable=not progress):
        part = slice(first, first + chunk)
        probability[:, part] = _simulate_forward(hidden, markets[part], days[part], horizons, threshold, n_paths, rng)
    return probability.reshape(len(horizons), n_markets, n_days)


def _simulate_forward(hidden: HiddenState, markets: np.ndarray, days: np.ndarray, horizons: list[int],
                      threshold: float, n_paths: int, rng: np.random.Generator) -> np.ndarray:
    process, prices = hidden.process, hidden.prices
    longest, crash_days = max(horizons), process.crash_days[1]
    paths = (markets.size, n_paths)
    pending = _crash_under_way(prices, markets, days, longest + crash_days + 1)[:, None, :].repeat(n_paths, axis=1)
    free_in = np.where(prices.crash_end[markets, days] > 0,
                       prices.crash_end[markets, days] + process.crash_cooldown_days - days, 0)[:, None].repeat(n_paths, 1)
    global_factor = np.broadcast_to(hidden.factors.global_factor[0, days][:, None], paths)
    market_factor = np.broadcast_to(hidden.factors.market_factor[markets, days][:, None], paths)
    fragility = np.broadcast_to(prices.fragility[markets, days][:, None], paths)
    variance = np.broadcast_to(prices.next_variance[markets, days][:, None], paths)
    log_price, peak, worst_fall = np.zeros(paths), np.zeros(paths), np.zeros(paths)
    storm_fall, dof = -np.log(1.0 - threshold), process.shock_degrees_of_freedom
    probability = np.empty((len(horizons), markets.size))
    for ahead in range(1, longest + 1):
        _start_crashes(rng, process, fragility, free_in, pending, ahead)
        global_factor = ou_step(global_factor, rng.normal(size=paths), process.global_reversion)
        market_factor = ou_step(market_factor, rng.normal(size=paths), process.market_reversion)
        fragility = fragility_from_factors(FragilityFactors(global_factor, market_factor), process)
        shock = rng.standard_t(dof, size=paths) * np.sqrt((dof - 2.0) / dof)
        log_return = process.daily_drift + np.sqrt(variance) * shock + pending[:, :, ahead]
        surprise = log_return - process.daily_drift - (0.0 if process.crash_feeds_volatility else pending[:, :, ahead])
        variance = garch_update(process, garch_omega(fragility, process), variance, surprise)
        log_price += log_return
        np.maximum(peak, log_price, out=peak)
        np.maximum(worst_fall, peak - log_price, out=worst_fall)
        if ahead in horizons:
            probability[horizons.index(ahead)] = (worst_fall >= storm_fall).mean(axis=1)
    return probability


def _crash_under_way(prices, markets: np.ndarray, days: np.ndarray, width: int) -> np.ndarray:
    """[states, width] the remaining crash returns at offsets 1.. after each day (offset 0 unused)."""
    ahead = np.arange(width)
    target = days[:, None] + ahead
    under_way = (ahead >= 1) & (target < prices.crash_end[markets, days][:, None])
    known = np.minimum(target, prices.crash_return.shape[1] - 1)
    return np.where(under_way, prices.crash_return[markets[:, None], known], 0.0)


def _start_crashes(rng: np.random.Generator, process: PriceProcess, fragility: np.ndarray, free_in: np.ndarray,
                   pending: np.ndarray, ahead: int) -> None:
    """Yesterday's fragility may start a crash today (offset ``ahead``) on paths out of their cooldown."""
    starts = (ahead >= free_in) & (rng.uniform(size=fragility.shape) < crash_hazard(fragility, process))
    state, path = np.nonzero(starts)
    if state.size == 0:
        return
    longest = process.crash_days[1]
    length = rng.integers(process.crash_days[0], longest + 1, size=state.size)
    depth = rng.uniform(*process.crash_depth, size=state.size)
    jitter = rng.normal(1.0, 0.35, size=(state.size, longest))
    pending[state[:, None], path[:, None], ahead + np.arange(longest)] += crash_path(np.log(1.0 - depth), jitter, length)
    free_in[state, path] = ahead + length + process.crash_cooldown_days
