"""Stream a vendor's table (CSV, gzip'd CSV or Parquet) in chunks of rows, each row with its line number.

Nothing reads a whole file, and nothing the file's shape controls grows without bound: CSV lines are read in
blocks and refused past MAX_ROW_BYTES or MAX_FIELDS before csv parses them (storm.importing.lines); Parquet
strings are read as dictionaries and their decoded bytes counted before they are decoded
(storm.store.bounded_parquet); a chunk is handed on at CHUNK_ROWS rows or CHUNK_BYTES bytes, whichever comes
first. A row that cannot be a row (over a limit, bad UTF-8, a wrong number of fields) is handed back as a
reject with its line and reason; the stream goes on.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from storm.importing.lines import BoundedLines, RowRefused, open_lines

CHUNK_ROWS = 50_000
CHUNK_BYTES = 8 * 2 ** 20      # of row text (CSV) or decoded values (Parquet) per chunk
MAX_ROW_BYTES = 4 * 2 ** 20    # a CSV row (its line, or the lines of one quoted record) past this is not read
MAX_FIELDS = 10_000            # a row or header of more fields is a broken line, not a table
MAX_FIELD_CHARS = 1_000_000    # a 10 MB "headline" is a broken line, not news
MAX_GROUP_ENCODED_BYTES = 512 * 2 ** 20  # a Parquet row group's asked columns before decoding (one page may be all)
PARQUET_SUFFIXES = (".parquet", ".pq")


class TableError(ValueError):
    """A whole input file cannot be read as asked (missing, wrong columns); the message says which and what to do."""


@dataclass
class RowReject:
    source: str
    line: int
    reason: str
    rows: int = 1  # a Parquet row group refused whole is one reject for all its rows


@dataclass
class RowChunk:
    rows: pd.DataFrame          # the asked columns as strings (Parquet: as stored), plus "line" (1-based, header = 1)
    rejects: list[RowReject]

    @property
    def read(self) -> int:
        """Rows of the file this chunk accounts for, good and rejected."""
        return len(self.rows) + sum(reject.rows for reject in self.rejects)


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def read_columns(path: Path) -> list[str]:
    """The file's column names, as written (CSV: its header line, within the row limits)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    with open_lines(path, MAX_ROW_BYTES, MAX_FIELDS) as lines:
        return _header(lines, path)


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


def _header(lines: BoundedLines, path: Path) -> list[str]:
    lines.start_record()
    try:
        return next(csv.reader(lines), [])
    except (RowRefused, csv.Error) as err:
        raise TableError(f"{path}: its first line is no header ({err}); is it a CSV with a header line?") from None


def _csv_chunks(path: Path, header: list[str], columns: list[str], chunk_rows: int) -> Iterator[RowChunk]:
    positions = [header.index(column) for column in columns]
    csv.field_size_limit(MAX_FIELD_CHARS)
    source = str(path)
    with open_lines(path, MAX_ROW_BYTES, MAX_FIELDS) as lines:
        reader = csv.reader(lines)
        _header(lines, path)
        values: list[list[str]] = []
        numbers: list[int] = []
        rejects: list[RowReject] = []
        held = 0  # bytes of the rows in this chunk
        while True:
            lines.start_record()
            line = lines.number + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except RowRefused as refused:
                reason = refused.reason
            except csv.Error as err:
                reason = f"unreadable CSV row ({err})"
            else:
                reason = _row_problem(row, len(header))
            if reason:
                rejects.append(RowReject(source, line, reason))
            else:
                values.append([row[p] for p in positions])
                numbers.append(line)
                held += lines.record_bytes
            if len(values) + len(rejects) >= chunk_rows or held >= CHUNK_BYTES:
                yield RowChunk(_frame(values, numbers, columns), rejects)
                values, numbers, rejects, held = [], [], [], 0
        if lines.unreadable:
            rejects.append(RowReject(source, lines.number + 1, lines.unreadable))
        if values or rejects:
            yield RowChunk(_frame(values, numbers, columns), rejects)


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
    """Row group by row group; strings read as dictionaries, decoded only in pieces within CHUNK_BYTES."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from storm.store.bounded_parquet import _is_text, _plain  # the reader's own string checks, not copies

    schema = pq.ParquetFile(path).schema_arrow
    strings = [name for name in columns if _is_text(schema.field(name).type)]
    parquet = pq.ParquetFile(path, read_dictionary=strings or None)
    source, first = str(path), 1  # Parquet has no lines: rows are numbered from 1
    for group in range(parquet.num_row_groups):
        metadata = parquet.metadata.row_group(group)
        encoded = sum(metadata.column(i).total_uncompressed_size for i in range(metadata.num_columns)
                      if metadata.column(i).path_in_schema.split(".", 1)[0] in columns)
        if encoded > MAX_GROUP_ENCODED_BYTES:
            last = first + metadata.num_rows - 1
            yield RowChunk(_frame([], [], columns), [RowReject(
                source, first, f"rows {first}-{last}: a row group of {encoded:,} bytes before decoding (limit "
                               f"{MAX_GROUP_ENCODED_BYTES:,}); write the file with smaller row groups",
                rows=metadata.num_rows)])
            first = last + 1
            continue
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=columns, row_groups=[group]):
            for start, piece, decoded in _pieces(pa.Table.from_batches([batch]), strings, first):
                if piece is None:
                    yield RowChunk(_frame([], [], columns), [RowReject(
                        source, start, f"a row of {decoded:,} bytes decoded (limit {CHUNK_BYTES:,}); not decoded")])
                    continue
                frame = _plain(piece, strings).to_pandas()
                frame["line"] = range(start, start + len(frame))
                yield RowChunk(frame, [])
            first += batch.num_rows


def _pieces(table, strings: list[str], start: int) -> Iterator[tuple[int, object, int]]:
    """(first row, piece, decoded bytes): ``table`` halved until each piece decodes to at most CHUNK_BYTES;
    a single row over it comes back as (row, None, its bytes), never decoded."""
    from storm.store.bounded_parquet import decoded_bytes

    decoded = decoded_bytes(table, strings)
    if decoded <= CHUNK_BYTES or table.num_rows <= 1:
        yield start, (table if decoded <= CHUNK_BYTES else None), decoded
        return
    half = table.num_rows // 2
    yield from _pieces(table.slice(0, half), strings, start)
    yield from _pieces(table.slice(half), strings, start + half)

