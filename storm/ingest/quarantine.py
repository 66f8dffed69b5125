"""Quarantine records: one per rejected input, written per date so a rerun replaces them.

Layout: ``quarantine/date=D/ingest-<source>.jsonl`` (from ``Layout.quarantine``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterable, Mapping

from storm.schema import QUARANTINE_FIELDS
from storm.store import Layout, ObjectStore
from storm.store.layout import date_of, is_date

STAGE = "ingest"


def quarantine_record(source_path: str, source: str, date: str, market: str | None, reason: str) -> dict:
    """A quarantine row with exactly QUARANTINE_FIELDS."""
    return {"source_path": source_path, "source": source, "date": date, "market": market, "stage": STAGE,
            "reason": reason}


def write_quarantine(
    store: ObjectStore, layout: Layout, source: str, records: Iterable[Mapping], start: str, end: str
) -> list[str]:
    """Replace this stage's quarantine files for ``source`` (a kind of raw input) in [start, end]; return the files written.

    One JSONL file per date with rejects, lines sorted so a rerun writes the same
    bytes; files left from an earlier run for dates that are now clean are removed.
    A record without a real YYYY-MM-DD date (e.g. from a crafted key) is filed, and dated, under ``end``.
    """
    by_date: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        row = {field: record.get(field) for field in QUARANTINE_FIELDS}
        if not is_date(row["date"]):
            row["date"] = end
        by_date[row["date"]].append(row)
    written = []
    for date, rows in sorted(by_date.items()):
        rows.sort(key=lambda row: (str(row["source_path"]), str(row["reason"])))
        path = layout.quarantine(date, STAGE, source)
        store.write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        written.append(path)
    store.delete(_stale_files(store, layout, source, start, end, keep=set(written)))
    return written


def _stale_files(store: ObjectStore, layout: Layout, source: str, start: str, end: str, keep: set[str]) -> list[str]:
    name = f"/{STAGE}-{source}.jsonl"
    return [
        path
        for path in store.list_files(layout.quarantine_dir(), suffix=name)
        if start <= (date_of(path) or "") <= end and path not in keep
    ]


def read_quarantine(store: ObjectStore, layout: Layout, source: str, date: str) -> list[dict]:
    """The quarantine records of one date and source ([] when that day was clean)."""
    path = layout.quarantine(date, STAGE, source)
    if not store.exists(path):
        return []
    return [json.loads(line) for line in store.read_text(path).splitlines() if line]
