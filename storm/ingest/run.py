"""`run_ingest` (`storm ingest`): validate every source over a date range, quarantine the rejects, count what is missing.

The reading and quarantining are storm.ingest.window's, the same as the evidence of evaluate, train and scan;
`storm ingest` validates every source, including those the configured model would not read, and decodes
without featurising.
"""

from __future__ import annotations

import time

from storm.config import StormConfig
from storm.ingest.dates import DateRange
from storm.ingest.prices import load_prices
from storm.ingest.report import IngestReport, missing_market_days, trading_market_days
from storm.ingest.sources import INGESTERS, MARKET_WIDE_SOURCES
from storm.ingest.window import ingest_source, quarantine_prices, quarantine_source
from storm.ray_runtime import ensure_ray
from storm.store import Layout, open_store


def run_ingest(config: StormConfig, start: str, end: str) -> IngestReport:
    """Ingest [start, end] (inclusive), replace its quarantine files, and report counts and duration.

    An unreadable prices file is quarantined (dated ``end``) and only its market is left out; with no readable
    prices at all, NoPricesError after quarantining.
    """
    started = time.perf_counter()
    ensure_ray(config.ray)
    store = open_store(config.storage)
    layout = Layout(store)
    report = IngestReport(start=start, end=end, counts={}, quarantine_dir=layout.quarantine_dir())
    prices = quarantine_prices(store, layout, load_prices(store, layout, dates=DateRange.of(config.ingest)),
                               start, end, report)
    trading = trading_market_days(prices, start, end)
    for source in INGESTERS:
        ingested = ingest_source(source, store, layout, config.ingest, config.features, start, end)
        present = [] if ingested.nothing_listed else [
            (row["market"], row["date"]) for row in ingested.ok.select_columns(["market", "date"]).take_all()]
        quarantine_source(store, layout, source, ingested, start, start, end, report)
        if source in MARKET_WIDE_SOURCES:  # a market-wide item is every market's item of its day
            dates = {date for _, date in present}
            present = [(market, date) for market, date in trading if date in dates]
        report.counts[source].update(ok=len(present), missing=missing_market_days(trading, present))
    report.seconds = time.perf_counter() - started
    return report
