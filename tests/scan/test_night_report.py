"""The night's page and the console's screenful: every market on alert on the page, highest first, with the drivers
the console prints; the console shows the top N, says how many more and where they are."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from html_tables import PageReader
from storm.cli.scan_cmd import print_night
from storm.explain.table import EXPLANATION_COLUMNS
from storm.scan import ScanOutcome
from storm.scan.night_report import night_html, scan_summary, top_alerts
from storm.schema import SCORE_COLUMNS, ScanStats

DATE = "2024-03-15"
THRESHOLD = 0.5
HOSTILE_HEADLINE = "<script>alert('x')</script> Kilo recalls every unit"


def night(n_markets: int = 30, alerting: int = 25) -> pd.DataFrame:
    """Markets M00…: the first ``alerting`` on alert at 20 days, M00 the highest score; 5 and 20 days each."""
    rows = []
    for index in range(n_markets):
        peak = 0.95 - index * 0.01 if index < alerting else 0.2
        for horizon, score in ((5, peak / 2), (20, peak)):
            rows.append({"date": DATE, "market": f"M{index:02d}", "horizon": horizon, "score": score,
                         "alert": score >= THRESHOLD, "threshold": THRESHOLD, "model_version": "v1",
                         "weight_news": score - 0.1, "weight_prices": 0.1, "weight_calls": 0.0, "present_news": True,
                         "present_prices": True, "present_calls": False})
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def explanations(scores: pd.DataFrame) -> pd.DataFrame:
    """Each score driven by news (one headline; M00's is hostile markup) more than by prices."""
    rows = []
    for row in scores.itertuples(index=False):
        common = {"date": DATE, "market": row.market, "horizon": row.horizon, "item_key": "", "item_date": "",
                  "item_value": float("nan"), "score_logit": 0.0, "score": row.score, "baseline_logit": -2.0,
                  "baseline": 0.1, "evidence_weight": 1.0, "model_version": "v1"}
        rows += [{**common, "kind": "modality", "modality": "news", "rank": 1, "item": "",
                  "contribution_logit": 1.5, "contribution": row.score - 0.2},
                 {**common, "kind": "modality", "modality": "prices", "rank": 2, "item": "",
                  "contribution_logit": 0.5, "contribution": 0.1},
                 {**common, "kind": "item", "modality": "news", "rank": 1,
                  "item": HOSTILE_HEADLINE if row.market == "M00" else f"{row.market} misses guidance",
                  "contribution_logit": 1.2, "contribution": 0.3}]
    return pd.DataFrame(rows, columns=list(EXPLANATION_COLUMNS))


def test_the_page_lists_every_market_on_alert_highest_first_with_its_drivers_and_every_score():
    scores = night()
    html = night_html(DATE, scores, explanations(scores), scan_summary(scores, DATE, (), "v1"))
    page = PageReader(html)
    alerts = page.tables["alerts-table"]
    assert alerts[0][:5] == ["market", "horizon", "score", "threshold", "alert"]
    markets = list(dict.fromkeys(row[0] for row in alerts[1:]))
    assert markets == [f"M{i:02d}" for i in range(25)]  # every one on alert, not only a screenful
    assert alerts[1] == ["M00", "5d", "0.475", "0.500", "-", "+0.375", "+0.100", "–"]
    assert alerts[2] == ["M00", "20d", "0.950", "0.500", "ALERT", "+0.850", "+0.100", "–"]
    assert len(page.tables["scores-table"]) == 1 + len(scores)
    text = "".join(page.text)
    assert "M00 20d: driven by news" in text or "M00 5d: driven by news" in text
    assert "M24 misses guidance" in text and "25 of 30 markets on alert (5d 0, 20d 25)" in text
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Kilo" in html


def test_a_night_without_alerts_says_so():
    scores = night(alerting=0)
    page = PageReader(night_html(DATE, scores, explanations(scores), scan_summary(scores, DATE, (), "v1")))
    assert "alerts-table" not in page.tables and f"No market on alert on {DATE}." in "".join(page.text)


def test_top_alerts_keeps_every_horizon_of_the_highest_markets_and_counts_the_rest():
    shown, left_out = top_alerts(night(), 3)
    assert list(shown["market"]) == ["M00", "M00", "M01", "M01", "M02", "M02"] and left_out == 22
    assert top_alerts(night(), 40)[1] == 0


def test_the_console_shows_the_top_n_markets_says_how_many_more_and_where_the_page_lists_them():
    scores = night()
    outcome = ScanOutcome(dates=[DATE], scores={DATE: scores}, stats={DATE: ScanStats(date=DATE, duration_seconds=1.0,
                                                                                     inputs={}, markets_missing=())},
                          model_version="v1", score_paths={DATE: "store/scores/date=2024-03-15/scores.parquet"},
                          explanations={DATE: explanations(scores)},
                          report_paths={DATE: "store/scores/date=2024-03-15/report.html"})
    console = Console(width=100, record=True, color_system=None)
    print_night(outcome, console, top=4)
    printed = console.export_text()
    rows = [line.split("│")[1].strip() for line in printed.splitlines() if line.startswith("│")]
    assert rows == ["M00", "M00", "M01", "M01", "M02", "M02", "M03", "M03"]
    assert sum("driven by news" in line for line in printed.splitlines()) == 4  # drivers of the markets shown only
    assert ("21 more markets on alert not shown (--top 4); every one, with its drivers: "
            "store/scores/date=2024-03-15/report.html") in printed
    assert "page:   store/scores/date=2024-03-15/report.html" in printed
    console = Console(width=100, record=True, color_system=None)
    print_night(outcome, console, top=25)
    assert "more market" not in console.export_text()
