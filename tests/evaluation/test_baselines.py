"""Baselines: trailing volatility, GARCH(1,1) on past data only, the oracle, fair thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storm.evaluation.baselines import (
    garch_log_volatility,
    oracle_scores,
    price_baseline_scores,
    score_baseline,
    trailing_log_volatility,
)


def random_walk(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    volatility = 0.01 * np.exp(np.sin(np.arange(n) / 30.0))  # volatility clusters for GARCH to find
    return 100.0 * np.exp(np.cumsum(rng.standard_normal(n) * volatility))


def test_trailing_volatility_is_log_annualised_std_of_last_window_returns():
    close = random_walk(40)
    expected = np.log(np.std(np.diff(np.log(close[15:26])), ddof=1) * np.sqrt(252))
    vol = trailing_log_volatility(close, window=10)
    assert vol[25] == pytest.approx(expected)
    assert np.isnan(vol[:10]).all() and not np.isnan(vol[10])


def test_garch_forecast_never_changes_when_later_prices_change():
    close = random_walk(420)
    positions = np.arange(300, 420)
    before = garch_log_volatility(close, positions, [5, 20], refit_every=20)
    shocked = close.copy()
    shocked[341:] *= np.exp(np.random.default_rng(1).standard_normal(79) * 0.05)
    after = garch_log_volatility(shocked, positions, [5, 20], refit_every=20)
    for h in (5, 20):
        np.testing.assert_array_equal(before[h][300:341], after[h][300:341])
        assert not np.allclose(before[h][341:], after[h][341:])  # the later forecasts did see the shock
        assert np.isnan(before[h][:300]).all() and np.isfinite(before[h][300:]).all()


def test_garch_forecast_tracks_realised_volatility_level():
    close = random_walk(600, seed=3)
    forecast = garch_log_volatility(close, np.arange(400, 600), [20])[20][400:]
    realised = trailing_log_volatility(close, 20)[400:]
    assert np.corrcoef(forecast, realised)[0, 1] > 0.5


def test_price_baselines_score_only_the_requested_dates_per_market():
    dates = pd.bdate_range("2019-01-01", periods=260).strftime("%Y-%m-%d")
    prices = pd.concat([pd.DataFrame({"market": m, "date": dates, "close": random_walk(260, seed=s)})
                        for s, m in enumerate(["AAA", "BBB"])])
    wanted = set(dates[200:210])
    tables = price_baseline_scores(prices, wanted, [5, 20], vol_window=20)
    assert set(tables) == {"trailing_vol", "garch"}
    for table in tables.values():
        assert len(table) == 20 and set(table["date"]) == wanted
        assert {"raw_5d", "raw_20d", "vol_pred"} <= set(table.columns)
        assert table[["raw_5d", "raw_20d", "vol_pred"]].notna().all().all()


def test_oracle_scores_are_the_true_fragility():
    truth = pd.DataFrame({"market": ["A", "A", "B"], "date": ["2020-01-01", "2020-01-02", "2020-01-02"],
                          "fragility": [0.1, 0.7, 0.4]})
    scores = oracle_scores(truth, {"2020-01-02"}, [5, 20])
    assert scores["raw_20d"].tolist() == [0.7, 0.4] and scores["raw_5d"].tolist() == [0.7, 0.4]


def test_baseline_threshold_is_chosen_on_validation_at_the_false_alarm_rate():
    rng = np.random.default_rng(0)
    n = 400
    dates = [f"d{i:04d}" for i in range(n)]
    labels = (rng.random(n) < 0.2).astype(float)
    raw = labels * 1.0 + rng.standard_normal(n)  # informative but noisy
    table = pd.DataFrame({"market": "A", "date": dates, "raw_5d": raw})
    label_table = pd.DataFrame({"market": "A", "date": dates, "storm_5d": labels})
    validation, test = set(dates[:200]), set(dates[200:])
    scored, probabilistic, notes = score_baseline(table, label_table, validation, test, [5], false_alarm_rate=0.1)
    assert probabilistic == {5: True} and not notes
    assert len(scored) == 200 and scored["score_5d"].between(0, 1).all()
    # ranking kept: probability is monotone in the raw score
    assert np.array_equal(np.argsort(scored["score_5d"].to_numpy()), np.argsort(raw[200:]))
    # on validation the rule alerts on at most 10% of calm days; test sees about the same
    calm = scored["storm_5d"] == 0
    assert 0.03 < scored.loc[calm, "alert_5d"].mean() < 0.2


def test_baseline_without_both_classes_in_validation_keeps_raw_score():
    dates = [f"d{i}" for i in range(10)]
    table = pd.DataFrame({"market": "A", "date": dates, "raw_5d": np.arange(10.0)})
    labels = pd.DataFrame({"market": "A", "date": dates, "storm_5d": [0.0] * 5 + [0, 1, 0, 1, 1]})
    scored, probabilistic, notes = score_baseline(table, labels, set(dates[:5]), set(dates[5:]), [5], 0.2)
    assert probabilistic == {5: False} and notes
    assert scored["score_5d"].tolist() == [5.0, 6.0, 7.0, 8.0, 9.0]
