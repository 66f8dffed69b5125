import json

import numpy as np
import pytest

from storm.training.calibration import (
    Calibration, fit_calibration, fit_temperature, observed_false_alarm_rate, threshold_for_false_alarm_rate,
)


def overconfident(n: int, seed: int, scale: float = 4.0):
    """Labels drawn from sigmoid(z); logits reported as scale*z: an over-confident model."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    return scale * z, labels


def nll(probabilities, labels):
    p = np.clip(probabilities, 1e-12, 1 - 1e-12)
    return -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def test_temperature_undoes_overconfidence_and_lowers_held_out_nll():
    logits, labels = overconfident(4000, seed=1)
    temperature = fit_temperature(logits, labels)
    assert 3.0 < temperature < 5.5
    test_logits, test_labels = overconfident(4000, seed=2)
    calibration = fit_calibration(logits[:, None], labels[:, None], [20], 0.1)
    assert nll(calibration.probability(test_logits[:, None])[:, 0], test_labels) < nll(1 / (1 + np.exp(-test_logits)), test_labels) - 0.05


def test_isotonic_is_monotone_and_lowers_held_out_nll():
    logits, labels = overconfident(4000, seed=3)
    calibration = fit_calibration(logits[:, None], labels[:, None], [5], 0.1, method="isotonic")
    grid = np.linspace(-10, 10, 50)[:, None]
    assert np.all(np.diff(calibration.probability(grid)[:, 0]) >= 0)
    test_logits, test_labels = overconfident(4000, seed=4)
    assert nll(calibration.probability(test_logits[:, None])[:, 0], test_labels) < nll(1 / (1 + np.exp(-test_logits)), test_labels)


def test_threshold_meets_false_alarm_rate_on_fresh_data_from_the_same_distribution():
    logits, labels = overconfident(5000, seed=5)
    calibration = fit_calibration(logits[:, None], labels[:, None], [10], false_alarm_rate=0.1)
    assert calibration.validation_false_alarm_rate[10] <= 0.1
    test_logits, test_labels = overconfident(5000, seed=6)
    scores = calibration.probability(test_logits[:, None])[:, 0]
    assert observed_false_alarm_rate(scores, test_labels, calibration.threshold[10]) == pytest.approx(0.1, abs=0.02)


def test_threshold_is_the_lowest_that_keeps_false_alarms_within_rate():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
    labels = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0])
    threshold = threshold_for_false_alarm_rate(scores, labels, 0.2)  # 2 of 10 calm days may alert
    assert 0.8 < threshold <= 0.9 + 1e-12
    assert observed_false_alarm_rate(scores, labels, threshold) == 0.2


def test_unknown_labels_are_ignored_and_one_class_leaves_temperature_at_one():
    assert fit_temperature(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, np.nan])) == 1.0


def test_calibration_roundtrips_through_plain_json():
    logits, labels = overconfident(500, seed=7)
    both = np.stack([logits, logits], axis=1)
    both_labels = np.stack([labels, np.full_like(labels, np.nan)], axis=1)  # second horizon: nothing known
    for method in ("temperature", "isotonic"):
        calibration = fit_calibration(both, both_labels, [5, 20], 0.1, method=method)
        restored = Calibration.from_json(json.loads(json.dumps(calibration.to_json(), allow_nan=False)))
        assert restored.threshold == calibration.threshold
        np.testing.assert_allclose(restored.probability(both), calibration.probability(both))
