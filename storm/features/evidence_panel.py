"""The evidence panel's rows as arrays, and which conferences (recordings, call tables) each row's window holds.

Built by storm.features.panel (which reads the store and runs Ray Data); read by
storm.features.windows at batch time. Kept apart from the build so the training
loop, its tests and a GPU machine without Ray import the panel without the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from storm.schema import FWD_VOL, MODALITIES, storm_column


@dataclass
class EvidencePanel:
    """Rows grouped by market (contiguous) and in date order within a market."""

    market: np.ndarray              # str [N]
    date: np.ndarray                # str [N] YYYY-MM-DD
    market_start: np.ndarray        # int64 [N]: first row of this row's market
    text_day: np.ndarray            # float32 [N, text_dim]: mean of the day's headline embeddings (0: no news)
    text_count: np.ndarray          # float32 [N]: headlines that day
    price: np.ndarray               # float32 [N, len(PRICE_INPUTS)]: daily readings, then engineered features
    chart: np.ndarray               # uint8 [N, S, S]: the day's chart (0 where none); [N, 0, 0]: pixels not read
    has_chart: np.ndarray           # bool [N]
    conference_stats: np.ndarray    # float32 [C, 3 * n_mels]: each conference's log-mel statistics, once
    conference_row: np.ndarray      # int64 [C]: the row from which the conference is evidence
    recent_conferences: np.ndarray  # int64 [N, K]: conferences inside the row's window, most recent first; -1 none
    labels: np.ndarray              # float32 [N, H]: storm_{h}d, NaN unknown
    fwd_log_vol: np.ndarray         # float32 [N]
    horizons: list[int]
    window_days: int
    # per-sentence call tables (storm.features.calls), apart from the recordings' log-mels; None: a panel without any
    call_vector: np.ndarray | None = None   # float32 [C2, call_vector_dim]: each call once
    call_row: np.ndarray | None = None      # int64 [C2]: the row from which the call is evidence
    recent_calls: np.ndarray | None = None  # int64 [N, K]: calls inside the row's window, most recent first; -1 none
    # the calm reference of each row's window (storm.features.calm_reference), for explanations; NaN on rows before
    # the panel's first scored day; None: not computed (assemble_panel(with_calm_reference=False))
    price_calm: np.ndarray | None = None    # float32 [N, F], the columns of ``price``
    # the market-wide wire (storm.features.wire) each row reads, like text_day/text_count; None: no wire (zeros)
    wire_day: np.ndarray | None = None      # float32 [N, text_dim]: mean of the wire headlines read that day
    wire_count: np.ndarray | None = None    # float32 [N]: wire headlines read that day

    def __post_init__(self) -> None:
        if self.call_vector is None:
            from storm.features.calls import call_vector_dim

            self.call_vector = np.zeros((0, call_vector_dim(self.text_day.shape[1])), dtype=np.float32)
        if self.call_row is None:
            self.call_row = np.zeros(0, dtype=np.int64)
        if self.wire_day is None:  # read-only zeros that take no memory: most worlds have no wire
            self.wire_day = np.broadcast_to(np.zeros(self.text_day.shape[1:], np.float32), self.text_day.shape)
        if self.wire_count is None:
            self.wire_count = np.zeros(len(self.text_count), np.float32)
        if self.recent_calls is None:
            self.recent_calls = np.full((len(self.date), self.recent_conferences.shape[1]), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.date)

    def modalities_present(self) -> list[str]:
        """The modalities some row has evidence of (prices always): a world without news trains no news model."""
        calls = len(self.conference_row) > 0 or (self.call_row is not None and len(self.call_row) > 0)
        news = bool(np.asarray(self.text_count).sum() > 0 or np.asarray(self.wire_count).sum() > 0)
        present = {"news": news, "prices": True, "calls": calls}
        return [modality for modality in MODALITIES if present[modality]]

    def rows_on(self, dates) -> np.ndarray:
        """Row indices whose date is in ``dates`` (in panel order)."""
        return np.flatnonzero(np.isin(self.date, np.asarray(sorted(set(dates)), dtype=self.date.dtype)))

    def rows_between(self, start: str, end: str) -> np.ndarray:
        return np.flatnonzero((self.date >= start) & (self.date <= end))

    def keys(self, rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"market": self.market[rows], "date": self.date[rows]})

    def label_frame(self, rows: np.ndarray) -> pd.DataFrame:
        frame = self.keys(rows)
        for index, horizon in enumerate(self.horizons):
            frame[storm_column(horizon)] = self.labels[rows, index].astype(float)
        frame[FWD_VOL] = self.fwd_log_vol[rows].astype(float)
        return frame


def recent_conferences(conference_row: np.ndarray, market_start: np.ndarray, window_days: int, limit: int) -> np.ndarray:
    """[N, limit]: per row, the conferences of its market evidence on that row or up to window_days - 1 rows before.

    Most recent first, -1 where fewer. ``conference_row`` must be sorted (conferences in row order).
    """
    n_rows = len(market_start)
    recent = np.full((n_rows, limit), -1, dtype=np.int64)
    if len(conference_row) == 0:
        return recent
    rows = np.arange(n_rows)
    last = np.searchsorted(conference_row, rows, side="right") - 1  # the latest conference at or before each row
    for slot in range(limit):
        candidate = last - slot
        ok = candidate >= 0
        held = np.where(ok, conference_row[np.maximum(candidate, 0)], -1)
        ok &= (held >= market_start) & (rows - held < window_days)
        recent[ok, slot] = candidate[ok]
    return recent
