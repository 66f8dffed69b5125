"""`storm import prices`: a vendor's daily prices into raw/prices/<market>.parquet.

Two shapes come in: one Yahoo-style CSV per ticker (``Date,Open,High,Low,Close,Adj
Close,Volume``, the ticker from the file name), or one long table with a ticker
column (CSV or Parquet). Rows that cannot be a trading day (bad date, a price that
is missing, non-numeric, not finite or not positive, high below low, negative
volume) are rejected with file and line; duplicate dates (the last row kept) and
unsorted rows are repaired and counted; a missing volume becomes 0, counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from storm.importing.report import ImportReport
from storm.importing.rows import iter_chunks, read_columns
from storm.importing.spool import Spool
from storm.ingest.dates import DateRange
from storm.schema import PRICE_COLUMNS
from storm.store import Layout, ObjectStore

OHLC = ("open", "high", "low", "close")
ADJ_CLOSE = "adj close"
TICKER_COLUMNS = ("ticker", "symbol", "market")
MIN_HISTORY_DAYS = 2  # fewer: nothing to label; the panel says more (features.min_history_days)


@dataclass(frozen=True)
class PricesImport:
    name: str = "prices"
    adjust: bool = False            # scale OHLC by Adj Close / Close where the file has both
    ticker_column: str | None = None  # long table: which column names the ticker (default: ticker/symbol/market)
    start: str | None = None
    end: str | None = None
    tickers: frozenset[str] | None = None  # only these (vendor spelling or market name); None: every ticker
    dates: DateRange = field(default_factory=DateRange.default)  # the days a row may carry (ingest.earliest_date …)


def price_files(paths: list[Path]) -> list[Path]:
    """Files as given, folders expanded to their CSV/Parquet files (sorted: a rerun reads the same order)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and _is_table(p))
        else:
            found.append(path)
    return found


def import_prices(paths: list[Path], spec: PricesImport, store: ObjectStore, layout: Layout) -> ImportReport:
    files = price_files(paths)
    report = ImportReport(kind="prices", name=spec.name, sources=[str(f) for f in files])
    with Spool() as spool:
        for path in files:
            _spool_file(path, spec, spool, report)
        for market, records in spool.groups():
            if spec.tickers is not None and not ({market, report.markets.get(market)} & spec.tickers):
                report.counts["rows_of_other_tickers"] += len(records)
                report.markets.pop(market, None)
                continue
            table = _market_table(pd.DataFrame.from_records(records), report)
            if len(table) < MIN_HISTORY_DAYS:
                report.notes.append(f"{market}: {len(table)} good trading day(s); not written")
                continue
            if len(table) < 80:
                report.notes.append(f"{market}: only {len(table)} trading days of history")
            path = layout.prices(market)
            store.write_table(path, table.reset_index(drop=True))
            report.objects.append(path)
            report.counts["markets_written"] += 1
            report.counts["days_written"] += len(table)
    report.write(store, layout)
    return report


def _spool_file(path: Path, spec: PricesImport, spool: Spool, report: ImportReport) -> None:
    header = read_columns(path)
    lowered = {str(c).strip().lower(): c for c in header}
    ticker_column = _ticker_column(lowered, spec)
    fixed = None
    if ticker_column is None:
        stem = path.name.split(".csv")[0].split(".parquet")[0] if path.suffix.lower() != ".pq" else path.stem
        fixed = report.names[stem]
        if isinstance(fixed, Exception):
            report.notes.append(f"{path}: skipped, the file name is no ticker we can use ({fixed})")
            return
        report.markets[fixed] = stem
    wanted = {name: lowered[name] for name in ("date", *OHLC, "volume", ADJ_CLOSE) if name in lowered}
    missing = [c for c in ("date", *OHLC) if c not in wanted]
    if missing:
        report.notes.append(f"{path}: skipped, no column(s) {missing} (it has {header})")
        return
    if spec.adjust and ADJ_CLOSE not in wanted:
        report.notes.append(f"{path}: --adjust asked, but the file has no 'Adj Close' column; prices left as given")
    columns = list(wanted.values()) + ([ticker_column] if ticker_column else [])
    for chunk in iter_chunks(path, columns):
        report.add_rejects(chunk.rejects)
        report.counts["rows"] += chunk.read
        rows = chunk.rows.rename(columns={v: k for k, v in wanted.items()})
        for record in _good_rows(rows, str(path), spec, fixed, ticker_column, report):
            spool.add(record.pop("market"), record)


def _ticker_column(lowered: dict[str, str], spec: PricesImport) -> str | None:
    if spec.ticker_column:
        if spec.ticker_column.lower() not in lowered:
            raise ValueError(f"--ticker-column {spec.ticker_column!r} is not a column (have {sorted(lowered)})")
        return lowered[spec.ticker_column.lower()]
    return next((lowered[name] for name in TICKER_COLUMNS if name in lowered), None)


