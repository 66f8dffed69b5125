import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import brentq
from scipy.special import logit

from storm.published.calibration import (
    METHODS, Calibration, fit_calibration, fit_hazard_calibration, observed_false_alarm_rate,
    threshold_for_false_alarm_rate,
)

HORIZONS = [5, 10, 20]
MODEL_BIAS = np.array([40.0, 30.0, 20.0])  # the model's hazard is k_j times too large ...
OVERCONFIDENCE = 1.5                      # ... and raised to this power: Λ_model = k_j Λ_true^γ


def true_hazard_scale(base_rate_20d: float) -> float:
    """The mean log-hazard that gives the wanted 20-day base rate (latent risk ~ N(mu, 1))."""
    grid = np.random.default_rng(0).normal(size=200_000)
    return brentq(lambda mu: np.mean(-np.expm1(-np.exp(mu + grid))) - base_rate_20d, -15, 5)


def storm_world(n: int, base_rate_20d: float, seed: int):
    """Model logits, nested storm labels and the true probabilities of a world whose calibration is known.

    A day's latent risk r ~ N(mu, 1) sets the true cumulative hazard Λ_j = (h_j / 20) e^r; a storm within h_j
    happens when Λ_j exceeds one Exp(1) draw (so labels are nested). The model reports a biased, over-confident
    hazard, coherent across horizons. Base rates differ between worlds only through how risky the days are.
    """
    rng = np.random.default_rng(seed)
    risk = true_hazard_scale(base_rate_20d) + rng.normal(size=n)
    true_hazard = np.exp(risk)[:, None] * (np.array(HORIZONS) / 20.0)[None, :]
    labels = (true_hazard >= rng.exponential(size=n)[:, None]).astype(float)
    model_hazard = MODEL_BIAS[None, :] * true_hazard ** OVERCONFIDENCE
    return np.log(np.expm1(model_hazard)), labels, -np.expm1(-true_hazard)


def brier(probabilities, labels):
    return float(np.mean((probabilities - labels) ** 2))


def expected_calibration_error(probabilities, labels, bins: int = 10):
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    gaps = [abs(probabilities[which == b].mean() - labels[which == b].mean()) * np.mean(which == b)
            for b in range(bins) if np.any(which == b)]
    return float(np.sum(gaps))


def test_hazard_calibration_recovers_the_known_map():
    logits, labels, _ = storm_world(60_000, base_rate_20d=0.10, seed=1)
    slope, intercepts = fit_hazard_calibration(logits, labels)
    assert slope == pytest.approx(1 / OVERCONFIDENCE, rel=0.05)
    np.testing.assert_allclose(intercepts, -np.log(MODEL_BIAS) / OVERCONFIDENCE, atol=0.1)


# how close to the truth each method gets on 30k test days (Brier ratio, ECE excess): the hazard map is the true
# family here; isotonic steps extrapolate worse into the risk range the validation days rarely reached
TOLERANCE = {"hazard": (1.005, 0.005), "isotonic": (1.01, 0.01)}


@pytest.mark.parametrize("validation_rate, test_rate", [(0.10, 0.05), (0.05, 0.10), (0.10, 0.10)])
@pytest.mark.parametrize("method", METHODS)
def test_calibration_matches_the_truth_on_a_test_base_rate_unlike_validation(method, validation_rate, test_rate):
    logits, labels, _ = storm_world(30_000, validation_rate, seed=2)
    calibration = fit_calibration(logits, labels, HORIZONS, 0.1, method=method)
    test_logits, test_labels, truth = storm_world(30_000, test_rate, seed=3)
    calibrated = calibration.probability(test_logits)
    raw = 1 / (1 + np.exp(-test_logits))
    brier_ratio, ece_excess = TOLERANCE[method]
    for j in range(len(HORIZONS)):
        true_brier = brier(truth[:, j], test_labels[:, j])
        assert brier(calibrated[:, j], test_labels[:, j]) <= true_brier * brier_ratio
        assert brier(raw[:, j], test_labels[:, j]) > 1.5 * true_brier  # the model's own scores are far off
        true_ece = expected_calibration_error(truth[:, j], test_labels[:, j])
        assert expected_calibration_error(calibrated[:, j], test_labels[:, j]) <= true_ece + ece_excess
        assert calibrated[:, j].mean() == pytest.approx(test_labels[:, j].mean(), rel=0.15)


