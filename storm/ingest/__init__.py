"""Ingest: read raw news, charts, audio and call tables with Ray Data, validate and decode each item, quarantine the rest.

Names are loaded on first use, so a decoder (storm.ingest.audio, .decode) is imported without Ray: the per-sentence
voice features of a recording run in a small process (storm.features.voice).
"""

from __future__ import annotations

import importlib

_OWNERS = {
    "IngestReport": "storm.ingest.report", "PricesError": "storm.ingest.prices", "PricesRead": "storm.ingest.prices",
    "NoPricesError": "storm.ingest.prices", "load_prices": "storm.ingest.prices", "read_prices": "storm.ingest.prices",
    "RejectedInput": "storm.ingest.errors",
    "read_quarantine": "storm.ingest.quarantine", "SourceIngest": "storm.ingest.readers",
    "ingest_audio": "storm.ingest.readers", "ingest_charts": "storm.ingest.readers", "ingest_news": "storm.ingest.readers",
    "ingest_wire": "storm.ingest.readers",
    "ingest_call_tables": "storm.ingest.calls", "INGESTERS": "storm.ingest.sources", "run_ingest": "storm.ingest.run",
}
__all__ = sorted(_OWNERS)


def __getattr__(name: str):
    if name in _OWNERS:
        return getattr(importlib.import_module(_OWNERS[name]), name)
    raise AttributeError(f"module 'storm.ingest' has no attribute {name!r}")
