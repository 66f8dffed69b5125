"""Storm labels and forward volatility, checked against hand-worked cases."""

import numpy as np
import pandas as pd
import pytest

from storm.config import LabelConfig
from storm.labels import (count_storm_episodes, forward_log_volatility, forward_max_drawdown, label_table,
                          require_some_storm, trailing_daily_volatility)


def test_forward_max_drawdown_matches_hand_computed_values():
    close = np.array([100.0, 110.0, 98.0, 88.0, 95.0, 120.0])
    # horizon 2: day t looks at close[t..t+2]
    # t=0: 100,110,98 -> running peaks 100,110,110 -> falls 0, 0, 1-98/110 = 0.10909
    # t=1: 110,98,88  -> peak 110 throughout        -> 1-88/110 = 0.2
    # t=2: 98,88,95   -> peak 98                    -> 1-88/98 = 0.10204
    # t=3: 88,95,120  -> only rises                 -> 0
    # t=4, t=5: t+2 is past the data                -> NaN
    expected = [1 - 98 / 110, 1 - 88 / 110, 1 - 88 / 98, 0.0, np.nan, np.nan]
    np.testing.assert_allclose(forward_max_drawdown(close, 2), expected, equal_nan=True)


def test_drawdown_counts_falls_from_the_peak_before_the_trough_only():
    # 80 -> 100 -> 90: the fall is 100 -> 90 (10%), not 100 vs the earlier 80
    np.testing.assert_allclose(forward_max_drawdown(np.array([80.0, 100.0, 90.0]), 2)[0], 0.1)
    # a recovery after the trough does not erase the fall: 100 -> 80 -> 120 is still a 20% drawdown
    np.testing.assert_allclose(forward_max_drawdown(np.array([100.0, 80.0, 120.0]), 2)[0], 0.2)


def test_forward_log_volatility_uses_the_next_window_returns_only():
    log_returns = np.array([0.01, -0.01, 0.02, 0.0])  # returns of days 1..4
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(log_returns)]))
    volatility = forward_log_volatility(close, 2)
    # t=0: returns of days 1,2 = (0.01, -0.01): sample std 0.0141421; t=1: (-0.01, 0.02): 0.0212132;
    # t=2: (0.02, 0.0): 0.0141421; t=3, t=4: days 4..5 / 5..6 not all known -> NaN
    expected = np.log(np.array([0.01414214, 0.02121320, 0.01414214]) * np.sqrt(252))
    np.testing.assert_allclose(volatility[:3], expected, rtol=1e-6)
    assert np.isnan(volatility[3:]).all()


def test_label_table_flags_storms_per_horizon_and_leaves_unknown_future_nan():
    prices = pd.DataFrame({"date": [f"2024-01-{d:02d}" for d in range(1, 7)],
                           "close": [100.0, 110.0, 98.0, 88.0, 95.0, 120.0]})
    table = label_table(prices, LabelConfig(horizons=[1, 2], drawdown_threshold=0.1, volatility_window=2))
    assert list(table.columns) == ["date", "storm_1d", "storm_2d", "fwd_log_vol"]
    # horizon 1 falls: 0, 1-98/110=.109, 1-88/98=.102, 0, 0, NaN
    np.testing.assert_array_equal(table["storm_1d"].to_numpy(), [0, 1, 1, 0, 0, np.nan])
    np.testing.assert_array_equal(table["storm_2d"].to_numpy(), [1, 1, 1, 0, np.nan, np.nan])


def test_label_table_labels_each_market_separately():
    calm = pd.DataFrame({"market": "CALM", "date": ["2024-01-01", "2024-01-02", "2024-01-03"], "close": [100.0, 101, 102]})
    crash = pd.DataFrame({"market": "CRASH", "date": ["2024-01-01", "2024-01-02", "2024-01-03"], "close": [50.0, 40, 30]})
    table = label_table(pd.concat([crash, calm]), LabelConfig(horizons=[1], drawdown_threshold=0.1, volatility_window=2))
    by_market = table.groupby("market")["storm_1d"].apply(list).to_dict()
    assert by_market["CALM"][:2] == [0.0, 0.0]
    assert by_market["CRASH"][:2] == [1.0, 1.0]


def test_negative_horizon_is_refused():
    with pytest.raises(ValueError, match="horizon"):
        forward_max_drawdown(np.array([1.0, 2.0]), -1)


