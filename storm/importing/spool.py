"""Group a stream of records by key (a date, a market) on local disk, so an input of any size fits in memory.

Records are appended as JSON lines to one spool file per key, flushed every
``flush_rows`` records; ``groups`` then yields each key's records, one key at a time.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Iterator

FLUSH_ROWS = 100_000


class Spool:
    def __init__(self, flush_rows: int = FLUSH_ROWS) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="storm-import-"))
        self.flush_rows = flush_rows
        self.pending: dict[str, list[str]] = defaultdict(list)
        self.buffered = 0
        self.keys: set[str] = set()

    def add(self, key: str, record: dict) -> None:
        self.pending[key].append(json.dumps(record, ensure_ascii=False))
        self.keys.add(key)
        self.buffered += 1
        if self.buffered >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        for key, lines in self.pending.items():
            with open(self._file(key), "a", encoding="utf-8") as spool_file:
                spool_file.write("\n".join(lines) + "\n")
        self.pending.clear()
        self.buffered = 0

    def groups(self) -> Iterator[tuple[str, list[dict]]]:
        """(key, records in the order they were added), keys sorted."""
        self.flush()
        for key in sorted(self.keys):
            with open(self._file(key), encoding="utf-8") as spool_file:
                yield key, [json.loads(line) for line in spool_file if line.strip()]

    def _file(self, key: str) -> Path:
        return self.folder / f"{key.encode('utf-8').hex()}.jsonl"

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
