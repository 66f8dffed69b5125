"""A raw window, validated: the stored prices and each source's items over [start, end], rejects quarantined.

The one ingest path. `storm ingest` (storm.ingest.run) and the evidence evaluate, train and scan build
(storm.features.panel) both read prices and sources here, so an unreadable prices file or a bad item gets the same
quarantine record whichever command met it, and a store without readable prices fails with one error
(NoPricesError). Featurising what passed is storm.features' part.
"""

from __future__ import annotations

import pandas as pd

from storm.config import FeatureConfig, IngestConfig
from storm.ingest.dates import DateRange
from storm.ingest.prices import NoPricesError, PricesRead, load_prices, market_of_file
from storm.ingest.quarantine import quarantine_record, write_quarantine
from storm.ingest.readers import SourceIngest
from storm.ingest.report import IngestReport, source_counts
from storm.ingest.sources import INGESTERS
from storm.store import Layout, ObjectStore
from storm.store.layout import partition

PRICES = "prices"  # the quarantine source of unreadable prices files and left-out price rows


def stored_prices(store: ObjectStore, layout: Layout, ingest: IngestConfig) -> PricesRead:
    """Every readable prices file, its rows within ``ingest``'s dates (one bad file drops only its market), and
    apart what was left out; NoPricesError when nothing is readable."""
    loaded = load_prices(store, layout, dates=DateRange.of(ingest))
    if loaded.prices.empty:
        raise no_prices(layout, len(loaded.rejected))
    return loaded


def quarantine_prices(store: ObjectStore, layout: Layout, loaded: PricesRead, start: str, end: str,
                      report: IngestReport) -> pd.DataFrame:
    """Replace the window's prices quarantine with one record (dated ``end``) per unreadable file or file read in
    part; returns the readable prices, or raises NoPricesError (after quarantining) when there are none.
    A window whose start or end is no YYYY-MM-DD date is refused first, before anything is written."""
    for day in (start, end):
        partition(day)  # the ValueError names the date
    records = [quarantine_record(_uri(store, path), PRICES, end, market_of_file(path), reason)
               for path, reason in (*loaded.rejected.items(), *loaded.rows_left_out.items())]
    report.quarantine_files += write_quarantine(store, layout, PRICES, records, start, end)
    if records:
        report.counts[PRICES] = source_counts(int(loaded.prices["market"].nunique()), len(records), 0)
    if loaded.prices.empty:
        raise no_prices(layout, len(loaded.rejected))
    return loaded.prices


def ingest_source(source: str, store: ObjectStore, layout: Layout, ingest: IngestConfig, features: FeatureConfig,
                  read_from: str, end: str, known: frozenset[str] = frozenset()) -> SourceIngest:
    """Read and validate ``source``'s items dated [read_from, end] (``known`` hashes are checked, not decoded).

    Use what passed first, then ``quarantine_source``: the good rows are read in the order the decode left them,
    which decides how headlines batch for embedding (and so the last bits of a bf16 embedding)."""
    return INGESTERS[source](store, layout, read_from, end, ingest, features=features, known=known)


def quarantine_source(store: ObjectStore, layout: Layout, source: str, ingested: SourceIngest, read_from: str,
                      start: str, end: str, report: IngestReport) -> None:
    """Replace ``source``'s quarantine over [read_from, end] with what ``ingested`` rejected, and count the rejects
    dated [start, end] into ``report`` (its ok and missing counts are the caller's)."""
    rejected = [] if ingested.nothing_listed else ingested.quarantined.take_all()
    report.quarantine_files += write_quarantine(store, layout, source, rejected, read_from, end)
    report.counts[source] = source_counts(0, sum(start <= str(r["date"]) <= end for r in rejected), 0)


def no_prices(layout: Layout, unreadable: int = 0) -> NoPricesError:
    """The error of a store without readable prices (``unreadable``: how many files there could not be read)."""
    why = f" ({unreadable} file(s) there unreadable)" if unreadable else ""
    return NoPricesError(f"no prices under {layout.prices_dir()}{why}; generate a world first (storm generate) "
                         "or import your prices (storm import prices)")


def _uri(store: ObjectStore, path: str) -> str:
    return path if store.is_local else f"{store.scheme}://{path}"
