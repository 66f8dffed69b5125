"""The desk's published members: GARCH forecasts exactly as arch makes them, no look-ahead, JSON that scores the
same, and a product whose member contributions add up exactly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from arch import arch_model

from storm.desk.combination import StackFit
from storm.desk.garch import GARCH_SCALE, fit_garch, garch_log_volatility_forecasts
from storm.desk.members import DESK_MEMBERS, DeskMembers, fit_desk_members
from storm.desk.product import NEURAL, ProductModel
from storm.labels import label_table
from storm.config import LabelConfig
from storm.schema import PRODUCT_MEMBERS, storm_column
from storm.published.calibration import fit_calibration

HORIZONS = [5, 10, 20]


def test_garch_forecasts_with_fixed_parameters_are_arch_forecasts():
    returns = np.random.default_rng(0).standard_t(5, size=1500) * 0.01
    params = fit_garch(returns[:1000])
    ours = garch_log_volatility_forecasts(returns, params, [5, 20])
    model = arch_model(returns * GARCH_SCALE, mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
    variance = model.fix([params.mu, params.omega, params.alpha, params.beta]).forecast(
        horizon=20, start=0, reindex=False).variance.to_numpy()
    for h in (5, 20):
        theirs = 0.5 * np.log(variance[:, :h].mean(axis=1) * 252) - np.log(GARCH_SCALE)
        assert np.abs(ours[h] - theirs).max() < 1e-10


def test_garch_refuses_a_history_too_short_to_fit():
    assert fit_garch(np.random.default_rng(1).standard_normal(50) * 0.01) is None


def prices_world(markets=4, days=700, seed=0) -> pd.DataFrame:
    """Markets whose volatility regimes switch, so storms follow high volatility (what the members can learn)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=days).strftime("%Y-%m-%d")
    frames = []
    for m in range(markets):
        vol = np.exp(np.cumsum(rng.standard_normal(days) * 0.08) * 0.5) * 0.012
        close = 100 * np.exp(np.cumsum(rng.standard_normal(days) * vol))
        frames.append(pd.DataFrame({"market": f"M{m}", "date": dates, "open": close, "high": close * 1.01,
                                    "low": close * 0.99, "close": close, "volume": 1e6}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def fitted():
    prices = prices_world()
    labels = label_table(prices, LabelConfig(horizons=HORIZONS, drawdown_threshold=0.05))
    dates = sorted(prices["date"].unique())
    members = fit_desk_members(prices, labels, dates[:450], dates[470:560], HORIZONS, 20, 0.1, 5.0)
    return prices, labels, dates, members


def test_every_member_scores_a_day_from_that_day_and_earlier_only(fitted):
    prices, _, dates, members = fitted
    cut = dates[600]
    full = members.raw_logits(prices)
    known = members.raw_logits(prices[prices["date"] <= cut])
    for name in DESK_MEMBERS:
        left = full[name][full[name]["date"] <= cut].reset_index(drop=True)
        right = known[name].reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-10, atol=1e-10)


def test_members_read_back_from_json_score_the_same(fitted):
    prices, _, _, members = fitted
    again = DeskMembers.from_json(json.loads(json.dumps(members.to_json())))
    for name, table in members.raw_logits(prices).items():
        other = again.raw_logits(prices)[name]
        assert np.allclose(table.filter(like="logit").to_numpy(), other.filter(like="logit").to_numpy(),
                           equal_nan=True, rtol=0, atol=1e-12)
        logits = table.filter(like="logit").to_numpy()
        assert np.allclose(members.probability(name, logits), again.probability(name, logits), equal_nan=True)


def test_the_stack_members_are_the_desks_and_the_neural_one():
    assert set(PRODUCT_MEMBERS) == {*DESK_MEMBERS, NEURAL}


def product_of(members: DeskMembers, weights: dict[str, float], seed=0) -> tuple[ProductModel, dict]:
    rng = np.random.default_rng(seed)
    names = list(weights)
    probabilities = {m: rng.uniform(0.01, 0.6, size=(300, len(HORIZONS))) for m in names}
    for m in names:
        probabilities[m].sort(axis=1)
    fits = {h: StackFit(names, dict(weights), -2.0, {m: -1.5 for m in names}, {m: 0.8 for m in names}, "stack",
                        names[0], {}, "", {}) for h in HORIZONS}
    calibration_logits = rng.normal(-2, 1, size=(400, len(HORIZONS)))
    calibration_logits.sort(axis=1)
    labels = (rng.random((400, len(HORIZONS))) < 0.15).astype(float)
    labels = np.maximum.accumulate(labels, axis=1)
    calibration = fit_calibration(calibration_logits, labels, HORIZONS, 0.1)
    return ProductModel(HORIZONS, names, fits, calibration, members), probabilities


def test_member_contributions_add_up_to_the_published_score_minus_the_baseline(fitted):
    product, probabilities = product_of(fitted[3], {"garch": 0.7, "boosted": 0.4, "price-logit": 0.0, NEURAL: 1.1})
    explained = product.explain(probabilities, 300)
    scores, baseline, contributions = explained.scores, explained.baseline, explained.contributions
    assert np.array_equal(scores.probability, product.score(probabilities, 300).probability)
    total = sum(contributions.values())
    assert np.abs(total - (scores.probability - baseline)).max() < 1e-5
    assert np.all(contributions["price-logit"] == 0)  # weight 0: no part of the score
    assert product.used_members() == ["garch", "boosted", NEURAL]


def test_a_member_without_a_score_sits_at_its_mean_and_contributes_nothing(fitted):
    product, probabilities = product_of(fitted[3], {"garch": 0.7, NEURAL: 1.1})
    probabilities["garch"][:10] = np.nan
    contributions = product.explain(probabilities, 300).contributions
    assert np.all(contributions["garch"][:10] == 0)
    assert np.isfinite(product.score(probabilities, 300).probability).all()


def test_a_product_read_back_from_json_scores_and_explains_the_same(fitted):
    product, probabilities = product_of(fitted[3], {"garch": 0.7, "trail-vol": 0.2, NEURAL: 1.1})
    again = ProductModel.from_json(json.loads(json.dumps(product.to_json())))
    assert np.array_equal(product.score(probabilities, 300).probability, again.score(probabilities, 300).probability)
    assert np.array_equal(product.explain(probabilities, 300).contributions["garch"],
                          again.explain(probabilities, 300).contributions["garch"])


def test_labels_of_the_fixture_hold_storms_at_every_horizon(fitted):
    """Guards the fixture: members fitted on a world without storms would test nothing."""
    _, labels, _, _ = fitted
    assert all(labels[storm_column(h)].sum() > 20 for h in HORIZONS)


def test_a_column_constant_up_to_rounding_is_no_feature_of_the_logistic():
    """std of 20k copies of log1p(250) is 8.9e-16, not 0: dividing by it made rounding noise a feature of scale 1e15
    (the evidence logistic fell from 0.754 to 0.667 on maec); the scaler treats such a column as constant."""
    from storm.desk.members import LogisticFit

    rng = np.random.default_rng(0)
    n = 20_000
    x = np.column_stack([rng.normal(size=n), np.full(n, np.log1p(250.0))])
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] - 2)))).astype(float)
    fit = LogisticFit.fit(x, y, ["signal", "constant"])
    moved = x[:5].copy()
    moved[:, 1] = np.log1p(3.0)  # a value the training rows never held
    assert np.abs(fit.decision(moved) - fit.decision(x[:5])).max() < 1e-6
