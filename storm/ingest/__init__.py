"""Ingest: read raw news, charts, audio and call tables with Ray Data, validate and decode each item, quarantine the rest."""

from storm.ingest.decode import RejectedInput
from storm.ingest.prices import PricesError, PricesRead, load_prices, read_prices
from storm.ingest.quarantine import read_quarantine
from storm.ingest.readers import INGESTERS, SourceIngest, ingest_audio, ingest_charts, ingest_news
from storm.ingest.calls import ingest_call_tables
from storm.ingest.report import IngestReport
from storm.ingest.run import run_ingest

# Per-sentence call tables (storm.ingest.calls) are read like every raw input: `storm ingest` and the panel see them.
INGESTERS.setdefault("calls", ingest_call_tables)

__all__ = [
    "IngestReport", "SourceIngest", "PricesError", "PricesRead", "RejectedInput", "ingest_audio", "ingest_charts",
    "ingest_call_tables", "ingest_news", "load_prices", "read_prices", "read_quarantine", "run_ingest",
]
