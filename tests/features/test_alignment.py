import numpy as np
import pandas as pd

from storm.features.alignment import (alignment_plan, chart_by_day, conference_by_day, evidence_start,
                                      headlines_by_day, sample_keys)

# Thu 2, Fri 3, Mon 6, Tue 7, Wed 8, Thu 9 January 2020
CALENDAR = {"AAA": np.array(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09"])}


def news(*rows):
    return pd.DataFrame([{"market": m, "date": d, "content_hash": h, "source_path": f"raw/news/date={d}/x.jsonl"}
                         for m, d, h in rows])


def audio(*rows):
    return pd.DataFrame([{"market": m, "date": d, "event": e, "content_hash": h, "source_path": f"{d}/{e}"}
                         for m, d, e, h in rows])


def test_weekend_news_counts_on_the_next_trading_day_and_unknown_markets_are_ignored():
    table = headlines_by_day(news(("AAA", "2020-01-04", "sat"), ("AAA", "2020-01-06", "mon"), ("ZZZ", "2020-01-06", "z")),
                             CALENDAR, max_headlines=8)
    assert table.to_dict("records") == [
        {"market": "AAA", "date": "2020-01-06", "text_hashes": ["sat", "mon"], "text_dates": ["2020-01-04", "2020-01-06"]}]


def test_only_the_most_recent_max_headlines_are_kept():
    table = headlines_by_day(news(*[("AAA", "2020-01-02", f"h{i}") for i in range(5)]), CALENDAR, max_headlines=2)
    assert len(table.loc[0, "text_hashes"]) == 2


def test_news_look_back_carries_headlines_forward_and_keeps_the_most_recent():
    table = headlines_by_day(news(("AAA", "2020-01-02", "thu"), ("AAA", "2020-01-03", "fri"), ("AAA", "2020-01-07", "tue")),
                             CALENDAR, max_headlines=2, lookback_days=2)
    by_day = {row["date"]: row["text_hashes"] for row in table.to_dict("records")}
    assert by_day["2020-01-02"] == ["thu"]
    assert by_day["2020-01-06"] == ["thu", "fri"]  # Monday: Thursday's and Friday's news, two trading days back
    assert by_day["2020-01-07"] == ["fri", "tue"]  # Thursday's has aged out; the two most recent remain
    assert "2020-01-09" in by_day and by_day["2020-01-09"] == ["tue"]
    assert set(by_day) == {"2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09"}


def test_conference_is_evidence_for_lookback_trading_days_and_the_latest_wins():
    table = conference_by_day(audio(("AAA", "2020-01-02", "q1", "early"), ("AAA", "2020-01-07", "q2", "late")),
                              CALENDAR, lookback_days=2)
    by_day = dict(zip(table["date"], table["audio_hash"]))
    assert by_day == {"2020-01-02": "early", "2020-01-03": "early", "2020-01-06": "early",
                      "2020-01-07": "late", "2020-01-08": "late", "2020-01-09": "late"}
    assert conference_by_day(audio(("AAA", "2020-01-02", "q1", "c")), CALENDAR, 0)["date"].tolist() == ["2020-01-02"]


def test_evidence_start_reaches_back_far_enough_for_the_lookback():
    assert evidence_start(CALENDAR, "2020-01-06", 0) == "2020-01-04"  # weekend news rolls into Monday
    assert evidence_start(CALENDAR, "2020-01-07", 0) == "2020-01-07"
    assert evidence_start(CALENDAR, "2020-01-07", 2) == "2020-01-03"
    assert evidence_start(CALENDAR, "2020-01-03", 5) == "2020-01-02"


def test_plan_marks_missing_items_as_empty_and_covers_every_trading_day():
    keys = sample_keys(CALENDAR, "2020-01-03", "2020-01-06")
    charts = pd.DataFrame([{"market": "AAA", "date": "2020-01-03", "content_hash": "png", "source_path": "p"}])
    plan = alignment_plan(keys, news(("AAA", "2020-01-06", "mon")), charts, audio(), CALENDAR, 8, 5)
    assert plan["date"].tolist() == ["2020-01-03", "2020-01-06"]
    assert plan["text_hashes"].tolist() == [[], ["mon"]]
    assert plan["chart_hash"].tolist() == ["png", None]
    assert plan["audio_hash"].tolist() == [None, None]
    assert chart_by_day(charts.iloc[:0]).empty
