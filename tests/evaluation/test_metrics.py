"""Each evaluation figure on hand-made tables whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sklearn.calibration import calibration_curve

from storm.evaluation.metrics import (
    expected_calibration_error,
    false_alarms_per_market_year,
    horizon_metrics,
    lead_times,
    recall_precision,
    reliability_points,
    volatility_rmse,
)


def predictions(labels, alerts, scores=None, market="AAA", horizon=5):
    n = len(labels)
    return pd.DataFrame({
        "market": market,
        "date": [f"2020-01-{i + 1:02d}" if i < 31 else f"2020-02-{i - 30:02d}" for i in range(n)],
        f"storm_{horizon}d": np.asarray(labels, float),
        f"alert_{horizon}d": np.asarray(alerts, bool),
        f"score_{horizon}d": np.asarray(scores if scores is not None else alerts, float),
    })


def test_recall_and_precision_count_alerts_on_storm_days():
    labels = np.array([0, 0, 1, 1, 1, 0])
    alerts = np.array([1, 0, 1, 0, 1, 0], bool)
    recall, precision = recall_precision(labels, alerts)
    assert recall == pytest.approx(2 / 3)
    assert precision == pytest.approx(2 / 3)


def test_precision_is_nan_with_a_note_when_nothing_alerted():
    notes: list[str] = []
    recall, precision = recall_precision(np.array([0, 1]), np.array([False, False]), notes)
    assert recall == 0.0 and math.isnan(precision) and notes


def test_false_alarms_per_market_year_counts_alerts_on_calm_days_per_market_year():
    # two markets x 126 labelled days = 1 market-year; 3 alerts on calm days, 1 on a storm day
    first = predictions([0] * 126, [True, True] + [False] * 124, market="AAA")
    second = predictions([1] + [0] * 125, [True, True] + [False] * 124, market="BBB")
    table = pd.concat([first, second])
    assert false_alarms_per_market_year(table, "storm_5d", "alert_5d") == pytest.approx(3.0)


def test_false_alarms_ignore_days_with_unknown_labels():
    table = predictions([0] * 252 + [np.nan] * 10, [True] + [False] * 251 + [True] * 10)
    assert false_alarms_per_market_year(table, "storm_5d", "alert_5d") == pytest.approx(1.0)


def test_lead_time_counts_from_the_first_alert_of_the_run_that_reaches_the_episode():
    #         0  1  2  3  4  5  6  7  8  9
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    alerts = [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]  # run 2..6 reaches day 5: lead 5 - 2
    assert lead_times(predictions(labels, alerts), horizon=5).tolist() == [3.0]


def test_an_alert_run_that_stops_before_the_episode_is_no_warning():
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    alerts = [0, 0, 1, 1, 0, 0, 1, 0, 0, 0]  # run 2..3 ends before day 5; run 6 reaches it: lead -1
    assert lead_times(predictions(labels, alerts), horizon=5).tolist() == [-1.0]


def test_an_alert_run_carried_over_from_the_previous_episode_counts_from_after_it():
    #         0  1  2  3  4  5  6  7  8
    labels = [0, 1, 1, 0, 0, 0, 1, 1, 0]
    alerts = [1, 1, 1, 1, 1, 1, 1, 0, 0]  # one run 0..6: episode 1 lead 1, episode 2 counts from day 3
    assert lead_times(predictions(labels, alerts), horizon=5).tolist() == [1.0, 3.0]


def test_missed_episode_has_no_lead_and_a_run_at_the_first_row_is_not_an_episode():
    labels = [1, 1, 0, 0, 0, 1, 0, 0, 1, 1]
    alerts = [1, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    leads = lead_times(predictions(labels, alerts, horizon=2), horizon=2)
    assert len(leads) == 2
    assert math.isnan(leads[0]) and leads[1] == 0.0


def test_lead_time_is_computed_per_market():
    first = predictions([0, 0, 0, 1], [0, 1, 1, 1], market="AAA", horizon=3)
    second = predictions([0, 1, 1, 1], [0, 0, 0, 0], market="BBB", horizon=3)
    leads = lead_times(pd.concat([second, first]), horizon=3)
    assert sorted(leads[~np.isnan(leads)].tolist()) == [2.0] and np.isnan(leads).sum() == 1


def test_volatility_rmse_uses_rows_where_both_are_known():
    assert volatility_rmse(np.array([1.0, 2.0, np.nan]), np.array([2.0, 4.0, 1.0])) == pytest.approx(math.sqrt(2.5))


def test_horizon_metrics_on_a_perfect_ranking():
    labels = [0, 0, 0, 1, 1, 0]
    scores = [0.1, 0.2, 0.1, 0.9, 0.8, 0.3]
    table = predictions(labels, [s > 0.5 for s in scores], scores)
    result = horizon_metrics(table, 5)
    assert result.auroc == 1.0 and result.pr_auc == 1.0
    assert result.brier == pytest.approx(np.mean((np.array(scores) - np.array(labels)) ** 2))
    assert result.recall_at_threshold == 1.0 and result.precision_at_threshold == 1.0
    assert result.n_positives == 2 and result.n_episodes == 1 and result.median_lead_days == 0.0


def test_single_class_gives_nan_ranking_figures_and_a_note_not_an_error():
    table = predictions([0, 0, 0, np.nan], [False, True, False, False], [0.1, 0.6, 0.2, 0.3])
    result = horizon_metrics(table, 5)
    assert math.isnan(result.auroc) and math.isnan(result.pr_auc)
    assert any("only calm days" in note for note in result.notes)
    assert result.n_rows == 3 and result.false_alarms_per_market_year == pytest.approx(252 / 3)
    assert result.as_dict()["auroc"] is None


def test_non_probabilistic_scores_skip_brier():
    table = predictions([0, 1], [False, True], [-3.0, -1.0])
    assert math.isnan(horizon_metrics(table, 5, probabilistic=False).brier)


def test_recall_and_precision_are_nan_when_undefined():
    recall, precision = recall_precision(np.array([0, 0]), np.array([False, False]))
    assert math.isnan(recall) and math.isnan(precision)


def test_expected_calibration_error_weighs_each_bin_gap_by_its_share_of_rows():
    # bin [0.1, 0.2): 4 rows at 0.1, one storm -> gap 0.15; bin [0.9, 1]: 2 rows at 0.9, both storms -> gap 0.1
    labels = np.array([1, 0, 0, 0, 1, 1])
    probabilities = np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.9])
    assert expected_calibration_error(labels, probabilities) == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.1)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0])) == 0.0


def test_reliability_points_are_sklearns_calibration_curve_and_none_with_one_class():
    rng = np.random.default_rng(0)
    probabilities = rng.random(500)
    labels = (rng.random(500) < probabilities).astype(float)
    points = reliability_points(np.append(labels, np.nan), np.append(probabilities, 0.5), n_bins=5)
    observed, predicted = calibration_curve(labels, probabilities, n_bins=5, strategy="quantile")
    assert points == {"predicted": predicted.tolist(), "observed": observed.tolist()}
    assert reliability_points(np.zeros(5), np.linspace(0, 1, 5)) is None


def test_horizon_metrics_report_ece_only_for_probabilities():
    table = predictions([0, 1, 0, 1], [False, True, False, True], [0.2, 0.7, 0.1, 0.9])
    assert horizon_metrics(table, 5).ece == pytest.approx(expected_calibration_error(np.array([0, 1, 0, 1]),
                                                                                      np.array([0.2, 0.7, 0.1, 0.9])))
    assert math.isnan(horizon_metrics(table, 5, probabilistic=False).ece)