def test_a_markets_last_days_stay_unknown_though_another_market_follows_it():
    crash_after = pd.DataFrame({"market": "B", "date": ["2024-01-01", "2024-01-02", "2024-01-03"], "close": [10.0, 5, 2]})
    flat = pd.DataFrame({"market": "A", "date": ["2024-01-01", "2024-01-02", "2024-01-03"], "close": [100.0] * 3})
    table = label_table(pd.concat([crash_after, flat]), LabelConfig(horizons=[1, 2], drawdown_threshold=0.1,
                                                                     volatility_window=2))
    assert list(table["market"]) == ["A"] * 3 + ["B"] * 3
    # A's day 3 has no next day in A: unknown, not B's crash
    np.testing.assert_array_equal(table["storm_1d"].to_numpy(), [0, 0, np.nan, 1, 1, np.nan])
    np.testing.assert_array_equal(table["storm_2d"].to_numpy(), [0, np.nan, np.nan, 1, np.nan, np.nan])
    assert np.isnan(table["fwd_log_vol"].to_numpy()[[1, 2, 4, 5]]).all()


@pytest.mark.parametrize("kind", ["drawdown", "vol_scaled"])
def test_labels_of_many_markets_at_once_equal_each_market_labelled_alone(kind):
    rng = np.random.default_rng(5)
    parts = [pd.DataFrame({"market": f"M{i}", "date": pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
                           "close": 100 * np.exp(np.cumsum(rng.normal(0, 0.04, n)))})
             for i, n in enumerate([1, 5, 21, 22, 80])]
    config = LabelConfig(kind=kind, vol_lookback=10)
    together = label_table(pd.concat(parts).sample(frac=1, random_state=1), config)
    alone = pd.concat([label_table(part.drop(columns="market"), config).assign(market=part["market"].iloc[0])
                       for part in parts], ignore_index=True)[together.columns]
    pd.testing.assert_frame_equal(together, alone)


# ---- label kinds ---------------------------------------------------------------------------------------------------

def _random_walks(lengths: list[int], seed: int, daily_vol: float = 0.03) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({"market": f"M{i}", "date": pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
                                    "close": 100 * np.exp(np.cumsum(rng.normal(0, daily_vol, n)))})
                      for i, n in enumerate(lengths)], ignore_index=True)


def test_drawdown_kind_labels_exactly_as_before_label_kinds():
    prices = _random_walks([3, 40, 300, 301], seed=11)
    config = LabelConfig(horizons=[1, 5, 20], drawdown_threshold=0.08)
    table = label_table(prices.sample(frac=1, random_state=2), config)
    for market, rows in prices.groupby("market"):
        close = rows["close"].to_numpy()
        for horizon in config.horizons:  # the rule before kinds: drawdown ≥ threshold, NaN where the future is unknown
            drawdown = forward_max_drawdown(close, horizon)
            expected = np.where(np.isnan(drawdown), np.nan, (drawdown >= 0.08).astype(np.float64))
            got = table.loc[table["market"] == market, f"storm_{horizon}d"].to_numpy()
            np.testing.assert_array_equal(got, expected)


def test_vol_scaled_flags_a_fall_of_k_trailing_sigmas_times_root_h_by_hand():
    def labels(last_close: float) -> pd.DataFrame:
        closes = [100.0, 100 * np.exp(0.01), 100.0, 97.0, last_close]  # returns of days 1, 2: +0.01, -0.01
        prices = pd.DataFrame({"date": [f"2024-01-0{d}" for d in range(1, 6)], "close": closes})
        return label_table(prices, LabelConfig(kind="vol_scaled", vol_multiple=2.0, vol_lookback=2, horizons=[1, 2]))

    # t=2: σ = std(+0.01, -0.01; ddof 1) = 0.01·√2; thresholds 2σ√1 = 0.02828 (1d), 2σ√2 = 0.04 (2d)
    #   1d: 100 -> 97 is 0.03 ≥ 0.02828: storm; 2d: 100 -> 95.95 is 0.0405 ≥ 0.04: storm, -> 96.1 is 0.039: calm
    #   (a σ that also read day 3's return, std(-0.01, log 0.97) = 0.014467, would set 0.0409 and call 95.95 calm)
    # t=3: σ = std(-0.01, log 0.97) = 0.014467, 1d threshold 0.02893; 97 -> 95.95 or 96.1 falls ~1%: calm
    # t=0, 1: fewer than 2 returns, no threshold; t=3 (2d), t=4: the future is not in the data
    deep, shallow = labels(95.95), labels(96.1)
    np.testing.assert_array_equal(deep["storm_1d"], [np.nan, np.nan, 1, 0, np.nan])
    np.testing.assert_array_equal(deep["storm_2d"], [np.nan, np.nan, 1, np.nan, np.nan])
    np.testing.assert_array_equal(shallow["storm_2d"], [np.nan, np.nan, 0, np.nan, np.nan])


