"""A CSV's lines (plain or gzip'd) as text for the csv module, each refused past a byte limit before it is whole.

csv.reader pulls lines from an iterator, and a Python text file hands it a whole line however long it is (one
400 MB line in a 400 KB .gz took 1 GB before any limit was checked). Here the file is read in blocks and split
at \\n, \\r\\n and \\r (where a ``newline=""`` text file splits), a line longer than the limit is skipped block by
block and never held, and the bytes and separators of the record being read (a quoted field may span lines) are
counted, so csv is never handed a row past the byte or field-count limit: ``RowRefused`` says which, and reading
goes on at the next line.
"""

from __future__ import annotations

import contextlib
import gzip
import re
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

BLOCK_BYTES = 1 << 16
_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"  # Excel's "CSV UTF-8" starts with it; utf-8-sig reading drops it, so do we


class RowRefused(Exception):
    """The row being read is over a limit (``reason`` says which); the lines it took are consumed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BoundedLines:
    """Iterator of a binary stream's lines as text (bad UTF-8 kept as surrogates, for the row to be rejected).

    ``number``: physical lines consumed so far; ``start_record()`` before each csv row resets the counts of the
    record being read (``record_bytes`` and its separators) that the limits apply to.
    """

    def __init__(self, raw: BinaryIO, max_row_bytes: int, max_fields: int) -> None:
        self.max_row_bytes, self.max_fields = max_row_bytes, max_fields
        self.number = 0
        self.record_bytes = 0
        self.record_separators = 0
        self.unreadable: str | None = None  # why the file could not be read to its end (a truncated .gz)
        self._lines = _physical_lines(raw, max_row_bytes, self)

    def start_record(self) -> None:
        self.record_bytes = self.record_separators = 0

    def __iter__(self) -> "BoundedLines":
        return self

    def __next__(self) -> str:
        line, size = next(self._lines)
        self.number += 1
        self.record_bytes += size
        if line is None or self.record_bytes > self.max_row_bytes:
            raise RowRefused(f"a row of more than {self.max_row_bytes:,} bytes (the line limit); not read")
        self.record_separators += line.count(b",")
        if self.record_separators >= self.max_fields:
            raise RowRefused(f"a row of more than {self.max_fields:,} fields (the field-count limit, counted by "
                             "their separators); not parsed")
        if self.number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        return line.decode("utf-8", errors="surrogateescape")


@contextlib.contextmanager
def open_lines(path: Path, max_row_bytes: int, max_fields: int) -> Iterator[BoundedLines]:
    """``path``'s lines (gunzipped when it ends in .gz) within the limits."""
    with (gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")) as raw:
        yield BoundedLines(raw, max_row_bytes, max_fields)


def _physical_lines(raw: BinaryIO, limit: int, owner: BoundedLines) -> Iterator[tuple[bytearray | None, int]]:
    """(line with its ending, its size in bytes); the line is None when over ``limit``: dropped as it was read."""
    pending = bytearray()
    dropped = 0  # bytes of the current line already let go (it is over the limit)
    while True:
        block = _read(raw, owner)
        scanned = max(len(pending) - 1, 0)  # a '\r' held back at the end may be half of '\r\n'
        pending += block
        start = 0
        for end in _line_ends(pending, scanned, more=bool(block)):
            size = dropped + end - start
            yield (None if dropped or size > limit else pending[start:end]), size
            start, dropped = end, 0
        del pending[:start]
        if len(pending) > limit:  # keep the last byte: a '\r' there may be half of '\r\n'
            dropped += len(pending) - 1
            del pending[:-1]
        if not block:
            if pending:
                yield (None if dropped else pending), dropped + len(pending)
            return


def _line_ends(buffer: bytearray, scanned: int, more: bool) -> Iterator[int]:
    for match in _LINE_END.finditer(buffer, scanned):
        if more and match.end() == len(buffer) and match.group() == b"\r":
            return  # the next block may start with the '\n' of this '\r\n'
        yield match.end()


def _read(raw: BinaryIO, owner: BoundedLines) -> bytes:
    """The next block; b"" at the end, or where the rest cannot be read (noted on ``owner``, for one reject)."""
    try:
        return raw.read(BLOCK_BYTES)
    except (EOFError, OSError, zlib.error) as err:  # a truncated or corrupt .gz (gzip.BadGzipFile is an OSError)
        owner.unreadable = f"the rest of the file cannot be read ({type(err).__name__}: {err})"
        return b""
