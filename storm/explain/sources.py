"""What names the items of a batch of panel windows: their days' dates, their calls' dates, their calm price
references and their headlines (pure numpy over the evidence panel)."""

from __future__ import annotations

import numpy as np

from storm.explain.headlines import HeadlineBook
from storm.explain.items import ItemSources
from storm.features.evidence_panel import EvidencePanel


def item_sources(panel: EvidencePanel, rows: np.ndarray, headlines: HeadlineBook | None = None) -> ItemSources:
    """The ItemSources of the windows ending on ``rows`` (gathered as storm.features.windows gathers them)."""
    rows = np.asarray(rows, dtype=np.int64)
    days = rows[:, None] - np.arange(panel.window_days - 1, -1, -1)[None, :]
    inside = days >= panel.market_start[rows][:, None]
    window_dates = np.where(inside, panel.date[np.maximum(days, 0)], "")
    return ItemSources(
        headlines=headlines.for_windows(panel, rows) if headlines is not None else None,
        call_dates={"audio_valid": _dates_of(panel, panel.recent_conferences[rows], panel.conference_row),
                    "call_valid": _dates_of(panel, panel.recent_calls[rows], panel.call_row)},
        price_calm=panel.price_calm[rows] if panel.price_calm is not None else None,
        window_dates=window_dates,
    )


def _dates_of(panel: EvidencePanel, slots: np.ndarray, evidence_row: np.ndarray) -> list[list[str]]:
    """Per window, per call slot (most recent first): the day the call became evidence; "" for an empty slot."""
    return [[str(panel.date[evidence_row[c]]) if c >= 0 else "" for c in window] for window in slots]