def test_trailing_volatility_of_day_t_reads_the_last_lookback_returns_up_to_t_only():
    close = _random_walks([60], seed=9)["close"].to_numpy()
    market = np.zeros(len(close))
    sigma = trailing_daily_volatility(close, market, 5)
    log_returns = np.diff(np.log(close))  # log_returns[k] is day k+1's return
    np.testing.assert_allclose(sigma[5:], [np.std(log_returns[t - 5:t], ddof=1) for t in range(5, 60)], rtol=1e-9)
    assert np.isnan(sigma[:5]).all()  # fewer than 5 returns up to these days
    for day in (5, 20, 40):
        later_moved = close.copy()
        later_moved[day + 1:] *= np.exp(np.random.default_rng(day).normal(0, 0.2, len(close) - day - 1))
        np.testing.assert_array_equal(trailing_daily_volatility(later_moved, market, 5)[:day + 1], sigma[:day + 1])


def test_vol_scaled_calls_no_day_of_a_flat_stretch_a_storm():
    flat = pd.DataFrame({"date": pd.bdate_range("2024-01-01", periods=30).strftime("%Y-%m-%d"), "close": 100.0})
    table = label_table(flat, LabelConfig(kind="vol_scaled", vol_lookback=5, horizons=[3]))
    assert (table["storm_3d"].dropna() == 0).all() and table["storm_3d"].notna().sum() == 30 - 5 - 3


def test_vol_scaled_threshold_reads_no_day_after_t():
    # Day t's label reads closes up to t+h for the fall itself; only the threshold could read further. Raising the
    # volatility of every return after T+h may change no label of a day up to T.
    prices = _random_walks([400], seed=3, daily_vol=0.01)
    config = LabelConfig(kind="vol_scaled", vol_multiple=1.0, vol_lookback=30, horizons=[5, 20])
    before = label_table(prices, config)
    log_returns = np.diff(np.log(prices["close"].to_numpy()))
    for last_day in range(40, 360, 25):
        for horizon in config.horizons:
            stormier = log_returns.copy()
            stormier[last_day + horizon:] *= 8  # log_returns[k] is day k+1's return: days after last_day + horizon
            perturbed = prices.assign(close=100 * np.exp(np.r_[0.0, np.cumsum(stormier)]))
            after = label_table(perturbed, config)
            column = f"storm_{horizon}d"
            np.testing.assert_array_equal(after[column][:last_day + 1], before[column][:last_day + 1])
    assert (after["storm_5d"][config.vol_lookback:] == 1).any()  # not vacuous: the labels hold storms


def test_excess_storm_is_a_fall_alone_not_a_fall_with_the_named_index():
    dates = [f"2024-01-{d:02d}" for d in range(1, 9)]
    index = [100.0, 100, 80, 80, 80, 80, 80, 80]       # falls 20% on day 3
    with_index = [50.0, 50, 40, 40, 40, 40, 40, 40]    # falls with it: no excess fall
    alone = [10.0, 10, 10, 10, 10, 8, 8, 8]            # falls 20% on day 6 while the index is flat
    prices = pd.concat([pd.DataFrame({"market": name, "date": dates, "close": close})
                        for name, close in (("^IDX", index), ("WITH", with_index), ("ALONE", alone))])
    table = label_table(prices, LabelConfig(kind="excess", excess_threshold=0.1, index_market="^IDX", horizons=[2]))
    storms = table.groupby("market")["storm_2d"].apply(list).to_dict()
    nan = np.nan
    np.testing.assert_array_equal(storms["WITH"], [0, 0, 0, 0, 0, 0, nan, nan])
    np.testing.assert_array_equal(storms["ALONE"], [0, 0, 0, 1, 1, 0, nan, nan])  # days 4, 5 reach day 6
    np.testing.assert_array_equal(storms["^IDX"], [0, 0, 0, 0, 0, 0, nan, nan])  # against itself: never a storm
    drawdown = label_table(prices, LabelConfig(horizons=[2]))
    assert drawdown.loc[drawdown["market"] == "WITH", "storm_2d"].sum() == 2  # the drawdown kind sees WITH's fall


