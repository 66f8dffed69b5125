"""`storm import prices|news|calls`: a user's own data into the object store's raw layout."""

from __future__ import annotations

import errno
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from storm.cli.common import ConfigOption, SetOption, build_config
from storm.printable import printable

import_app = typer.Typer(help="Import your own prices, news and calls into the raw layout (idempotent, streaming).",
                         no_args_is_help=True)
RootOption = typer.Option(None, "--root", help="Object-store root (local path or s3://bucket/prefix).")
NameOption = typer.Option(None, "--name", help="Name of this import (its files in the store); default from the file.")


def register(app: typer.Typer) -> None:
    from storm.cli import import_calls_cmd

    import_calls_cmd.register(import_app)
    app.add_typer(import_app, name="import")


@import_app.command("prices")
def prices(
    paths: list[Path] = typer.Argument(..., help="Per-ticker CSVs (Yahoo style), folders of them, or a long table "
                                                 "(CSV/Parquet) with a ticker column."),
    adjust: bool = typer.Option(False, "--adjust", help="Scale open/high/low/close by Adj Close / Close."),
    ticker_column: Optional[str] = typer.Option(None, "--ticker-column", help="Long table: the ticker column "
                                                "(default: ticker, symbol or market)."),
    tickers: Optional[str] = typer.Option(None, "--tickers", help="Only these tickers (vendor spelling or market "
                                                                 "name), comma list."),
    start: Optional[str] = typer.Option(None, "--start", help="Keep days on or after YYYY-MM-DD."),
    end: Optional[str] = typer.Option(None, "--end", help="Keep days on or before YYYY-MM-DD."),
    name: Optional[str] = NameOption,
    root: Optional[str] = RootOption,
    config: Optional[Path] = ConfigOption,
    overrides: Optional[list[str]] = SetOption,
) -> None:
    """Daily OHLCV into raw/prices/<market>.parquet; bad rows rejected with file and line, repairs counted."""
    from storm.importing.prices import PricesImport, import_prices

    chosen = frozenset(t.strip() for t in tickers.split(",") if t.strip()) if tickers else None
    spec = PricesImport(name=name or "prices", adjust=adjust, ticker_column=ticker_column, start=start, end=end,
                        tickers=chosen)
    _run("prices", lambda store, layout, dates: import_prices(paths, replace(spec, dates=dates), store, layout),
         config, overrides, root)


@import_app.command("news")
def news(
    files: list[Path] = typer.Argument(..., help="CSV / CSV.gz / Parquet files of the feed."),
    time_column: Optional[str] = typer.Option(None, "--time-column",
                                              help="Timestamp (or date) column (default: date); with --date-column, "
                                                   "the time-of-day column (16:05, 4:05 PM, 16:05 EDT)."),
    date_column: Optional[str] = typer.Option(None, "--date-column",
                                              help="The date column, when dates and times are in separate columns "
                                                   "(the time column is --time-column); alone, like --time-column."),
    text_column: str = typer.Option("headline", "--text-column", help="Text column."),
    market_column: Optional[str] = typer.Option(None, "--market-column", help="Ticker column (per-market feeds)."),
    market: Optional[str] = typer.Option(None, "--market", help="One market for every item (a single market's feed)."),
    market_wide: bool = typer.Option(False, "--market-wide",
                                     help="A feed every market reads (a wire): stored once under raw/wire, each "
                                          "item on every market's first trading day at or after its close."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Item id column (kept with the item)."),
    close: str = typer.Option("16:00", "--close", help="Market close, local time HH:MM."),
    tz: str = typer.Option("America/New_York", "--tz", help="The market's time zone (IANA)."),
    naive_tz: Optional[str] = typer.Option(None, "--naive-tz", help="Zone (IANA) of times written without one "
                                                                    "(default: the market's --tz)."),
    date_only_before_close: bool = typer.Option(False, "--date-only-before-close",
                                                help="A date without time is before that day's close "
                                                     "(default: it informs the next day)."),
    keep: Optional[str] = typer.Option(None, "--keep", help="Relevance filter: keep texts matching this regex "
                                                            "(case-insensitive)."),
    max_per_day: Optional[int] = typer.Option(None, "--max-per-day", min=1,
                                              help="Keep at most N items per market-day: the latest before its close."),
    start: Optional[str] = typer.Option(None, "--start", help="Keep items informing days on or after YYYY-MM-DD."),
    end: Optional[str] = typer.Option(None, "--end", help="... on or before YYYY-MM-DD."),
    name: Optional[str] = NameOption,
    root: Optional[str] = RootOption,
    config: Optional[Path] = ConfigOption,
    overrides: Optional[list[str]] = SetOption,
) -> None:
    """Items into raw/news/date=D/<name>.jsonl (market-wide: raw/wire/date=D/<name>.jsonl, once), each on the first
    close at or after its timestamp."""
    from storm.importing.news import NewsColumns, NewsImport, import_news
    from storm.importing.timestamps import MarketClose, check_zone

    try:
        if naive_tz is not None:
            check_zone(naive_tz, "--naive-tz")
        spec = NewsImport(name=name or _default_name(files[0]),
                          columns=NewsColumns(time=time_column or date_column or "date",
                                              date=date_column if time_column else None, text=text_column,
                                              market=market_column, id=id_column, market_name=market),
                          close=MarketClose.parse(close, tz), naive_tz=naive_tz,
                          date_only_before_close=date_only_before_close, keep=keep, max_per_day=max_per_day,
                          start=start, end=end, market_wide=market_wide)
    except ValueError as err:
        typer.secho(str(err), fg="red", err=True)
        raise typer.Exit(2) from None
    _run(spec.kind, lambda store, layout, dates: import_news(files, replace(spec, dates=dates), store, layout),
         config, overrides, root)


def _default_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in stem).strip("_-") or "news"


