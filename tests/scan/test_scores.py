import numpy as np
import pandas as pd

from storm.scan.scores import input_counts, scores_table
from storm.schema import SCORE_COLUMNS


def predictions() -> pd.DataFrame:
    return pd.DataFrame({
        "market": ["B", "A"], "date": ["2020-01-02", "2020-01-02"],
        "score_5d": [0.2, 0.9], "alert_5d": [False, True], "score_20d": [0.4, 0.1], "alert_20d": [False, False],
        "weight_news": [0.5, 0.0], "weight_prices": [0.5, 1.0], "weight_calls": [0.0, 0.0],
        "present_news": [True, False], "present_prices": [True, True], "present_calls": [False, False],
    })


def test_scores_table_has_one_row_per_market_and_horizon_in_a_fixed_order():
    table = scores_table(predictions(), [5, 20], {5: 0.5, 20: 0.3}, "abc123")
    assert list(table.columns) == list(SCORE_COLUMNS)
    assert list(zip(table.market, table.horizon)) == [("A", 5), ("A", 20), ("B", 5), ("B", 20)]
    a5 = table[(table.market == "A") & (table.horizon == 5)].iloc[0]
    assert (a5.score, a5.alert, a5.threshold, a5.model_version) == (0.9, True, 0.5, "abc123")
    assert not table[table.market == "A"].present_news.any()


def test_scores_table_is_independent_of_input_row_order():
    shuffled = predictions().iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(scores_table(predictions(), [5, 20], {5: 0.5, 20: 0.3}, "v"),
                                  scores_table(shuffled, [5, 20], {5: 0.5, 20: 0.3}, "v"))


def test_input_counts_split_present_missing_and_quarantined_per_modality():
    counts = input_counts(predictions(), quarantined={"prices": 2}, markets_missing=1)
    assert counts["news"] == {"ok": 1, "quarantined": 0, "missing": 2}
    assert counts["prices"] == {"ok": 2, "quarantined": 2, "missing": 1}
    assert counts["calls"] == {"ok": 0, "quarantined": 0, "missing": 3}
    assert np.all([sum(c.values()) >= 0 for c in counts.values()])
