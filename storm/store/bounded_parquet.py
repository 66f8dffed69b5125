"""Read a Parquet file within a row and byte budget that follows the bytes it would really decode to.

The footer's ``total_uncompressed_size`` is the size of the *encoded* pages: for a dictionary-encoded string
column that is one dictionary and a run of small indices, so 100k rows of one 10 KB string say 12 KB and decode to
1 GB. String and binary columns are therefore read as dictionaries (their memory: the dictionary, which the
footer does count, and 4 bytes a row), their real size summed from the dictionary's value lengths taken per row,
and only a table within the budget is decoded to plain strings.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


class TableTooLarge(ValueError):
    """A parquet file that holds more rows or decodes to more bytes than the reader accepts (never decoded whole)."""


def read_bounded(handle, path: str, columns: list[str] | None, max_rows: int | None,
                 max_decoded_bytes: int | None) -> pa.Table:
    """``columns`` (None: all) of the Parquet file open at ``handle``; TableTooLarge naming ``path`` when over a limit."""
    schema = pq.ParquetFile(handle).schema_arrow
    strings = [field.name for field in schema if (columns is None or field.name in columns) and _is_text(field.type)]
    parquet = pq.ParquetFile(handle, read_dictionary=strings or None)
    check_footer(path, parquet.metadata, columns, max_rows, max_decoded_bytes)
    table = parquet.read(columns=columns)
    if max_decoded_bytes is not None:
        decoded = decoded_bytes(table, strings)
        if decoded > max_decoded_bytes:
            raise TableTooLarge(f"{path} decodes to {decoded} bytes, over the limit of {max_decoded_bytes} (its "
                                "strings counted as they would be decoded); not read")
    return _plain(table, strings)


def check_footer(path: str, metadata, columns: list[str] | None, max_rows: int | None,
                 max_decoded_bytes: int | None) -> None:
    """What the footer alone can refuse: too many rows, or more encoded bytes than the budget."""
    if max_rows is not None and metadata.num_rows > max_rows:
        raise TableTooLarge(f"{path} holds {metadata.num_rows} rows, over the limit of {max_rows}; not read")
    if max_decoded_bytes is None:
        return
    encoded = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            if columns is None or chunk.path_in_schema.split(".", 1)[0] in columns:
                encoded += chunk.total_uncompressed_size
    if encoded > max_decoded_bytes:
        raise TableTooLarge(f"{path} decodes to {encoded} bytes, over the limit of {max_decoded_bytes}; not read")


def decoded_bytes(table: pa.Table, strings: list[str]) -> int:
    """The bytes ``table`` holds once its dictionary-read ``strings`` columns are plain strings (offsets included)."""
    total = 0
    for name in table.column_names:
        column = table.column(name)
        if name not in strings or not pa.types.is_dictionary(column.type):
            total += column.nbytes
            continue
        for chunk in column.chunks:
            lengths = pc.binary_length(chunk.dictionary).take(chunk.indices)
            total += int(pc.sum(lengths, min_count=0).as_py() or 0) + 8 * len(chunk)  # values, offsets and slack
    return total


def _plain(table: pa.Table, strings: list[str]) -> pa.Table:
    for name in strings:
        position = table.schema.get_field_index(name)
        column = table.column(position)
        if pa.types.is_dictionary(column.type):
            table = table.set_column(position, name, column.cast(column.type.value_type))
    return table


def _is_text(kind: pa.DataType) -> bool:
    """A string or binary type, or a dictionary of them (as a pandas categorical is stored)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind))
