"""The synthetic price process: fragility leads crashes and the defaults give a useful storm rate."""

import dataclasses

import numpy as np

from storm.labels import storm_flags
from storm.worlds.prices import LEGACY_PROCESS, PriceProcess, garch_update, simulate_fragility, simulate_prices


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


def test_legacy_profile_reproduces_previous_prices():
    """Values written down from the world before profiles existed (seed 11, 3 markets, 300 days)."""
    from storm.config import WorldConfig
    from storm.worlds.synthetic import synthetic_world

    plan = synthetic_world(WorldConfig(n_markets=3, n_days=300, seed=11, profile="legacy"))
    close = np.stack([plan.prices[m]["close"].to_numpy() for m in plan.markets])
    np.testing.assert_allclose(close[:, [0, 150, 299]], [[813.2922017153899, 662.6573231552762, 700.4011410196313],
                                                         [502.3990745900906, 481.09348597025263, 386.38330761463806],
                                                         [1222.9721767714582, 788.5676459531942, 444.27377578521026]],
                               rtol=1e-12)
    np.testing.assert_allclose(plan.news_pressure[:, [0, 299]], [[0.36044201662041647, 0.24350892025626106],
                                                                 [0.5311931224722696, 0.9182188249979744],
                                                                 [0.9958437881922056, 0.2716694977570097]], rtol=1e-12)
    np.testing.assert_allclose(plan.speech_pressure[:, [0, 299]], [[0.04252890764261111, 0.27362794992499473],
                                                                   [0.4575324572490871, 0.9768157186045421],
                                                                   [0.9803026106351879, 0.030123318488128246]],
                               rtol=1e-12)
    np.testing.assert_allclose(plan.prices["BOREAL"].iloc[200, 1:].to_numpy(dtype=float),
                               [512.8642204388453, 513.081751936676, 507.56544069817056, 510.03793111999477, 942225735.0],
                               rtol=1e-12)


def test_crashes_raise_later_volatility_in_realistic_world():
    """Same draws with and without the feedback: only the variance after a fall differs."""
    realistic = PriceProcess()
    fed = simulate(seed=5, n_markets=16, n_days=1000, process=realistic)
    unfed = simulate(seed=5, n_markets=16, n_days=1000, process=dataclasses.replace(realistic, crash_feeds_volatility=False))
    np.testing.assert_array_equal(fed.crash_start, unfed.crash_start)
    after = np.zeros(fed.crash_start.shape, dtype=bool)
    for market, start in zip(*np.nonzero(fed.crash_start)):
        end = fed.crash_end[market, start]
        after[market, end:end + 20] = True
    assert after.sum() > 200
    assert fed.next_variance[after].mean() > 2.0 * unfed.next_variance[after].mean()


def test_falls_raise_variance_more_than_rises_in_realistic_world_only():
    omega, variance = np.array([1e-6]), np.array([1e-4])
    for process, leverage in ((PriceProcess(), True), (LEGACY_PROCESS, False)):
        after_fall = garch_update(process, omega, variance, np.array([-0.02]))
        after_rise = garch_update(process, omega, variance, np.array([0.02]))
        assert (after_fall > after_rise).item() is leverage and (after_fall >= after_rise).all()


def test_realistic_world_keeps_garch_variance_stationary():
    process = PriceProcess()
    assert process.garch_persistence < 1.0
    prices = simulate(seed=6, n_markets=8, n_days=1500, process=dataclasses.replace(process, crash_hazard_max=0.0))
    daily_volatility = np.sqrt(prices.next_variance.mean())
    assert process.calm_daily_volatility < daily_volatility < 3 * process.calm_daily_volatility
