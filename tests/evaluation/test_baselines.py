"""Baselines: trailing volatility, GARCH(1,1) on past data only, the oracle, fair thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storm.evaluation.baselines import (
    garch_log_volatility,
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


def test_the_model_reads_the_same_trailing_volatility_and_drawdown_the_baselines_score_with():
    from storm.features.price_history import PRICE_FEATURES, TYPICAL_LOG_VOL, daily_price_features, drawdown_from_peak

    close = random_walk(200, seed=3)
    ohlcv = pd.DataFrame({"close": close, "high": close * 1.01, "low": close * 0.99, "volume": 1e6})
    readings = daily_price_features(ohlcv)
    full = slice(61, None)  # once both windows are full, the two definitions are one
    model_vol = readings[full, PRICE_FEATURES.index("log_vol_20")] + TYPICAL_LOG_VOL
    np.testing.assert_allclose(model_vol, trailing_log_volatility(close, 20)[full], atol=1e-5)
    np.testing.assert_allclose(readings[full, PRICE_FEATURES.index("drawdown_60")] / 5.0,
                               drawdown_from_peak(close, 60)[full], atol=1e-6)


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


def test_baseline_threshold_is_chosen_on_validation_at_the_false_alarm_rate():
    from storm.evaluation.baselines import BaselineCalibration
    from storm.splits import DateSplit

    rng = np.random.default_rng(0)
    n = 600
    dates = [f"d{i:04d}" for i in range(n)]
    labels = (rng.random(n) < 0.2).astype(float)
    raw = labels * 1.0 + rng.standard_normal(n)  # informative but noisy
    table = pd.DataFrame({"market": "A", "date": dates, "raw_5d": raw})
    label_table = pd.DataFrame({"market": "A", "date": dates, "storm_5d": labels})
    split = DateSplit(train=dates[:200], validation=dates[200:400], test=dates[400:], embargo_days=0)
    scored, validation, notes = score_baseline(table, label_table, split, [5], 0.1, BaselineCalibration())
    assert not notes
    assert len(scored) == 200 and scored["score_5d"].between(0, 1).all()
    assert list(validation["date"]) == dates[200:400] and validation["score_5d"].between(0, 1).all()
    # ranking kept: probability is monotone in the raw score, and the logit is the raw score standardised
    assert np.array_equal(np.argsort(scored["score_5d"].to_numpy()), np.argsort(raw[400:]))
    assert np.array_equal(np.argsort(scored["logit_5d"].to_numpy()), np.argsort(raw[400:]))
    # on validation the rule alerts on at most 10% of calm days; test sees about the same
    calm = scored["storm_5d"] == 0
    assert 0.03 < scored.loc[calm, "alert_5d"].mean() < 0.2


def test_a_validation_block_without_storms_borrows_the_earlier_folds_and_never_keeps_a_raw_score():
    from storm.evaluation.baselines import BaselineCalibration
    from storm.splits import DateSplit

    rng = np.random.default_rng(1)
    n = 900
    dates = [f"d{i:04d}" for i in range(n)]
    labels = (rng.random(n) < 0.1).astype(float)
    labels[600:750] = 0.0  # this fold's validation block is calm
    raw = 2.0 * labels + rng.standard_normal(n) - 8.0  # log-odds far from probabilities
    table = pd.DataFrame({"market": "A", "date": dates, "raw_5d": raw})
    label_table = pd.DataFrame({"market": "A", "date": dates, "storm_5d": labels})
    split = DateSplit(train=dates[:580], validation=dates[600:750], test=dates[750:], embargo_days=0)
    alone, _, alone_notes = score_baseline(table, label_table, split, [5], 0.1, BaselineCalibration())
    widened, _, notes = score_baseline(table, label_table, split, [5], 0.1,
                                       BaselineCalibration(earlier_validation=tuple(dates[300:450])))
    assert not alone_notes and notes and "earlier folds" in notes[0]
    for scored in (alone, widened):
        assert scored["score_5d"].between(0, 1).all()  # a probability, never the raw −8
    # alone, 150 calm days outweigh a prior of 5 episodes only partly: lower than the base rate, never 1e-6
    assert 0.1 / 4 < alone["score_5d"].mean() < 0.1
    assert 0.1 / 2 < widened["score_5d"].mean() < 2 * 0.1  # with storms in the earlier blocks: near the base rate
    assert not np.allclose(alone["score_5d"], widened["score_5d"])


# ---- the fold interface: price_features, price_baselines, truth_models ----------------------------------------

N_DAYS = 420
DATES = list(pd.bdate_range("2018-01-01", periods=N_DAYS).strftime("%Y-%m-%d"))
HORIZONS = [5, 20]


def crashing_prices(market: str, seed: int) -> pd.DataFrame:
    """A random walk with 15% crashes, each preceded by a volatile stretch: price features can see them coming."""
    rng = np.random.default_rng(seed)
    returns = rng.standard_normal(N_DAYS) * 0.008
    for crash in range(130 + 7 * seed, N_DAYS - 10, 45):
        returns[crash - 15:crash] *= 3
        returns[crash:crash + 5] = -0.035
    return pd.DataFrame({"market": market, "date": DATES, "close": 100 * np.exp(np.cumsum(returns))})


@pytest.fixture(scope="module")
def panel():
    from storm.config import LabelConfig
    from storm.evaluation.baselines import price_features
    from storm.labels import label_table

    prices = pd.concat([crashing_prices(m, s) for s, m in enumerate(["AAA", "BBB", "CCC"])], ignore_index=True)
    labels = label_table(prices, LabelConfig(horizons=HORIZONS))
    return prices, labels, price_features(prices, HORIZONS, vol_window=20, workers=1)


def split_of(dates=DATES):
    from storm.splits import DateSplit

    return DateSplit(train=dates[:250], validation=dates[270:330], test=dates[350:], embargo_days=20)


def test_price_features_never_change_when_later_prices_change(panel):
    from storm.evaluation.baselines import price_features

    prices, _, features = panel
    shocked = prices.copy()
    later = shocked["date"] > DATES[300]
    shocked.loc[later, "close"] *= np.exp(np.random.default_rng(9).standard_normal(later.sum()) * 0.05)
    after = price_features(shocked, HORIZONS, vol_window=20, workers=1)
    earlier = features["date"] <= DATES[300]
    pd.testing.assert_frame_equal(features[earlier], after[earlier])
    assert not features[~earlier].equals(after[~earlier])


def test_garch_in_worker_processes_gives_the_same_numbers(panel):
    from storm.evaluation.baselines import price_features

    prices, _, serial = panel
    parallel = price_features(prices, HORIZONS, vol_window=20, workers=2)
    pd.testing.assert_frame_equal(serial, parallel)


def test_price_logit_is_fitted_on_training_dates_only(panel):
    from storm.evaluation.baselines import price_logistic_scores

    _, labels, features = panel
    split = split_of()
    scrambled = labels.copy()
    outside = ~scrambled["date"].isin(split.train)
    scrambled.loc[outside, "storm_20d"] = np.random.default_rng(0).permutation(scrambled.loc[outside, "storm_20d"])
    before = price_logistic_scores(features, labels, split.train, HORIZONS)
    after = price_logistic_scores(features, scrambled, split.train, HORIZONS)
    pd.testing.assert_frame_equal(before, after)


def test_price_baselines_score_the_test_rows_with_short_names_and_the_false_alarm_rule(panel):
    from sklearn.metrics import roc_auc_score

    from storm.evaluation.baselines import price_baselines

    prices, labels, features = panel
    split = split_of()
    models = price_baselines(prices, labels, split, HORIZONS, 20, false_alarm_rate=0.1, features=features)
    assert [m.name for m in models] == ["trail-vol", "garch", "price-logit"]
    for model in models:
        table = model.predictions
        assert set(table["date"]) == set(split.test) and len(table) == 3 * len(split.test)
        assert {"score_5d", "alert_20d", "storm_20d", "fwd_log_vol"} <= set(table.columns)
        assert model.kind == "baseline" and set(model.probabilistic) == set(HORIZONS)
        for h in HORIZONS:
            assert not model.probabilistic[h] or table[f"score_{h}d"].between(0, 1).all()
    assert all(models[2].probabilistic.values())
    logit = models[2].predictions.dropna(subset=["storm_20d"])
    assert roc_auc_score(logit["storm_20d"], logit["score_20d"]) > 0.7  # volatility announces these crashes
    assert models[1].predictions["vol_pred"].notna().all()


def test_price_baselines_need_validation_dates(panel):
    from storm.evaluation.baselines import price_baselines
    from storm.splits import DateSplit

    prices, labels, features = panel
    split = DateSplit(train=DATES[:250], validation=[], test=DATES[350:], embargo_days=20)
    with pytest.raises(ValueError, match="validation dates"):
        price_baselines(prices, labels, split, HORIZONS, 20, 0.1, features=features)


def test_truth_models_platt_the_fragility_and_only_threshold_the_ceiling(panel):
    from storm.evaluation.baselines import truth_models

    _, labels, _ = panel
    split = split_of()
    rng = np.random.default_rng(1)
    keys = labels[["market", "date"]]
    fragility = keys.assign(fragility=labels["storm_20d"].fillna(0) * 5 + rng.standard_normal(len(keys)))
    probability = keys.assign(storm_probability_5d=rng.random(len(keys)), storm_probability_20d=rng.random(len(keys)))
    models = truth_models({"fragility": fragility, "storm_probability": probability}, labels, split, HORIZONS, 0.1)
    oracle, ceiling = models
    assert (oracle.name, oracle.kind, ceiling.name, ceiling.kind) == ("frag-oracle", "oracle", "ceiling", "ceiling")
    test = probability[probability["date"].isin(split.test)].sort_values(["market", "date"])
    np.testing.assert_array_equal(ceiling.predictions["score_20d"], test["storm_probability_20d"])
    assert not np.allclose(oracle.predictions["score_20d"],
                           fragility[fragility["date"].isin(split.test)].sort_values(["market", "date"])["fragility"])
    assert oracle.predictions["score_20d"].between(0, 1).all()
    assert [m.name for m in truth_models({}, labels, split, HORIZONS, 0.1)] == []


def activity_panel(prices: pd.DataFrame, labels: pd.DataFrame, chatter_before_storms: bool):
    """A stand-in EvidencePanel: item counts per market-day, a burst of chatter before each storm if asked."""
    from types import SimpleNamespace

    rng = np.random.default_rng(3)
    storms = labels["storm_20d"].fillna(0.0).to_numpy()
    counts = rng.poisson(2.0, len(labels)).astype(np.float32)
    if chatter_before_storms:
        counts += (storms * rng.poisson(8.0, len(labels))).astype(np.float32)
    return SimpleNamespace(market=labels["market"].to_numpy(), date=labels["date"].to_numpy(), text_count=counts,
                           conference_row=np.array([5, 60], dtype=np.int64), call_row=None)


def test_evidence_activity_reads_counts_and_the_days_since_the_last_call(panel):
    from storm.evaluation.baselines import evidence_activity

    prices, labels, _ = panel
    activity = evidence_activity(activity_panel(prices, labels, False))
    first = activity[activity["market"] == "AAA"].reset_index(drop=True)
    assert first.loc[4, "days_since_call"] == pytest.approx(np.log1p(250.0))  # no call yet
    assert first.loc[5, "days_since_call"] == 0.0 and first.loc[8, "days_since_call"] == pytest.approx(np.log1p(3))
    assert first.loc[10, "call_within_20"] == 1.0 and first.loc[30, "call_within_20"] == 0.0


@pytest.mark.parametrize("chatter, better", [(True, True), (False, False)])
def test_evidence_logit_gains_on_prices_only_when_the_feed_carries_something(panel, chatter, better):
    from storm.evaluation.baselines import evidence_activity, evidence_logistic_model, price_baselines
    from sklearn.metrics import roc_auc_score

    from storm.evaluation.metrics import score_column

    def auroc(table):
        known = table["storm_20d"].notna() & table[score_column(20)].notna()
        return roc_auc_score(table.loc[known, "storm_20d"], table.loc[known, score_column(20)])

    prices, labels, features = panel
    split = split_of()
    activity = evidence_activity(activity_panel(prices, labels, chatter))
    reader = evidence_logistic_model(features, activity, labels, split, HORIZONS, 0.1).predictions
    logit = next(m for m in price_baselines(prices, labels, split, HORIZONS, 20, 0.1, features=features)
                 if m.name == "price-logit").predictions
    gain = auroc(reader) - auroc(logit)
    assert (gain > 0.02) == better


def test_price_readings_of_many_markets_at_once_equal_each_market_read_alone():
    from storm.features.price_history import daily_price_features

    parts = []
    for index, days in enumerate([1, 2, 30, 61, 150]):
        close = random_walk(days, seed=index)
        parts.append(pd.DataFrame({"market": f"M{index}", "close": close, "high": close * 1.02, "low": close * 0.97,
                                   "volume": np.arange(days) * 1e5}))
    together = daily_price_features(pd.concat(parts, ignore_index=True))
    alone = np.concatenate([daily_price_features(part.drop(columns="market")) for part in parts])
    np.testing.assert_array_equal(together, alone)


def test_the_boosted_candidate_scores_the_test_rows_as_calibrated_probabilities_that_rank_the_crashes(panel):
    from sklearn.metrics import roc_auc_score

    from storm.evaluation.baselines import boosted_model
    from storm.features.price_history import quant_price_features

    prices, labels, _ = panel
    split = split_of()
    model = boosted_model(quant_price_features(prices), labels, split, HORIZONS, 0.1)
    table = model.predictions
    assert model.name == "boosted" and model.kind == "baseline" and set(table["date"]) == set(split.test)
    assert table["score_20d"].between(0, 1).all() and model.validation["score_20d"].between(0, 1).all()
    assert (table["score_5d"] <= table["score_20d"] + 1e-12).all()  # the model's own order across horizons
    known = table.dropna(subset=["storm_20d"])
    assert roc_auc_score(known["storm_20d"], known["score_20d"]) > 0.7  # volatility announces these crashes
    assert any(note.startswith("trees per horizon") for note in model.notes)
