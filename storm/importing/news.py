"""`storm import news`: a news or social feed (CSV/Parquet) into raw/news/date=D/<name>.jsonl, or a market-wide
feed (``--market-wide``: a wire every market reads) once into raw/wire/date=D/<name>.jsonl, never copied per market.

Each item is assigned to the first market close at or after its timestamp
(storm.importing.timestamps), so nothing published after the bell informs that
day's score; a time written without a zone is the market's local time unless
the user names another zone, and the report says which zone and how many rows. Retweets and exact repeats of one text for one market-day are
dropped and counted, an optional relevance pattern thins a firehose, and every
row that cannot be an item is rejected with its file, line and reason. Items are
spooled per date in sorted runs and each date is written from their merge, so a
busy day is never held in memory as items (only its finished file, once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import deque
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from storm.printable import printable_column
from storm.importing.report import ImportReport
from storm.importing.rows import iter_chunks
from storm.importing.spool import Spool
from storm.importing.timestamps import MarketClose, close_dates, parse_timestamps
from storm.ingest.dates import DateRange
from storm.store import Layout, ObjectStore

_RETWEET = re.compile(r"^\s*RT\s+@\w+:?\s*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
MAX_ITEM_CHARS = 2000  # as ingest.max_headline_chars: a longer "headline" is a broken row


@dataclass(frozen=True)
class NewsColumns:
    """Where each field is in the user's file; ``market`` None means a market-wide feed (``market_name`` given).

    ``time`` holds the timestamp (or a date alone); with ``date`` set, ``date`` holds the day and ``time`` the time of
    day (as vendors ship them: "2016-03-14" and "16:05" or "4:05 PM EDT"), read together as one timestamp."""

    time: str = "date"
    text: str = "headline"
    date: str | None = None
    market: str | None = None
    id: str | None = None
    market_name: str | None = None


@dataclass(frozen=True)
class NewsImport:
    name: str                                 # the import's name: raw/news/date=D/<name>.jsonl
    columns: NewsColumns = field(default_factory=NewsColumns)
    close: MarketClose = field(default_factory=MarketClose)
    naive_tz: str | None = None               # zone of timestamps written without one; None: the market's (close.tz)
    date_only_before_close: bool = False
    keep: str | None = None                   # relevance filter (regex, case-insensitive) on the text
    max_per_day: int | None = None            # firehose cap: the latest N items of a market-day before its close
    start: str | None = None
    end: str | None = None
    dates: DateRange = field(default_factory=DateRange.default)  # the days an item may inform (ingest.earliest_date …)
    market_wide: bool = False                 # every market's feed: stored once under raw/wire, lines without market

    @property
    def kind(self) -> str:
        """What the import writes: news (per market) or wire (market-wide); its manifest and quarantine say so."""
        return "wire" if self.market_wide else "news"


def dedup_key(text: str) -> str:
    """A retweet and its original, or two spacings of one text, share a key."""
    return _SPACE.sub(" ", _RETWEET.sub("", text)).strip().casefold()


def import_news(files: list[Path], spec: NewsImport, store: ObjectStore, layout: Layout) -> ImportReport:
    """Write the feed's items per date, replacing this import's earlier files; returns what happened."""
    columns = spec.columns
    if spec.market_wide and (columns.market is not None or columns.market_name is not None):
        raise ValueError("a market-wide feed (--market-wide) is every market's: give neither --market-column nor "
                         "--market")
    if not spec.market_wide and (columns.market is None) == (columns.market_name is None):
        raise ValueError("give a market column (--market-column), one market for all items (--market), or "
                         "--market-wide for a feed every market reads")
    report = ImportReport(kind=spec.kind, name=spec.name, sources=[str(f) for f in files])
    fixed_market = report.names[columns.market_name] if columns.market_name else None
    if isinstance(fixed_market, Exception):
        raise fixed_market
    if fixed_market:
        report.markets[fixed_market] = columns.market_name
    keep = re.compile(spec.keep, re.IGNORECASE) if spec.keep else None
    wanted = list(dict.fromkeys(c for c in (columns.date, columns.time, columns.text, columns.market, columns.id) if c))
    with Spool(order=_publication_order) as spool:
        for path in files:
            for chunk in iter_chunks(path, wanted):
                report.add_rejects(chunk.rejects)
                report.counts["rows"] += chunk.read
                for record in _items(chunk.rows, str(path), spec, fixed_market, keep, report):
                    spool.add(record["date"], record)
        written = []
        for date, records in spool.streams():
            kept = _cap_per_day(_drop_repeats(records, report), spec.max_per_day, report)
            path = layout.wire_file(date, spec.name) if spec.market_wide else layout.news_file(date, spec.name)
            store.write_bytes(path, _day_file(kept, spool.scratch("day.jsonl"), report))
            written.append(path)
    previous = layout.wire_files(spec.name) if spec.market_wide else layout.news_files(spec.name)
    stale = sorted(set(previous) - set(written))
    store.delete(stale)
    _note_naive_zone(spec, report)
    report.counts["dates"] = len(written)
    report.counts["stale_files_removed"] = len(stale)
    report.objects = written
    report.write(store, layout)
    return report


def _items(rows: pd.DataFrame, source: str, spec: NewsImport, fixed_market: str | None, keep, report: ImportReport):
    columns = spec.columns
    text = printable_column(rows[columns.text].astype("string")).fillna("").str.strip()
    stamps = timestamp_text(rows, columns)
    times = parse_timestamps(stamps, naive_zone(spec))
    report.counts["naive_times"] += int(times.naive.sum())
    dates = close_dates(times, spec.close, spec.date_only_before_close)
    markets = _markets(rows, columns, fixed_market, report)
    ids = (printable_column(rows[columns.id].astype("string")).fillna("") if columns.id
           else pd.Series("", index=rows.index))
    published = times.utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw_markets = rows[columns.market].astype("string").fillna("").str.strip() if columns.market else None
    lists = [rows["line"].tolist(), dates.tolist(), markets, text.tolist(), times.bad.tolist(), ids.tolist(),
             published.tolist(), stamps.tolist(), raw_markets.tolist() if raw_markets is not None else markets]
    for line, date, market, item, bad, item_id, stamp, raw_time, spelled in zip(*lists):
        if bad or date is None:
            report.reject(source, line, f"bad timestamp ({str(raw_time)[:40]!r})")
        elif not spec.dates.contains(date):
            report.reject(source, line, spec.dates.reason(date))
        elif isinstance(market, Exception):
            report.reject(source, line, f"bad ticker ({market})")
        elif not item:
            report.reject(source, line, "empty text")
        elif len(item) > MAX_ITEM_CHARS:
            report.reject(source, line, f"text of {len(item)} characters (limit {MAX_ITEM_CHARS})")
        elif (spec.start and date < spec.start) or (spec.end and date > spec.end):
            report.counts["outside_dates"] += 1
        elif keep is not None and not keep.search(item):
            report.counts["filtered_out"] += 1
        else:
            if not spec.market_wide:
                report.markets.setdefault(market, market if fixed_market else spelled)
            yield {"date": date, "market": market, "headline": item, "id": str(item_id),
                   "published": stamp if isinstance(stamp, str) else None, "key": dedup_key(item),
                   "order": (source, int(line))}


def naive_zone(spec: NewsImport) -> str:
    """The zone a time written without one is read in: ``--naive-tz``, else the market's own (its close's zone)."""
    return spec.naive_tz or spec.close.tz


def _note_naive_zone(spec: NewsImport, report: ImportReport) -> None:
    """Say which zone the import assumed, so a vendor's 16:05 read in the wrong zone is visible, not silent."""
    naive = report.counts["naive_times"]
    if naive:
        source = "--naive-tz" if spec.naive_tz else "the market's time zone, --tz; --naive-tz reads them in another"
        report.notes.append(f"{naive:,} times without a zone were read in {naive_zone(spec)} ({source})")


