"""The boosted candidate: monotone where the economics says so, learns on training rows, stops on validation."""

import functools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from sklearn.metrics import roc_auc_score

from storm.desk.boosted import BoostedModel, BoostedSettings, fit_boosted
from storm.features.price_history import QUANT_FEATURES, QUANT_MONOTONE

FAST = BoostedSettings(n_estimators=200, early_stopping_rounds=20, threads=1)
RISING = [name for name, sign in QUANT_MONOTONE.items() if sign == 1]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def planted_world(hazard, markets: int = 40, days: int = 300, seed: int = 0):
    """Random features (5% missing) for markets x days; storm_{h}d drawn from ``hazard(features) -> log-odds``.
    Returns features, labels and the train / validation / test dates (60 / 20 / 20%)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-01", periods=days).strftime("%Y-%m-%d").to_numpy()
    features = pd.DataFrame({"market": np.repeat([f"M{i:02d}" for i in range(markets)], days),
                             "date": np.tile(dates, markets)})
    for name in QUANT_FEATURES:
        features[name] = np.where(rng.random(len(features)) < 0.05, np.nan, rng.normal(size=len(features)))
    labels = features[["market", "date"]].copy()
    for h in (5, 20):
        labels[f"storm_{h}d"] = (rng.random(len(features)) < sigmoid(hazard(features.fillna(0.0)))).astype(float)
    cut = [int(days * 0.6), int(days * 0.8)]
    return features, labels, list(dates[:cut[0]]), list(dates[cut[0]:cut[1]]), list(dates[cut[1]:])


def storms_follow_high_vol(features):
    return -2.5 + 1.5 * features["har_vol_22"]


def calm(features):
    return np.full(len(features), -2.5)


def on_dates(table, dates):
    return table[table["date"].isin(dates)].reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def against_the_constraints():
    """A world where storms peak at middling vol and fall with drawdown: unconstrained trees would bend down."""
    features, labels, train, validation, _ = planted_world(
        lambda f: -1.5 + 2.0 * np.exp(-f["har_vol_22"] ** 2) - 1.5 * f["drawdown_60"] - 1.0 * f["index_vol_22"],
        markets=60, seed=3)
    return fit_boosted(features, labels, train, validation, [5], FAST)


@hypothesis_settings(max_examples=200, deadline=None)
@given(row=st.lists(st.floats(-3, 3), min_size=len(QUANT_FEATURES), max_size=len(QUANT_FEATURES)),
       feature=st.sampled_from(RISING), step=st.floats(0.01, 4))
def test_raising_a_rising_feature_never_lowers_the_logit(row, feature, step):
    model = against_the_constraints()
    low = pd.DataFrame([row], columns=list(QUANT_FEATURES))
    high = low.assign(**{feature: low[feature] + step})
    assert model.logits(high)[0, 0] >= model.logits(low)[0, 0] - 1e-12


def test_learns_storms_that_follow_high_volatility():
    features, labels, train, validation, test = planted_world(storms_follow_high_vol)
    model = fit_boosted(features, labels, train, validation, [5, 20], FAST)
    logits = model.logits(on_dates(features, test))
    truth = on_dates(labels, test)
    for column, h in enumerate([5, 20]):
        assert roc_auc_score(truth[f"storm_{h}d"], logits[:, column]) > 0.75
    assert logits.shape == (len(truth), 2)


def test_on_noise_early_stopping_keeps_few_trees():
    features, labels, train, validation, _ = planted_world(calm)
    model = fit_boosted(features, labels, train, validation, [5], FAST)
    assert 1 <= model.iterations[5] < FAST.n_estimators // 2


def test_validation_labels_decide_when_to_stop():
    features, labels, train, validation, _ = planted_world(storms_follow_high_vol)
    signal = fit_boosted(features, labels, train, validation, [5], FAST)
    noise = labels.copy()
    in_validation = noise["date"].isin(validation)
    noise.loc[in_validation, "storm_5d"] = np.random.default_rng(1).permutation(noise.loc[in_validation, "storm_5d"])
    assert fit_boosted(features, noise, train, validation, [5], FAST).iterations[5] < signal.iterations[5]


def test_json_round_trip_gives_identical_logits():
    features, labels, train, validation, _ = planted_world(storms_follow_high_vol)
    labels["storm_20d"] = 0.0  # one horizon without trees travels too
    model = fit_boosted(features, labels, train, validation, [5, 20], FAST)
    again = BoostedModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.array_equal(again.logits(features), model.logits(features))
    assert again.iterations == model.iterations and again.notes == model.notes


def test_a_horizon_without_training_storms_gets_the_training_base_rate_and_a_calm_validation_a_fixed_budget():
    features, labels, train, validation, _ = planted_world(storms_follow_high_vol)
    labels["storm_20d"] = 0.0  # no storm anywhere
    labels.loc[labels["date"].isin(validation), "storm_5d"] = 0.0  # storms in training, none in validation
    model = fit_boosted(features, labels, train, validation, [5, 20], FAST)
    logits = model.logits(features)
    train_rows = labels["date"].isin(train)
    assert model.boosters[20] is None and set(model.notes) == {5, 20}
    assert np.all(logits[:, 1] == logits[0, 1]) and np.isfinite(logits[0, 1]) and logits[0, 1] < np.log(1 / train_rows.sum())
    # a calm validation block cannot stop training: the fixed budget of trees, still learning the planted signal
    assert model.iterations[5] == FAST.calm_validation_rounds and "cannot stop" in model.notes[5]
    known = labels["storm_5d"].notna() & ~train_rows & ~labels["date"].isin(validation)
    assert roc_auc_score(labels.loc[known, "storm_5d"], logits[known.to_numpy(), 0]) > 0.6


def test_only_training_labels_shape_the_trees():
    """Test labels are never read; validation labels only choose how many of the same trees to keep."""
    features, labels, train, validation, test = planted_world(storms_follow_high_vol)
    model = fit_boosted(features, labels, train, validation, [5], FAST)
    rng = np.random.default_rng(7)

    def scrambled(dates):
        rows = labels["date"].isin(dates)
        return labels.assign(storm_5d=labels["storm_5d"].where(~rows, rng.permutation(labels["storm_5d"].to_numpy())))

    x = features[list(QUANT_FEATURES)].to_numpy(float)
    new_test = fit_boosted(features, scrambled(test), train, validation, [5], FAST)
    assert np.array_equal(new_test.logits(features), model.logits(features))
    new_validation = fit_boosted(features, scrambled(validation), train, validation, [5], FAST)
    shared = min(model.iterations[5], new_validation.iterations[5])
    assert shared >= 1 and new_validation.iterations[5] != model.iterations[5]  # the scramble reached the stopping
    assert np.array_equal(new_validation.boosters[5].predict(x, raw_score=True, num_iteration=shared),
                          model.boosters[5].predict(x, raw_score=True, num_iteration=shared))
    new_train = fit_boosted(features, scrambled(train), train, validation, [5], FAST)
    assert not np.allclose(new_train.logits(features), model.logits(features))  # training labels do matter


def test_a_features_table_without_the_quant_columns_is_refused_with_the_fix():
    features, labels, train, validation, _ = planted_world(calm, markets=5, days=50)
    with pytest.raises(ValueError, match="quant_price_features"):
        fit_boosted(features.drop(columns="beta_252"), labels, train, validation, [5], FAST)


def test_the_news_reading_variant_learns_what_the_words_carry_and_the_plain_one_cannot():
    """boosted_model with the evidence activity reads its columns (a day without a row reads 0): where storms follow
    the LM negative share, boosted-evidence ranks the test block's storms and plain boosted stays near chance."""
    from storm.evaluation.baselines import BOOSTED_EVIDENCE, boosted_model
    from storm.splits import DateSplit

    rng = np.random.default_rng(7)
    features, _, train, validation, test = planted_world(calm, markets=40, seed=7)
    activity = features[["market", "date"]].sample(frac=0.9, random_state=1).reset_index(drop=True)
    for name in ("news_items_5", "news_items_20", "news_surprise", "call_within_20", "days_since_call"):
        activity[name] = 0.0
    activity["lm_negative_share"] = rng.normal(size=len(activity))
    hazard = features[["market", "date"]].merge(activity, on=["market", "date"], how="left")["lm_negative_share"].fillna(0.0)
    labels = features[["market", "date"]].copy()
    for h in (5, 20):
        labels[f"storm_{h}d"] = (rng.random(len(labels)) < sigmoid(-2.0 + 2.0 * hazard.to_numpy())).astype(float)
    split = DateSplit(train=train, validation=validation, test=test, embargo_days=0, name="fold1")
    plain = boosted_model(features, labels, split, [5, 20], 0.1, settings=FAST)
    reading = boosted_model(features, labels, split, [5, 20], 0.1, settings=FAST, activity=activity)
    assert reading.name == BOOSTED_EVIDENCE and plain.name == "boosted"

    def test_auroc(model):
        scored = model.predictions.drop(columns=[c for c in model.predictions if c.startswith("storm_")])
        scored = scored.merge(labels, on=["market", "date"])
        scored = scored[scored["date"].isin(test)]
        return roc_auc_score(scored["storm_5d"], scored["score_5d"])

    assert test_auroc(reading) > 0.75 and abs(test_auroc(plain) - 0.5) < 0.05
