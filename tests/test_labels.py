"""Storm labels and forward volatility, checked against hand-worked cases."""

import numpy as np
import pandas as pd
import pytest

from storm.config import LabelConfig
from storm.labels import forward_log_volatility, forward_max_drawdown, label_table


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


def test_labels_of_many_markets_at_once_equal_each_market_labelled_alone():
    rng = np.random.default_rng(5)
    parts = [pd.DataFrame({"market": f"M{i}", "date": pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
                           "close": 100 * np.exp(np.cumsum(rng.normal(0, 0.04, n)))})
             for i, n in enumerate([1, 5, 21, 22, 80])]
    config = LabelConfig()
    together = label_table(pd.concat(parts).sample(frac=1, random_state=1), config)
    alone = pd.concat([label_table(part.drop(columns="market"), config).assign(market=part["market"].iloc[0])
                       for part in parts], ignore_index=True)[together.columns]
    pd.testing.assert_frame_equal(together, alone)