def _good_rows(rows: pd.DataFrame, source: str, spec: PricesImport, fixed: str | None, ticker_column: str | None,
               report: ImportReport):
    day = _days(rows["date"])
    numbers = {c: pd.to_numeric(rows[c], errors="coerce") for c in (*OHLC, "volume", ADJ_CLOSE) if c in rows}
    if spec.adjust and ADJ_CLOSE in numbers:
        factor = numbers[ADJ_CLOSE] / numbers["close"]
        for column in OHLC:
            numbers[column] = numbers[column] * factor
    volume = numbers.get("volume", pd.Series(np.nan, index=rows.index))
    reasons = _problems(day, {c: numbers[c] for c in OHLC}, volume)
    beyond = reasons.isna().to_numpy(bool) & spec.dates.outside(day)
    reasons[beyond] = [spec.dates.reason(d) for d in day[beyond]]
    text = day.fillna("")
    outside = reasons.isna() & (((text < spec.start) if spec.start else False) | ((text > spec.end) if spec.end else False))
    report.counts["outside_dates"] += int(outside.sum())
    markets = _markets(rows[ticker_column], report) if ticker_column else [fixed] * len(rows)
    columns = [rows["line"].tolist(), reasons.tolist(), outside.tolist(), markets, day.tolist(),
               *(numbers[c].tolist() for c in OHLC), volume.tolist()]
    for line, reason, skip, market, date, open_, high, low, close, vol in zip(*columns):
        if skip:
            continue
        if reason is None and isinstance(market, Exception):
            reason = f"bad ticker ({market})"
        if reason is not None:
            report.reject(source, line, reason)
            continue
        if not np.isfinite(vol):
            report.repairs["missing volume set to 0"] += 1
            vol = 0.0
        yield {"market": market, "date": date, "open": open_, "high": high, "low": low, "close": close,
               "volume": vol, "order": [source, int(line)]}


def _markets(tickers: pd.Series, report: ImportReport) -> list:
    """Each row's market name, or the error saying why its ticker names none; good names join the manifest."""
    markets = [report.names[ticker] for ticker in tickers.astype("string").fillna("").str.strip()]
    for ticker, name in report.names.items():
        if not isinstance(name, ValueError):
            report.markets.setdefault(name, ticker)
    return markets


def _days(values: pd.Series) -> pd.Series:
    """Each value's day as YYYY-MM-DD (None where no date): in bulk, else value by value, so one value pandas
    cannot parse (mixed time zones, an overflow) makes a bad row, never a failed import."""
    text = values.astype("string")
    try:
        return _day_text(pd.to_datetime(text, format="mixed", errors="coerce"))
    except (ValueError, TypeError, OverflowError):
        pass
    days = []
    for value in text:
        try:
            days.append(_day_text(pd.to_datetime(pd.Series([value], dtype="string"), format="mixed",
                                                 errors="coerce")).iloc[0])
        except (ValueError, TypeError, OverflowError):
            days.append(None)
    return pd.Series(days, index=values.index, dtype=object)


def _day_text(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype(object).where(dates.notna(), None)


def _problems(days: pd.Series, prices: dict[str, pd.Series], volume: pd.Series) -> pd.Series:
    """The first reason each row cannot be a trading day, else None (vectorised)."""
    conditions, reasons = [days.isna()], ["bad date"]
    for column, value in prices.items():
        conditions.append(~np.isfinite(value.to_numpy(np.float64)))
        reasons.append(f"{column} is missing or not a number")
    for column, value in prices.items():
        conditions.append(value.to_numpy(np.float64) <= 0)
        reasons.append(f"{column} is not positive")
    conditions.append(prices["high"].to_numpy(np.float64) < prices["low"].to_numpy(np.float64))
    reasons.append("high below low")
    conditions.append(volume.to_numpy(np.float64) < 0)
    reasons.append("negative volume")
    chosen = np.select([np.asarray(c, dtype=bool) for c in conditions], reasons, default="")
    return pd.Series([reason or None for reason in chosen.tolist()], index=days.index, dtype=object)


def _market_table(records: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    """PRICE_COLUMNS sorted by date; of duplicate dates the last row read is kept (counted as repairs)."""
    if not records["date"].is_monotonic_increasing:
        report.repairs["markets with unsorted rows, sorted"] += 1
    records = records.assign(source=records["order"].str[0], line=records["order"].str[1])
    records = records.sort_values(["date", "source", "line"], kind="stable")
    duplicates = int(records.duplicated("date", keep="last").sum())
    if duplicates:
        report.repairs["duplicate dates, last row kept"] += duplicates
    table = records.drop_duplicates("date", keep="last")[list(PRICE_COLUMNS)]
    table = table.astype({c: np.float64 for c in PRICE_COLUMNS[1:]})
    gaps = np.diff(pd.to_datetime(table["date"]).to_numpy()).astype("timedelta64[D]").astype(int) if len(table) > 1 else []
    long_gaps = int(np.sum(np.asarray(gaps) > 10))
    if long_gaps:
        report.repairs["gaps over 10 calendar days (left as gaps: no day is invented)"] += long_gaps
    return table


def _is_table(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".csv", ".csv.gz", ".parquet", ".pq"))
