"""Price features a quant would engineer: causal, per market, hand-checkable (storm.features.price_history)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from storm.features.price_history import (
    CALL_DAYS_CAP, QUANT_FEATURES, QUANT_MONOTONE, equal_weighted_index, quant_price_features,
)

UNIVERSE_FEATURES = ["beta_252", "idiosyncratic_vol_60", "index_vol_22", "index_drawdown_60"]


def trading_days(n: int, start: str = "2015-01-05") -> np.ndarray:
    return pd.bdate_range(start, periods=n).strftime("%Y-%m-%d").to_numpy()


def market_prices(name: str, n: int, seed: int, start: str = "2015-01-05") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"market": name, "date": trading_days(n, start),
                         "close": 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n))),
                         "volume": rng.lognormal(12, 0.5, n)})


def world(n: int = 700) -> pd.DataFrame:
    return pd.concat([market_prices("AAA", n, 1), market_prices("BBB", n - 120, 2, "2015-06-01"),
                      market_prices("CCC", n, 3)], ignore_index=True)


def calendar(prices: pd.DataFrame) -> pd.DataFrame:
    days = prices.loc[prices["market"] != "CCC", ["market", "date"]]
    return days.groupby("market").nth(slice(10, None, 63)).reset_index(drop=True)


def user_index(n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    return pd.DataFrame({"date": trading_days(n, "2014-12-01"), "close": 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))})


def for_market(features: pd.DataFrame, market: str) -> pd.DataFrame:
    return features[features["market"] == market].reset_index(drop=True)


def test_every_feature_has_a_monotone_sign_and_the_table_has_every_feature():
    features = quant_price_features(world(300))
    assert list(features.columns) == ["market", "date", *QUANT_FEATURES]
    assert set(QUANT_MONOTONE) == set(QUANT_FEATURES) and set(QUANT_MONOTONE.values()) <= {-1, 0, 1}


@pytest.mark.parametrize("with_index", [False, True])
def test_no_feature_of_any_day_changes_when_later_prices_change(with_index):
    prices, index = world(), user_index()
    cut = trading_days(700)[600]
    later = prices["date"] > cut
    scrambled = prices.copy()
    rng = np.random.default_rng(5)
    scrambled.loc[later, "close"] = rng.permutation(prices.loc[later, "close"].to_numpy()) * 3
    scrambled.loc[later, "volume"] = rng.permutation(prices.loc[later, "volume"].to_numpy()) * 0.1
    scrambled_index = index.assign(close=np.where(index["date"] > cut, index["close"][::-1] * 2, index["close"]))
    before = quant_price_features(prices, calendar(prices), index if with_index else None)
    after = quant_price_features(scrambled, calendar(prices), scrambled_index if with_index else None)
    known = before["date"] <= cut
    pd.testing.assert_frame_equal(before[known], after[known])
    on_cut = before[(before["date"] == cut) & (before["market"] != "CCC")]  # CCC has no calls: NaN call timing
    assert on_cut[list(QUANT_FEATURES)].notna().all().all()  # every feature is defined where it is compared
    assert not np.allclose(before.loc[~known, "har_vol_22"], after.loc[~known, "har_vol_22"])


def test_values_match_a_hand_computed_market():
    close = np.full(300, 100.0)
    close[45], close[100], close[296:] = 200.0, 150.0, [110.0, 130.0, 125.0, 120.0]
    features = quant_price_features(pd.DataFrame({"market": "AAA", "date": trading_days(300), "close": close}))
    last = features.iloc[-1]
    assert last["drawdown_250"] == pytest.approx(1 - 120 / 150)  # the 200 on day 45 is older than 250 days
    assert last["drawdown_60"] == pytest.approx(1 - 120 / 130)
    assert last["return_5"] == pytest.approx(np.log(120 / 100))
    assert last["return_250"] == pytest.approx(np.log(120 / 100))
    assert last["har_vol_1"] == pytest.approx(np.log(np.sqrt(252) * abs(np.log(120 / 125))))
    last_five = np.log([110 / 100, 130 / 110, 125 / 130, 120 / 125, 100 / 100])
    assert last["har_vol_5"] == pytest.approx(np.log(np.sqrt(252 * np.mean(last_five ** 2))))
    assert features["har_vol_1"].iloc[0] != features["har_vol_1"].iloc[0]  # a market's first day has no return


def test_two_markets_computed_together_equal_each_alone_given_an_index():
    prices, index, calls = world(), user_index(), calendar(world())
    together = quant_price_features(prices, calls, index)
    for market in ["AAA", "BBB", "CCC"]:
        alone = quant_price_features(prices[prices["market"] == market], calls, index)
        pd.testing.assert_frame_equal(for_market(together, market), alone)


def test_without_an_index_only_the_universe_features_read_other_markets():
    prices, calls = world(), calendar(world())
    together = quant_price_features(prices, calls)
    own = [name for name in QUANT_FEATURES if name not in UNIVERSE_FEATURES]
    for market in ["AAA", "BBB"]:
        alone = quant_price_features(prices[prices["market"] == market], calls)
        pd.testing.assert_frame_equal(for_market(together, market)[own], alone[own])
        assert not np.allclose(for_market(together, market)["beta_252"].fillna(0), alone["beta_252"].fillna(0))


def test_a_market_alone_is_its_own_equal_weighted_index():
    features = quant_price_features(market_prices("AAA", 300, 1))
    assert np.allclose(features["index_vol_22"], features["har_vol_22"], equal_nan=True)
    assert np.allclose(features["beta_252"].dropna(), 1.0)
    assert np.isclose(features["index_drawdown_60"], features["drawdown_60"]).all()


def test_equal_weighted_index_compounds_each_dates_mean_log_return():
    prices = pd.DataFrame({"market": ["AAA"] * 4 + ["BBB"] * 3,
                           "date": ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"] + ["2020-01-03", "2020-01-06", "2020-01-07"],
                           "close": [100, 110, 121, 121, 50, 50, 25]})
    index = equal_weighted_index(prices.sample(frac=1, random_state=0))  # row order does not matter
    steps = [0.0, np.log(1.1), (np.log(1.1) + 0.0) / 2, (0.0 + np.log(0.5)) / 2]  # BBB's first day adds nothing
    assert index["date"].tolist() == ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"]
    assert np.allclose(index["close"], np.exp(np.cumsum(steps)))


@pytest.mark.parametrize("volume", [None, 0.0, np.nan])
def test_missing_or_zero_volume_gives_nan_turnover_without_warnings(volume):
    prices = market_prices("AAA", 80, 1)
    prices = prices.drop(columns="volume") if volume is None else prices.assign(volume=volume)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        features = quant_price_features(prices)
    assert features["turnover_detrended"].isna().all()
    assert features["har_vol_22"].notna().any()


def test_turnover_is_log_volume_above_its_own_mean_and_a_day_without_volume_is_skipped():
    prices = pd.DataFrame({"market": "AAA", "date": trading_days(31), "close": 100.0,
                           "volume": [100.0] * 29 + [0.0, 100.0 * np.e]})
    turnover = quant_price_features(prices)["turnover_detrended"].to_numpy()
    assert np.isnan(turnover[:19]).all() and np.allclose(turnover[19:29], 0.0)
    assert np.isnan(turnover[29])  # no trade that day: no reading, and no -inf in the mean
    assert turnover[30] == pytest.approx(1 - 1 / 30)


def test_calls_give_business_days_since_the_last_and_until_the_next_capped():
    days = trading_days(15, "2020-01-06")  # Mon 6 .. Fri 24 January 2020
    prices = pd.concat([pd.DataFrame({"market": m, "date": days, "close": 100.0}) for m in ["AAA", "BBB"]])
    calls = pd.DataFrame({"market": ["AAA", "AAA", "ZZZ"], "date": ["2020-01-08", "2020-01-20", "2020-01-09"]})
    features = quant_price_features(prices, calls).set_index(["market", "date"])
    timing = features[["days_since_call", "days_until_call"]]
    assert timing.loc[("AAA", "2020-01-06")].tolist() == [CALL_DAYS_CAP, 2]  # no call heard yet: as long ago as can be
    assert timing.loc[("AAA", "2020-01-08")].tolist() == [0, 0]
    assert timing.loc[("AAA", "2020-01-10")].tolist() == [2, 6]  # Fri: Wed's call two days back, Mon 20 six ahead
    assert timing.loc[("AAA", "2020-01-24")].tolist() == [4, CALL_DAYS_CAP]  # no call scheduled after
    assert timing.loc["BBB"].isna().all().all()  # another market's calendar says nothing about this one
    far = pd.DataFrame({"market": ["AAA"], "date": ["2022-01-03"]})
    assert (quant_price_features(prices, far)["days_until_call"].dropna() == CALL_DAYS_CAP).all()
    assert quant_price_features(prices, None)[["days_since_call", "days_until_call"]].isna().all().all()


def test_the_neural_price_inputs_are_causal_bounded_and_read_the_whole_worlds_index():
    from storm.features.price_history import (ENGINEERED_CLIP, ENGINEERED_FEATURES, PRICE_FEATURES, PRICE_INPUTS,
                                              price_inputs)

    prices = world().assign(high=lambda t: t["close"] * 1.01, low=lambda t: t["close"] * 0.99)
    prices = prices.sort_values(["market", "date"], kind="stable").reset_index(drop=True)
    inputs = price_inputs(prices)
    assert inputs.shape == (len(prices), len(PRICE_INPUTS)) and np.isfinite(inputs).all()
    assert np.abs(inputs[:, len(PRICE_FEATURES):]).max() <= ENGINEERED_CLIP
    cut = "2016-06-01"
    shocked = prices.copy()
    later = shocked["date"] > cut
    shocked.loc[later, ["close", "high", "low"]] *= np.exp(np.random.default_rng(5).normal(0, 0.3, (later.sum(), 1)))
    np.testing.assert_array_equal(price_inputs(shocked)[~later.to_numpy()], inputs[~later.to_numpy()])
    alone = prices[prices["market"] == "AAA"].reset_index(drop=True)
    beta = len(PRICE_FEATURES) + ENGINEERED_FEATURES.index("beta_252")
    in_world = inputs[(prices["market"] == "AAA").to_numpy()]
    assert not np.allclose(price_inputs(alone)[:, beta], in_world[:, beta])  # a batch must not build its own index
