"""Which items are evidence for which (market, trading day): pure table logic, no I/O.

An item dated on a non-trading day counts from the market's next trading
day. Headlines are evidence on their day and the next ``news_lookback_days`` trading days
(the most recent ``max_headlines`` win); a chart only on its own date;
a conference on its day and the next ``audio_lookback_days`` trading days
(the most recent conference wins).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def trading_calendars(prices: pd.DataFrame) -> dict[str, np.ndarray]:
    """market -> sorted array of its trading dates ('YYYY-MM-DD' strings)."""
    return {market: np.sort(group["date"].astype(str).to_numpy()) for market, group in prices.groupby("market", sort=True)}


def sample_keys(calendars: dict[str, np.ndarray], start: str, end: str) -> pd.DataFrame:
    """One row per (market, trading day) with start <= date <= end, sorted."""
    rows = [(market, date) for market, dates in calendars.items() for date in dates if start <= date <= end]
    return pd.DataFrame(rows, columns=["market", "date"])


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


def _effective_index(items: pd.DataFrame, calendars: dict[str, np.ndarray]) -> pd.Series:
    """Index of the first trading day on or after each item's date in its market's calendar (-1: unknown market)."""
    index = np.full(len(items), -1, dtype=np.int64)
    for market, positions in items.groupby("market").indices.items():
        dates = calendars.get(market)
        if dates is not None:
            index[positions] = np.searchsorted(dates, items["date"].to_numpy()[positions].astype(str), side="left")
    return pd.Series(index, index=items.index)


def _on_trading_day(items: pd.DataFrame, calendars: dict[str, np.ndarray], offsets: range) -> pd.DataFrame:
    """items with a ``sample_date`` for each trading day they are evidence on (item index + each offset)."""
    if items.empty:
        return items.assign(sample_date=pd.Series(dtype=str))
    base = _effective_index(items, calendars)
    parts = []
    for offset in offsets:
        target = base + offset
        sample_dates = [
            str(calendars[m][t]) if t >= 0 and m in calendars and t < len(calendars[m]) and b >= 0 else None
            for m, t, b in zip(items["market"], target, base)
        ]
        parts.append(items.assign(sample_date=sample_dates))
    return pd.concat(parts, ignore_index=True).dropna(subset=["sample_date"])


def headlines_by_day(news: pd.DataFrame, calendars: dict[str, np.ndarray], max_headlines: int,
                     lookback_days: int = 0) -> pd.DataFrame:
    """market, date, text_hashes, text_dates: the most recent (at most max_headlines) headline hashes of the
    day and the ``lookback_days`` trading days before it: a day's news flow, not one day's handful."""
    placed = _on_trading_day(news, calendars, range(lookback_days + 1))
    if placed.empty:
        return pd.DataFrame(columns=["market", "date", "text_hashes", "text_dates"])
    placed = placed.sort_values(["market", "sample_date", "date", "source_path", "content_hash"], kind="stable")
    grouped = placed.groupby(["market", "sample_date"], sort=True).tail(max_headlines).groupby(["market", "sample_date"], sort=True)
    table = grouped.agg(text_hashes=("content_hash", list), text_dates=("date", list)).reset_index()
    return table.rename(columns={"sample_date": "date"})


def chart_by_day(charts: pd.DataFrame) -> pd.DataFrame:
    """market, date, chart_hash: the chart PNG of that exact day."""
    if charts.empty:
        return pd.DataFrame(columns=["market", "date", "chart_hash"])
    latest = charts.sort_values(["market", "date", "source_path"], kind="stable").drop_duplicates(["market", "date"], keep="last")
    return latest[["market", "date", "content_hash"]].rename(columns={"content_hash": "chart_hash"})


def conference_by_day(audio: pd.DataFrame, calendars: dict[str, np.ndarray], lookback_days: int) -> pd.DataFrame:
    """market, date, audio_hash, audio_date: the most recent conference within the look-back window."""
    placed = _on_trading_day(audio, calendars, range(lookback_days + 1))
    if placed.empty:
        return pd.DataFrame(columns=["market", "date", "audio_hash", "audio_date"])
    latest = placed.sort_values(["market", "sample_date", "date", "event", "content_hash"], kind="stable")
    latest = latest.drop_duplicates(["market", "sample_date"], keep="last")
    table = latest[["market", "sample_date", "content_hash", "date"]]
    return table.rename(columns={"sample_date": "date", "content_hash": "audio_hash", "date": "audio_date"})[
        ["market", "date", "audio_hash", "audio_date"]]


def alignment_plan(keys: pd.DataFrame, news: pd.DataFrame, charts: pd.DataFrame, audio: pd.DataFrame,
                   calendars: dict[str, np.ndarray], max_headlines: int, lookback_days: int,
                   news_lookback_days: int = 0) -> pd.DataFrame:
    """keys (market, date) with the content hashes each modality contributes; empty lists / None where missing."""
    plan = keys.merge(headlines_by_day(news, calendars, max_headlines, news_lookback_days), on=["market", "date"],
                      how="left")
    plan = plan.merge(chart_by_day(charts), on=["market", "date"], how="left")
    plan = plan.merge(conference_by_day(audio, calendars, lookback_days), on=["market", "date"], how="left")
    for column in ("text_hashes", "text_dates"):
        plan[column] = pd.Series([list(v) if isinstance(v, (list, np.ndarray)) else [] for v in plan[column]],
                                 index=plan.index, dtype=object)
    for column in ("chart_hash", "audio_hash", "audio_date"):
        plan[column] = pd.Series([v if isinstance(v, str) else None for v in plan[column]], index=plan.index, dtype=object)
    return plan.sort_values(["date", "market"], kind="stable").reset_index(drop=True)