any_logits = arrays(np.float64, st.tuples(st.integers(2, 40), st.just(3)),
                    elements=st.floats(-60, 60, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(logits=any_logits, fit_seed=st.integers(0, 10_000), method=st.sampled_from(METHODS))
def test_calibrated_probabilities_never_fall_with_the_horizon_on_any_input(logits, fit_seed, method):
    rng = np.random.default_rng(fit_seed)
    fit_logits = rng.normal(0, rng.uniform(0.1, 10), size=(200, 3)) + rng.normal(0, 3, size=3)  # incoherent too
    fit_labels = (rng.random((200, 3)) < rng.uniform(0.01, 0.9, size=3)).astype(float)
    fit_labels[rng.random((200, 3)) < 0.1] = np.nan
    calibration = fit_calibration(fit_logits, fit_labels, HORIZONS, 0.1, method=method)
    probabilities = calibration.probability(logits)
    assert np.all(np.isfinite(probabilities)) and np.all((probabilities >= 0) & (probabilities <= 1))
    assert np.all(np.diff(probabilities, axis=1) >= 0)
    alerts = calibration.alerts(probabilities)
    assert np.all(alerts[:, 1:] >= alerts[:, :-1])


def test_fitted_intercepts_never_fall_with_the_horizon_even_when_the_data_asks_for_it():
    rng = np.random.default_rng(4)
    logits = np.repeat(rng.normal(-2, 1, size=(5000, 1)), 3, axis=1)  # same logit at every horizon ...
    labels = (rng.random((5000, 3)) < [0.3, 0.1, 0.05]).astype(float)  # ... but storms rarer at longer ones
    calibration = fit_calibration(logits, labels, HORIZONS, 0.1)
    intercepts = [calibration.intercept[h] for h in HORIZONS]
    assert intercepts == sorted(intercepts)
    assert np.all(np.diff(calibration.probability(logits), axis=1) >= 0)


def test_an_alert_at_a_short_horizon_is_an_alert_at_every_longer_one():
    calibration = Calibration(method="hazard", horizons=HORIZONS, threshold={5: 0.2, 10: 0.5, 20: 0.7},
                              false_alarm_rate=0.1)
    probabilities = np.array([[0.25, 0.30, 0.40],   # likely within 5 days: so also within 10 and 20
                              [0.10, 0.55, 0.60],   # within 10 days, hence within 20
                              [0.10, 0.20, 0.75],   # only the 20-day score crosses
                              [0.10, 0.20, 0.30]])
    expected = np.array([[True, True, True], [False, True, True], [False, False, True], [False, False, False]])
    np.testing.assert_array_equal(calibration.alerts(probabilities), expected)


def test_nested_alerts_keep_the_false_alarm_rate_on_validation_and_fresh_data():
    logits, labels, _ = storm_world(20_000, 0.10, seed=5)
    calibration = fit_calibration(logits, labels, HORIZONS, false_alarm_rate=0.05)
    test_logits, test_labels, _ = storm_world(20_000, 0.10, seed=6)
    alerts = calibration.alerts(calibration.probability(test_logits))
    for j, horizon in enumerate(HORIZONS):
        assert calibration.validation_false_alarm_rate[horizon] <= 0.05
        realised = observed_false_alarm_rate(alerts[:, j].astype(float), test_labels[:, j], 0.5)
        assert realised == pytest.approx(0.05, abs=0.01)


def test_threshold_is_the_lowest_that_keeps_false_alarms_within_rate():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
    labels = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0])
    threshold = threshold_for_false_alarm_rate(scores, labels, 0.2)  # 2 of 10 calm days may alert
    assert 0.8 < threshold <= 0.9 + 1e-12
    assert observed_false_alarm_rate(scores, labels, threshold) == 0.2


def test_unknown_labels_are_ignored_and_one_class_leaves_the_model_probabilities_as_they_are():
    logits = np.array([[-3.0, -1.0, 1.0], [-2.0, 0.0, 2.0]])
    labels = np.array([[0.0, 0.0, np.nan], [0.0, np.nan, 0.0]])
    calibration = fit_calibration(logits, labels, HORIZONS, 0.1)
    assert calibration.slope == 1.0
    np.testing.assert_allclose(calibration.probability(logits), 1 / (1 + np.exp(-logits)), rtol=1e-9)


def test_incoherent_logits_are_lifted_to_their_running_maximum():
    calibration = fit_calibration(np.zeros((2, 3)), np.zeros((2, 3)), HORIZONS, 0.1)  # identity map
    probabilities = calibration.probability(np.array([[logit(0.4), logit(0.2), logit(0.5)]]))
    np.testing.assert_allclose(probabilities, [[0.4, 0.4, 0.5]])


@pytest.mark.parametrize("method", METHODS)
def test_a_day_without_markets_gets_an_empty_table(method):
    logits, labels, _ = storm_world(500, 0.10, seed=8)
    calibration = fit_calibration(logits, labels, HORIZONS, 0.1, method=method)
    assert calibration.probability(np.zeros((0, 3))).shape == (0, 3)
    assert calibration.alerts(np.zeros((0, 3))).shape == (0, 3)


def test_per_horizon_temperature_and_descending_horizons_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="horizon order"):
        fit_calibration(np.zeros((2, 3)), np.zeros((2, 3)), HORIZONS, 0.1, method="temperature")
    with pytest.raises(ValueError, match="ascending"):
        fit_calibration(np.zeros((2, 3)), np.zeros((2, 3)), [20, 10, 5], 0.1)
    old = {"method": "temperature", "horizons": [5], "temperature": {"5": 2.0}, "threshold": {"5": 0.3},
           "false_alarm_rate": 0.1}
    with pytest.raises(ValueError, match="retrain"):
        Calibration.from_json(old)


@pytest.mark.parametrize("method", METHODS)
def test_calibration_roundtrips_through_plain_json(method):
    logits, labels, _ = storm_world(2000, 0.10, seed=7)
    labels[:, 2] = np.nan  # the longest horizon: nothing known
    calibration = fit_calibration(logits, labels, HORIZONS, 0.1, method=method)
    restored = Calibration.from_json(json.loads(json.dumps(calibration.to_json(), allow_nan=False)))
    assert restored.threshold == calibration.threshold
    np.testing.assert_allclose(restored.probability(logits), calibration.probability(logits))