def _run(kind: str, action, config: Optional[Path], overrides: Optional[list[str]], root: Optional[str]) -> None:
    """``action(store, layout, dates)`` with the store and the stored-date range (ingest.*) of the config."""
    from storm.importing.crosscheck import cross_check
    from storm.importing.rows import TableError
    from storm.ingest.dates import DateRange
    from storm.store import Layout, open_store

    settings = build_config(config, overrides, **{"storage.root": root})
    store = open_store(settings.storage)
    began = time.perf_counter()
    try:
        report = action(store, Layout(store), DateRange.of(settings.ingest))
    except (TableError, ValueError, FileNotFoundError) as err:
        typer.secho(f"storm import {kind}: {printable(str(err))}", fg="red", err=True)
        raise typer.Exit(2) from None
    except OSError as err:
        if not is_disk_full(err):
            raise
        typer.secho(disk_full_message(kind, store.uri, err), fg="red", err=True)
        raise typer.Exit(2) from None
    print_report(report, time.perf_counter() - began, cross_check(report, store, Layout(store)))


def is_disk_full(err: OSError) -> bool:
    """No space (or quota, or file-size limit) left for the spool or the store."""
    return err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_full_message(kind: str, root: str, err: OSError) -> str:
    """One line for a full disk: where the import writes, and that rerunning it is safe."""
    return (f"storm import {kind}: the disk is full ({err.strerror or os.strerror(err.errno)}). The import writes the "
            f"store ({root}) and spools its rows under {tempfile.gettempdir()} (TMPDIR); free space on them, or set "
            "TMPDIR to a larger disk, and run the same command again: it replaces what this run wrote.")


def print_report(report, seconds: float, checks: list[str] = ()) -> None:
    """The counts, reasons, notes and the cross-checks against the stored prices (storm.importing.crosscheck); their
    text comes from the data, so it is printed as text, never as markup."""
    table = Table(title=f"storm import {report.kind} ({escape(printable(report.name))})", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    for key, value in sorted(report.counts.items()):
        table.add_row(key.replace("_", " "), f"{value:,}")
    table.add_row("rejected rows", f"{report.rejected:,}")
    for reason, count in sorted(report.rejects_by_reason.items()):
        table.add_row(f"  rejected: {escape(printable(reason))}", f"{count:,}")
    for repair, count in sorted(report.repairs.items()):
        table.add_row(f"  repaired: {escape(printable(repair))}", f"{count:,}")
    table.add_row("markets", f"{len(report.markets):,}")
    table.add_row("seconds", f"{seconds:.1f}")
    rows = report.counts.get("rows", 0)
    if seconds > 0 and rows:
        table.add_row("rows/s", f"{rows / seconds:,.0f}")
    console = Console()
    console.print(table)
    for note in report.notes[:20]:
        console.print(f"[yellow]note:[/] {escape(printable(note))}", soft_wrap=True)
    if len(report.notes) > 20:
        console.print(f"[yellow]note:[/] … and {len(report.notes) - 20} more (see the manifest)")
    for line in checks:
        console.print(f"[yellow]cross-check:[/] {escape(printable(line))}", soft_wrap=True)
