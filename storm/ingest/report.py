"""The ingest summary: per source, how many items were good, quarantined, or missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

MarketDay = tuple[str, str]


@dataclass
class IngestReport:
    start: str
    end: str
    counts: dict[str, dict[str, int]]  # source -> {"ok", "quarantined", "missing"}
    quarantine_files: list[str] = field(default_factory=list)  # files written by this run
    quarantine_dir: str = ""
    seconds: float = 0.0
    unread: dict[str, str] = field(default_factory=dict)  # source -> why the model's panel did not read it


def trading_market_days(prices: pd.DataFrame, start: str, end: str) -> set[MarketDay]:
    """(market, date) pairs the prices say were trading days within [start, end]."""
    in_range = prices[(prices["date"] >= start) & (prices["date"] <= end)]
    return set(zip(in_range["market"], in_range["date"]))


def missing_market_days(trading: set[MarketDay], present: Iterable[MarketDay]) -> int:
    """Trading (market, day) pairs with no good item; items on non-trading days neither add nor subtract."""
    return len(trading - set(present))


def source_counts(ok: int, quarantined: int, missing: int) -> dict[str, int]:
    return {"ok": ok, "quarantined": quarantined, "missing": missing}
