"""`run_ingest`: read every source for a date range, quarantine the rejects, count what is missing."""

from __future__ import annotations

import time

from storm.config import StormConfig
from storm.ingest.dates import DateRange
from storm.ingest.prices import load_prices
from storm.ingest.quarantine import quarantine_record, write_quarantine
from storm.ingest.sources import INGESTERS
from storm.ingest.report import IngestReport, missing_market_days, source_counts, trading_market_days
from storm.ray_runtime import ensure_ray
from storm.store import Layout, open_store


def run_ingest(config: StormConfig, start: str, end: str) -> IngestReport:
    """Ingest [start, end] (inclusive), replace its quarantine files, and report counts and duration.

    An unreadable prices file is quarantined (dated ``end``) and only its market is left out.
    """
    started = time.perf_counter()
    ensure_ray(config.ray)
    store = open_store(config.storage)
    layout = Layout(store)
    prices = load_prices(store, layout, dates=DateRange.of(config.ingest))
    trading = trading_market_days(prices.prices, start, end)
    report = IngestReport(start=start, end=end, counts={}, quarantine_dir=layout.quarantine_dir())
    for source, ingest in INGESTERS.items():
        result = ingest(store, layout, start, end, config.ingest, features=config.features)
        present, rejected = [], []
        if not result.nothing_listed:
            present = [(row["market"], row["date"]) for row in result.ok.select_columns(["market", "date"]).take_all()]
            rejected = result.quarantined.take_all()
        report.quarantine_files += write_quarantine(store, layout, source, rejected, start, end)
        report.counts[source] = source_counts(len(present), len(rejected), missing_market_days(trading, present))
    if prices.rejected or prices.rows_left_out:
        records = [quarantine_record(_uri(store, path), "prices", end, _market_of(path), reason)
                   for path, reason in (*prices.rejected.items(), *prices.rows_left_out.items())]
        report.quarantine_files += write_quarantine(store, layout, "prices", records, start, end)
        report.counts["prices"] = source_counts(int(prices.prices["market"].nunique()), len(records), 0)
    report.seconds = time.perf_counter() - started
    return report


def _uri(store, path: str) -> str:
    return path if store.is_local else f"{store.scheme}://{path}"


def _market_of(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".parquet")
