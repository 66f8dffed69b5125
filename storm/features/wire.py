"""Market-wide headlines (a wire) on every market's own calendar: pure placement, no I/O.

A wire item is stored once, dated by the first close at or after it (storm import news --market-wide); each market
reads it on its own first trading day on or after that date (storm.features.alignment's rule for every item), so a
market closed that day reads it on its next session, and every market reads it exactly once. A day reads the last
``max_headlines`` of the wire items falling on it in (date, source_path, content_hash) order, as a market's own news
does (storm.features.panel): only the last ``max_headlines`` of a date can ever be read, so only those are embedded
(storm.features.featurize.readable_items) and summed here.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

WIRE_ORDER = ["date", "source_path", "content_hash"]  # the order a day's wire items are read in (the last ones kept)


def readable_wire(items: pd.DataFrame, max_headlines: int) -> pd.DataFrame:
    """The wire items any market's day can read: the last ``max_headlines`` of each date, in WIRE_ORDER."""
    ordered = items.sort_values(WIRE_ORDER, kind="stable")
    return ordered.groupby("date", sort=False).tail(max_headlines).reset_index(drop=True)


def wire_days(rows: pd.DataFrame, items: pd.DataFrame, embeddings: Mapping[str, np.ndarray],
              calendars: Mapping[str, np.ndarray], max_headlines: int, text_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(wire_day [N, text_dim] the mean embedding of the wire items each panel row reads, wire_count [N] how many).

    ``rows``: the panel's rows (market, market_index, row_of_day; a market's rows contiguous, in calendar order).
    ``items``: wire items (date, source_path, content_hash); those without an embedding are skipped. A day's sum is a
    difference of prefix sums over the items in WIRE_ORDER (float64), so the cost is per market-day, not per item.
    """
    wire_day = np.zeros((len(rows), text_dim), dtype=np.float32)
    wire_count = np.zeros(len(rows), dtype=np.float32)
    known = items[items["content_hash"].isin(embeddings.keys())] if len(items) else items
    if known.empty or rows.empty:
        return wire_day, wire_count
    readable = readable_wire(known, max_headlines)
    vectors = np.stack([embeddings[h] for h in readable["content_hash"]]).astype(np.float64)
    prefix = np.vstack([np.zeros((1, text_dim)), np.cumsum(vectors, axis=0)])
    dates, first_item = np.unique(readable["date"].to_numpy(str), return_index=True)
    after_last_item = np.r_[first_item[1:], len(readable)]
    market = rows["market"].to_numpy()
    starts = np.flatnonzero(np.r_[True, market[1:] != market[:-1]])
    stops = np.r_[starts[1:], len(rows)]
    market_index = rows["market_index"].to_numpy(np.int64)
    row_of_day = rows["row_of_day"].to_numpy(np.int64)
    for start, stop in zip(starts, stops):
        calendar = calendars.get(market[start])
        if calendar is None:
            continue
        day = np.searchsorted(calendar, dates, side="left") - market_index[start]  # the row offset each date lands on
        on_panel = (day >= 0) & (day < stop - start)
        if not on_panel.any():
            continue
        offsets, first_date = np.unique(day[on_panel], return_index=True)  # dates in order, so each day's run
        last_date = np.r_[first_date[1:], on_panel.sum()] - 1
        hi = after_last_item[on_panel][last_date]
        lo = np.maximum(first_item[on_panel][first_date], hi - max_headlines)
        target = row_of_day[start + offsets]
        wire_count[target] = hi - lo
        wire_day[target] = (prefix[hi] - prefix[lo]) / (hi - lo)[:, None]
    return wire_day, wire_count