def timestamp_text(rows: pd.DataFrame, columns: NewsColumns) -> pd.Series:
    """Each row's timestamp as text: the time column, or the date column and the time column joined by a space.

    A date stored as a date or a midnight timestamp (Parquet, a spreadsheet's export) gives its day; a time stored
    as a time of day gives HH:MM:SS; an empty time leaves the date alone (a date-only item)."""
    if columns.date is None:
        return rows[columns.time]
    days = rows[columns.date].map(_day_text)
    times = rows[columns.time].map(_time_of_day_text)
    return (days + " " + times).where(times != "", days).where(days != "", "")


_MIDNIGHT = re.compile(r"^(\S+)[ T]00:00(?::00(?:\.0*)?)?$")


def _day_text(value) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    if hasattr(value, "strftime"):  # datetime.date, datetime.datetime, pd.Timestamp
        return value.strftime("%Y-%m-%d")
    text = str(value).strip()
    midnight = _MIDNIGHT.match(text)
    return midnight.group(1) if midnight else text


def _time_of_day_text(value) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, pd.Timedelta):  # a time-of-day column some writers store as a duration since midnight
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if 0 <= seconds < 86400 else "bad"
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.datetime):  # a time stored on a placeholder day (a spreadsheet's 1899-12-30 16:05)
        return value.strftime("%H:%M:%S%z")
    return str(value).strip()


