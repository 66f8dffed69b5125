"""Ingest: read raw news, charts and audio with Ray Data, validate and decode each item, quarantine the rest."""

from storm.ingest.decode import RejectedInput
from storm.ingest.prices import PricesError, PricesRead, load_prices, read_prices
from storm.ingest.quarantine import read_quarantine
from storm.ingest.readers import ModalityIngest, ingest_audio, ingest_charts, ingest_news
from storm.ingest.report import IngestReport
from storm.ingest.run import run_ingest

__all__ = [
    "IngestReport", "ModalityIngest", "PricesError", "PricesRead", "RejectedInput", "ingest_audio", "ingest_charts",
    "ingest_news", "load_prices", "read_prices", "read_quarantine", "run_ingest",
]