def test_excess_against_the_equal_weighted_index_flags_only_the_market_that_falls_alone():
    rng = np.random.default_rng(8)
    days = 120
    together = np.zeros(days)
    together[30] = np.log(0.8)  # every market falls 20% on day 30
    frames = []
    for i in range(8):
        log_returns = together + rng.normal(0, 0.002, days)
        if i == 0:
            log_returns[80] += np.log(0.75)  # M0 alone falls 25% on day 80
        frames.append(pd.DataFrame({"market": f"M{i}", "date": pd.bdate_range("2021-01-01", periods=days).strftime("%Y-%m-%d"),
                                    "close": 100 * np.exp(np.cumsum(log_returns))}))
    prices = pd.concat(frames, ignore_index=True)
    table = label_table(prices, LabelConfig(kind="excess", horizons=[5]))
    storm_days = {market: list(np.flatnonzero(rows["storm_5d"].to_numpy() == 1))
                  for market, rows in table.groupby("market")}
    assert storm_days["M0"] == [75, 76, 77, 78, 79]  # the days whose 5-day look-ahead holds day 80's fall
    assert all(not found for market, found in storm_days.items() if market != "M0")  # day 30 fell with the index
    assert count_storm_episodes(table["market"].to_numpy(), table["storm_5d"].to_numpy()) == 1


def test_excess_of_a_lone_market_is_never_a_storm_and_an_unknown_index_is_refused():
    crash = pd.DataFrame({"market": "ONLY", "date": [f"2024-01-0{d}" for d in range(1, 6)],
                          "close": [100.0, 60, 30, 20, 10]})
    table = label_table(crash, LabelConfig(kind="excess", horizons=[1]))
    np.testing.assert_array_equal(table["storm_1d"], [0, 0, 0, 0, np.nan])  # its own index falls with it
    with pytest.raises(ValueError, match=r"index_market '\^GSPC' is not a market"):
        label_table(crash, LabelConfig(kind="excess", horizons=[1], index_market="^GSPC"))


@pytest.mark.parametrize("kind", ["drawdown", "vol_scaled", "excess"])
def test_each_kind_leaves_each_markets_last_h_days_unknown(kind):
    prices = _random_walks([50, 80], seed=4)
    config = LabelConfig(kind=kind, horizons=[3, 7], vol_lookback=10)
    table = label_table(prices, config)
    for market, rows in table.groupby("market"):
        for horizon in config.horizons:
            labels = rows[f"storm_{horizon}d"].to_numpy()
            assert np.isnan(labels[-horizon:]).all()
            known_from = config.vol_lookback if kind == "vol_scaled" else 0  # no threshold before lookback returns
            assert np.isfinite(labels[known_from:-horizon]).all()
            assert np.isnan(labels[:known_from]).all()


def test_label_kind_and_its_parameters_are_in_the_dumped_config():
    dumped = LabelConfig(kind="excess", index_market="^GSPC").model_dump(mode="json")
    assert {"kind": "excess", "index_market": "^GSPC", "vol_multiple": 2.0, "vol_lookback": 60,
            "excess_threshold": 0.1}.items() <= dumped.items()
    assert LabelConfig.model_validate(dumped) == LabelConfig(kind="excess", index_market="^GSPC")
    with pytest.raises(ValueError, match="kind"):
        LabelConfig(kind="crash")


def test_a_world_without_any_storm_is_refused_with_the_setting_to_change():
    prices = _random_walks([120, 120], seed=5)
    require_some_storm(label_table(prices, LabelConfig(horizons=[5])), LabelConfig(horizons=[5]))  # storms: passes
    lone = prices[prices["market"] == prices["market"].iloc[0]]
    excess = LabelConfig(kind="excess", horizons=[5, 10])
    with pytest.raises(ValueError, match="world of one market.*labels.index_market"):
        require_some_storm(label_table(lone, excess), excess)
    unreachable = LabelConfig(horizons=[5], drawdown_threshold=0.99)
    with pytest.raises(ValueError, match=r"no day .* is a storm .* lower labels.drawdown_threshold=0.99"):
        require_some_storm(label_table(prices, unreachable), unreachable)
