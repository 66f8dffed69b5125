"""Every raw source's Ray Data reader by source name (storm.store.layout.SOURCES): what run_ingest and the
evidence panel read, in this order."""

from __future__ import annotations

from typing import Callable

from storm.ingest.calls import ingest_call_tables
from storm.ingest.readers import SourceIngest, ingest_audio, ingest_charts, ingest_news, ingest_wire

INGESTERS: dict[str, Callable[..., SourceIngest]] = {
    "news": ingest_news, "charts": ingest_charts, "audio": ingest_audio, "calls": ingest_call_tables,
    "wire": ingest_wire,
}
MARKET_WIDE_SOURCES = ("wire",)  # items without a market: every market reads them (their rows' market is "")
