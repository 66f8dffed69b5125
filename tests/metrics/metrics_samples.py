"""A hand-made scan of one date: scores for two markets and three horizons, and its stats.

Shared by the metrics tests (and usable by any end-to-end test that needs a scan's output).
"""

from __future__ import annotations

import pandas as pd

from storm.schema import SCORE_COLUMNS, ScanStats

SCAN_DATE = "2024-03-15"
THRESHOLDS = {5: 0.35, 10: 0.4, 20: 0.5}
# (market, horizon) -> score; SPX is in alert at 20 days only
HAND_MADE_SCORES = {("DAX", 5): 0.05, ("DAX", 10): 0.1, ("DAX", 20): 0.2,
                    ("SPX", 5): 0.3, ("SPX", 10): 0.38, ("SPX", 20): 0.8}


def make_scores(date: str = SCAN_DATE) -> pd.DataFrame:
    rows = []
    for (market, horizon), score in sorted(HAND_MADE_SCORES.items()):
        weights = (0.5, 0.3, 0.2) if market == "SPX" else (0.0, 0.6, 0.4)  # DAX had no news that day
        rows.append({
            "date": date, "market": market, "horizon": horizon, "score": score, "alert": score >= THRESHOLDS[horizon],
            "threshold": THRESHOLDS[horizon], "model_version": "demo-3f2a", "weight_news": weights[0] + horizon / 1000,
            "weight_prices": weights[1], "weight_calls": weights[2], "present_news": market == "SPX",
            "present_prices": True, "present_calls": True,
        })
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def make_stats(date: str = SCAN_DATE, finished_at: float = 1_710_540_000.0) -> ScanStats:
    return ScanStats(
        date=date, duration_seconds=42.5, finished_at=finished_at, markets_missing=("NKY",),
        inputs={"news": {"ok": 9, "quarantined": 1, "missing": 1}, "prices": {"ok": 2, "quarantined": 0, "missing": 0},
                "calls": {"ok": 1, "quarantined": 1, "missing": 3}},
    )
