"""Trading calendars and which trading day an item is evidence from: pure table logic, no I/O.

An item dated on a non-trading day counts from the market's next trading day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def trading_calendars(prices: pd.DataFrame) -> dict[str, np.ndarray]:
    """market -> sorted array of its trading dates ('YYYY-MM-DD' strings)."""
    return {market: np.sort(group["date"].astype(str).to_numpy()) for market, group in prices.groupby("market", sort=True)}


def evidence_start(calendars: dict[str, np.ndarray], start: str, lookback_days: int) -> str:
    """Earliest item date that can still be evidence on or after ``start`` with this look-back (over all markets)."""
    earliest = start
    for dates in calendars.values():
        first_index = int(np.searchsorted(dates, start, side="left"))
        before = first_index - lookback_days - 1
        if before >= 0:
            candidate = (pd.Timestamp(dates[before]) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        elif len(dates):
            candidate = str(dates[0])
        else:
            continue
        earliest = min(earliest, candidate)
    return earliest


def effective_day_index(items: pd.DataFrame, calendars: dict[str, np.ndarray]) -> pd.Series:
    """Index of the first trading day on or after each item's date in its market's calendar (-1: unknown market)."""
    index = np.full(len(items), -1, dtype=np.int64)
    for market, positions in items.groupby("market").indices.items():
        dates = calendars.get(market)
        if dates is not None:
            index[positions] = np.searchsorted(dates, items["date"].to_numpy()[positions].astype(str), side="left")
    return pd.Series(index, index=items.index)
