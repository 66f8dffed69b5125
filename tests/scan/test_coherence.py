"""The horizon-order guard on the scores table: clear refusals for incoherent days, silence for coherent ones."""

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from storm.config import StorageConfig
from storm.model.heads import StormHeads
from storm.scan.coherence import (
    IncoherentScores, assert_scores_coherent_under, check_horizon_order, horizon_order_violations,
)
from storm.scan.scores import scores_table
from storm.schema import MODALITIES
from storm.store.layout import Layout
from storm.store.objectstore import open_store
from storm.published.calibration import fit_calibration

HORIZONS = [5, 10, 20]


def day(scores_by_market: dict[str, list[float]], date: str = "2017-11-30", alerts=None) -> pd.DataFrame:
    rows = []
    for market, scores in scores_by_market.items():
        for i, (horizon, score) in enumerate(zip(HORIZONS, scores)):
            alert = bool(alerts[market][i]) if alerts else False
            rows.append({"date": date, "market": market, "horizon": horizon, "score": score, "alert": alert})
    return pd.DataFrame(rows)


def test_the_issues_example_is_refused_naming_market_date_horizons_and_values():
    scores = day({"ARDEN": [0.342, 0.285, 0.250], "BOREAL": [0.01, 0.02, 0.05]})
    with pytest.raises(IncoherentScores) as refused:
        check_horizon_order(scores)
    message = str(refused.value)
    assert "ARDEN on 2017-11-30: 5d score 0.342 > 20d score 0.25" in message  # the worst pair first
    assert "10d score 0.285 > 20d score 0.25" in message and "1 of 2 markets" in message
    assert "BOREAL" not in message
    assert isinstance(refused.value, ValueError)


def test_coherent_scores_and_float_noise_pass_but_a_larger_inversion_does_not():
    check_horizon_order(day({"A": [0.1, 0.2, 0.3], "B": [0.3, 0.3, 0.3]}))
    check_horizon_order(day({"A": [0.2 + 1e-9, 0.2, 0.3]}))
    with pytest.raises(IncoherentScores, match="A on 2017-11-30: 5d"):
        check_horizon_order(day({"A": [0.2 + 2e-6, 0.2, 0.3]}))


def test_an_alert_at_a_short_horizon_without_one_at_a_longer_horizon_is_refused():
    scores = day({"A": [0.1, 0.2, 0.3]}, alerts={"A": [True, True, False]})
    with pytest.raises(IncoherentScores, match="5d alerts but 20d does not"):
        check_horizon_order(scores)
    check_horizon_order(day({"A": [0.1, 0.2, 0.3]}, alerts={"A": [False, True, True]}))


def test_a_table_without_the_needed_columns_says_which_are_missing():
    with pytest.raises(ValueError, match=r"\['horizon'\]"):
        check_horizon_order(pd.DataFrame({"date": ["2020-01-02"], "market": ["A"], "score": [0.1]}))


@settings(max_examples=80, deadline=None)
@given(scores=st.lists(st.lists(st.floats(0, 1), min_size=3, max_size=3), min_size=1, max_size=6))
def test_the_guard_refuses_exactly_the_tables_with_an_inversion_beyond_tolerance(scores):
    table = day({f"M{i}": row for i, row in enumerate(scores)})
    inverted = any(row[i] - row[j] > 1e-6 for row in scores for i in range(3) for j in range(i + 1, 3))
    assert (not horizon_order_violations(table).empty) == inverted
    if inverted:
        with pytest.raises(IncoherentScores):
            check_horizon_order(table)
    else:
        check_horizon_order(table)


def scan_like_predictions(seed: int, n_markets: int, weight_scale: float) -> pd.DataFrame:
    """Scores as the scan makes them: coherent heads with random weights -> fitted calibration -> nested alerts."""
    torch.manual_seed(seed)
    heads = StormHeads(8, len(HORIZONS), dropout=0.0).eval()
    with torch.no_grad():
        for parameter in heads.parameters():
            parameter.normal_(0.0, weight_scale)
        validation_logits = heads(torch.randn(400, 8) * 3)[0].double().numpy()
        logits = heads(torch.randn(n_markets, 8) * 3)[0].double().numpy()
    rng = np.random.default_rng(seed)
    storm_within = rng.exponential(size=400)[:, None] < [0.05, 0.1, 0.2]  # nested labels
    calibration = fit_calibration(validation_logits, storm_within.astype(float), HORIZONS, false_alarm_rate=0.1)
    probabilities = calibration.probability(logits)
    alerts = calibration.alerts(probabilities)
    predictions = pd.DataFrame({"market": [f"M{i}" for i in range(n_markets)], "date": "2020-01-02"})
    for j, horizon in enumerate(HORIZONS):
        predictions[f"score_{horizon}d"], predictions[f"alert_{horizon}d"] = probabilities[:, j], alerts[:, j]
    for modality in MODALITIES:
        predictions[f"weight_{modality}"], predictions[f"present_{modality}"] = 1 / 3, True
    return scores_table(predictions, HORIZONS, calibration.threshold, "v1")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_markets=st.integers(1, 30), weight_scale=st.floats(0.01, 10.0))
def test_scores_made_by_coherent_heads_and_calibration_always_pass_the_guard(seed, n_markets, weight_scale):
    check_horizon_order(scan_like_predictions(seed, n_markets, weight_scale))


def test_every_stored_scores_file_under_a_store_is_checked_and_a_bad_one_is_named(tmp_path):
    store = open_store(StorageConfig(root=str(tmp_path)))
    layout = Layout(store)
    store.write_table(layout.scores("2017-11-29"), day({"A": [0.1, 0.2, 0.3]}, date="2017-11-29"))
    store.write_table(layout.scores("2017-11-30"), day({"A": [0.1, 0.2, 0.3]}))
    assert assert_scores_coherent_under(tmp_path) == 2
    store.write_table(layout.scores("2017-12-01"), day({"ARDEN": [0.342, 0.285, 0.250]}, date="2017-12-01"))
    with pytest.raises(IncoherentScores, match=r"date=2017-12-01/scores.parquet: .*ARDEN on 2017-12-01"):
        assert_scores_coherent_under(store)
