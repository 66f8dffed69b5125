"""What an import holds that the stored prices cannot use: items of markets without prices, and items dated after
their market's last price day (a model scores a market-day only where it has its prices).

Reads the import's written objects' keys (market and date from the path) and the prices' footers (the date
column's statistics), never the items themselves, so a check of a large import costs a listing.
"""

from __future__ import annotations

import pyarrow.parquet as pq

from storm.importing.report import ImportReport
from storm.ingest.prices import MAX_PRICE_DECODED_BYTES, MAX_PRICE_ROWS  # a hostile file is skipped, not read
from storm.store import Layout, ObjectStore
from storm.store.bounded_parquet import read_bounded
from storm.store.layout import CALL_TABLE_SUFFIX, date_of

SHOWN = 10  # market names listed per line; the rest counted


def last_price_days(store: ObjectStore, layout: Layout) -> dict[str, str]:
    """market -> its last stored price day, from each prices file's footer (files without statistics are read)."""
    days = {}
    if not store.exists(layout.prices_dir()):
        return days
    for path in store.list_files(layout.prices_dir(), suffix=".parquet"):
        market = path.rsplit("/", 1)[-1][: -len(".parquet")]
        try:
            with store.fs.open(path, "rb") as handle:
                metadata = pq.ParquetFile(handle).metadata
                column = metadata.schema.to_arrow_schema().get_field_index("date")
                stats = [metadata.row_group(g).column(column).statistics for g in range(metadata.num_row_groups)]
                values = [str(s.max) for s in stats if s is not None and s.has_min_max]
                if len(values) < metadata.num_row_groups:  # written without statistics: read the dates, bounded
                    dates = read_bounded(handle, path, ["date"], MAX_PRICE_ROWS, MAX_PRICE_DECODED_BYTES).column("date")
                    values = [str(value) for value in dates.to_pylist() if value is not None]
        except (OSError, ValueError):  # unreadable or too large: the prices reader's to report, not the import's
            continue
        if values:
            days[market] = max(values)
    return days


def cross_check(report: ImportReport, store: ObjectStore, layout: Layout) -> list[str]:
    """Lines for the import's summary: markets with items but no prices, items after their market's last price day
    (news, whose day files mix markets, and a market-wide wire: after the last price day of every market)."""
    if report.kind not in ("news", "calls", "wire") or not (report.markets or report.kind == "wire"):
        return []
    last_day = last_price_days(store, layout)
    lines = []
    unpriced = sorted(market for market in report.markets if market not in last_day)
    if unpriced:
        lines.append(f"{len(unpriced)} market(s) have {report.kind} but no prices, so nothing of theirs can be scored: "
                     f"{_names(unpriced)}; import their prices (storm import prices)")
    if report.kind in ("news", "wire"):
        latest = max(last_day.values(), default=None)
        late = sorted({d for d in map(date_of, report.objects) if d is not None and latest is not None and d > latest})
        if late:
            lines.append(f"{len(late)} {report.kind} day(s) lie after the last stored price day ({latest}), so no score reads "
                         f"them until prices reach them: {_names(late)}")
        return lines
    late = {}
    calls = {(date_of(path), path.rsplit("/", 1)[-1].split(".", 1)[0]): _call_market(path) for path in report.objects}
    for (date, _), market in calls.items():  # a recording and its transcript's table are one call
        if date is not None and market in last_day and date > last_day[market]:
            late.setdefault(market, []).append(date)
    if late:
        count = sum(len(dates) for dates in late.values())
        lines.append(f"{count} call(s) of {len(late)} market(s) are dated after that market's last price day, so no "
                     f"score reads them until its prices reach them: {_names(sorted(late))}")
    return lines


def _call_market(path: str) -> str | None:
    """A written call object's market: a call table's name, or a recording's <market>-<event> file name."""
    name = path.rsplit("/", 1)[-1]
    if name.endswith(CALL_TABLE_SUFFIX):
        return Layout.market_and_event_of_call_table(path)[0]
    return name.split("-", 1)[0] if "-" in name else None


def _names(markets: list[str]) -> str:
    shown = ", ".join(markets[:SHOWN])
    return shown + (f" and {len(markets) - SHOWN} more" if len(markets) > SHOWN else "")
