"""Stream a vendor's table (CSV, gzip'd CSV or Parquet) in chunks of rows, each row with its line number.

Nothing reads a whole file: CSV goes through the csv module line by line, Parquet
batch by batch with only the asked columns. A row that cannot be a row (bad UTF-8,
a field over the size limit, a wrong number of fields) is handed back as a reject
with its line and reason; the stream goes on.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

CHUNK_ROWS = 50_000
MAX_FIELD_CHARS = 1_000_000  # a 10 MB "headline" is a broken line, not news
PARQUET_SUFFIXES = (".parquet", ".pq")


class TableError(ValueError):
    """A whole input file cannot be read as asked (missing, wrong columns); the message says which and what to do."""


@dataclass
class RowReject:
    source: str
    line: int
    reason: str


@dataclass
class RowChunk:
    rows: pd.DataFrame          # the asked columns as strings (Parquet: as stored), plus "line" (1-based, header = 1)
    rejects: list[RowReject]


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def read_columns(path: Path) -> list[str]:
    """The file's column names, as written (CSV: its header line)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    with _open_text(path) as stream:
        return next(csv.reader(stream), [])


def iter_chunks(path: Path, columns: list[str], chunk_rows: int = CHUNK_ROWS) -> Iterator[RowChunk]:
    """Chunks of ``columns`` (which must all exist) from a CSV or Parquet file."""
    if not path.is_file():
        raise TableError(f"{path} is not a file")
    present = read_columns(path)
    missing = [column for column in columns if column not in present]
    if missing:
        raise TableError(f"{path} lacks column(s) {missing} (it has {present}); name the right ones with the "
                         "column options of storm import")
    if is_parquet(path):
        yield from _parquet_chunks(path, columns, chunk_rows)
    else:
        yield from _csv_chunks(path, present, columns, chunk_rows)


def _open_text(path: Path) -> io.TextIOBase:
    """Text with undecodable bytes kept as surrogates, so a bad line is found and rejected, not the file."""
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    # utf-8-sig: a leading byte-order mark (Excel's "CSV UTF-8") is dropped, not read into the first column name
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _csv_chunks(path: Path, header: list[str], columns: list[str], chunk_rows: int) -> Iterator[RowChunk]:
    positions = [header.index(column) for column in columns]
    csv.field_size_limit(MAX_FIELD_CHARS)
    source = str(path)
    with _open_text(path) as stream:
        reader = csv.reader(stream)
        next(reader, None)
        values: list[list[str]] = []
        lines: list[int] = []
        rejects: list[RowReject] = []
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                rejects.append(RowReject(source, line, f"unreadable CSV row ({err})"))
                continue
            reason = _row_problem(row, len(header))
            if reason:
                rejects.append(RowReject(source, line, reason))
            else:
                values.append([row[p] for p in positions])
                lines.append(line)
            if len(values) >= chunk_rows:
                yield RowChunk(_frame(values, lines, columns), rejects)
                values, lines, rejects = [], [], []
        if values or rejects:
            yield RowChunk(_frame(values, lines, columns), rejects)


def _row_problem(row: list[str], width: int) -> str | None:
    if not row:
        return "empty line"
    if len(row) != width:
        return f"{len(row)} fields where the header has {width}"
    for field in row:
        if len(field) > MAX_FIELD_CHARS:
            return f"a field of {len(field)} characters (limit {MAX_FIELD_CHARS})"
        try:
            field.encode("utf-8")
        except UnicodeEncodeError:
            return "not UTF-8 text"
    return None


def _frame(values: list[list[str]], lines: list[int], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=columns, dtype=object)
    frame["line"] = lines
    return frame


def _parquet_chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[RowChunk]:
    import pyarrow.parquet as pq

    first = 1
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=columns):
        frame = batch.to_pandas()
        frame["line"] = range(first, first + len(frame))  # Parquet has no lines: the row number, 1-based
        first += len(frame)
        yield RowChunk(frame, [])