def _markets(rows: pd.DataFrame, columns: NewsColumns, fixed_market: str | None, report: ImportReport) -> list:
    """Each row's market name, or the error saying why its ticker names none (or collides with another's); "" for
    every row of a market-wide feed."""
    if columns.market is None and fixed_market is None:
        return [""] * len(rows)
    if fixed_market:
        return [fixed_market] * len(rows)
    return [report.names[ticker] for ticker in rows[columns.market].astype("string").fillna("").str.strip()]


def _publication_order(record: dict) -> tuple:
    """The order a day's items are kept and written in: by market, then publication time, then file and line."""
    return record["market"], record["published"] or "", record["order"][0], record["order"][1]


def _drop_repeats(records: Iterable[dict], report: ImportReport) -> Iterator[dict]:
    """The first of each (market, text key) of a day by publication time; later copies counted as duplicates.

    Records come in _publication_order, so only one market's keys are remembered at a time, as digests.
    """
    market, seen = None, set()
    for record in records:
        if record["market"] != market:
            market, seen = record["market"], set()
        digest = hashlib.blake2b(record["key"].encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if digest in seen:
            report.counts["duplicates_dropped"] += 1
            continue
        seen.add(digest)
        yield record


def _cap_per_day(records: Iterable[dict], cap: int | None, report: ImportReport) -> Iterator[dict]:
    """At most ``cap`` items per market on a day: the latest ones (closest to the close they inform)."""
    if cap is None:
        yield from records
        return
    for _, group in groupby(records, key=lambda r: r["market"]):
        latest, count = deque(maxlen=cap), 0
        for record in group:
            latest.append(record)
            count += 1
        report.counts["over_daily_cap"] += max(0, count - cap)
        yield from latest


def _day_file(records: Iterable[dict], scratch: Path, report: ImportReport) -> bytes:
    """The day's JSONL, built in a scratch file so the items are never all in memory (the finished bytes are)."""
    with scratch.open("w", encoding="utf-8") as day:
        for record in records:
            day.write(json.dumps(_public(record), ensure_ascii=False, sort_keys=True) + "\n")
            report.counts["items_written"] += 1
    return scratch.read_bytes()


def _public(record: dict) -> dict:
    """What raw/news holds of an item (storm.schema.NEWS_FIELDS and its publication time); raw/wire the same without
    a market (WIRE_FIELDS)."""
    item = {"market": record["market"], "date": record["date"], "headline": record["headline"]}
    if not record["market"]:
        del item["market"]
    if record["id"]:
        item["id"] = record["id"]
    if record["published"]:
        item["published"] = record["published"]
    return item
