import numpy as np
import pandas as pd

from storm.features.alignment import effective_day_index, evidence_start
from storm.features.panel import panel_rows, recent_conferences

# Thu 2, Fri 3, Mon 6, Tue 7, Wed 8, Thu 9 January 2020
CALENDAR = {"AAA": np.array(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09"])}


def items(*rows):
    return pd.DataFrame([{"market": m, "date": d} for m, d in rows])


def test_weekend_items_count_from_the_next_trading_day_and_unknown_markets_from_nowhere():
    index = effective_day_index(items(("AAA", "2020-01-04"), ("AAA", "2020-01-06"), ("ZZZ", "2020-01-06")), CALENDAR)
    assert index.tolist() == [2, 2, -1]


def test_evidence_start_reaches_back_far_enough_for_the_lookback():
    assert evidence_start(CALENDAR, "2020-01-06", 0) == "2020-01-04"  # weekend news rolls into Monday
    assert evidence_start(CALENDAR, "2020-01-07", 0) == "2020-01-07"
    assert evidence_start(CALENDAR, "2020-01-07", 2) == "2020-01-03"
    assert evidence_start(CALENDAR, "2020-01-03", 5) == "2020-01-02"


def test_panel_rows_reach_window_minus_one_trading_days_before_the_start():
    rows = panel_rows(CALENDAR, "2020-01-07", "2020-01-08", window_days=3)
    assert rows["date"].tolist() == ["2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"]
    assert rows["market_index"].tolist() == [1, 2, 3, 4]


def test_recent_conferences_stay_inside_the_window_and_their_market_most_recent_first():
    market_start = np.array([0, 0, 0, 0, 0, 5, 5, 5])  # two markets: rows 0-4 and 5-7
    recent = recent_conferences(np.array([0, 2, 4]), market_start, window_days=3, limit=2)
    assert recent.tolist() == [[0, -1], [0, -1], [1, 0], [1, -1], [2, 1], [-1, -1], [-1, -1], [-1, -1]]
