"""The synthetic price process: fragility leads crashes and the defaults give a useful storm rate."""

import numpy as np

from storm.labels import storm_flags
from storm.worlds.prices import PriceProcess, simulate_fragility, simulate_prices


def simulate(seed: int, n_markets: int, n_days: int, process: PriceProcess = PriceProcess()):
    rng = np.random.default_rng(seed)
    fragility = simulate_fragility(rng, n_markets, n_days, process)
    return simulate_prices(rng, fragility, process)


def storms_20d(prices) -> np.ndarray:
    return np.array([storm_flags(close, 20, 0.10) for close in prices.close])


def test_fragile_days_are_followed_by_storms_far_more_often_than_calm_days():
    prices = simulate(seed=1, n_markets=16, n_days=1000)
    storms = storms_20d(prices)
    known = ~np.isnan(storms)
    fragility, storm = prices.fragility[known], storms[known]
    low, high = np.quantile(fragility, [0.2, 0.8])
    assert storm[fragility >= high].mean() > 3 * storm[fragility <= low].mean()


def test_crashes_start_when_fragility_is_already_high():
    prices = simulate(seed=2, n_markets=16, n_days=1000)
    day_before = np.roll(prices.crash_start, -1, axis=1)  # the day whose fragility triggered the crash
    assert prices.crash_start.sum() > 20
    assert prices.fragility[day_before].mean() > prices.fragility.mean() + 0.15


def test_without_crashes_storms_are_rare():
    prices = simulate(seed=3, n_markets=8, n_days=500, process=PriceProcess(crash_hazard_max=0.0))
    assert np.nanmean(storms_20d(prices)) < 0.06


def test_default_process_gives_storms_on_roughly_a_tenth_to_a_fifth_of_days():
    rates = [np.nanmean(storms_20d(simulate(seed, 8, 500))) for seed in range(8)]
    assert 0.08 < np.mean(rates) < 0.25


def test_ohlc_is_consistent():
    prices = simulate(seed=4, n_markets=3, n_days=300)
    assert (prices.high >= np.maximum(prices.open, prices.close)).all()
    assert (prices.low <= np.minimum(prices.open, prices.close)).all()
    assert (prices.low > 0).all() and (prices.volume > 0).all()
    assert ((prices.fragility > 0) & (prices.fragility < 1)).all()
