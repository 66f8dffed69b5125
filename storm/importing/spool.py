"""Group a stream of records by key (a date, a market) on local disk, so an input of any size fits in memory.

Records are kept as JSON lines and flushed to the spool's folder every ``flush_rows`` records or ``flush_bytes``
bytes. ``groups`` yields each key's records as a list (one market's prices, one call: small). A spool made with
an ``order`` writes each flush as a sorted run per key instead, and ``streams`` merges a key's runs lazily: a key
larger than memory (a busy day of news) is never held whole.

The folder (``storm-import-*`` in the temp folder, TMPDIR) is removed on close. One left by an import that was
killed (kill -9 runs no cleanup) is removed by the next spool made there: each spool holds a lock on its folder
for as long as its process lives, and a folder whose lock can be taken has no owner left.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import heapq
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

FLUSH_ROWS = 100_000
FLUSH_BYTES = 8 * 2 ** 20  # of JSON lines; a run of a busy key is this large
MAX_OPEN_RUNS = 128  # a key with more sorted runs has them merged in passes, never all files open at once
PREFIX = "storm-import-"
LOCK = "owner.lock"
UNLOCKED_GRACE_SECONDS = 60  # a folder without its lock file is being made, or was left before spools had locks


class Spool:
    def __init__(self, order: Callable[[dict], Any] | None = None, parent: Path | None = None,
                 flush_rows: int = FLUSH_ROWS, flush_bytes: int = FLUSH_BYTES) -> None:
        parent = Path(parent or tempfile.gettempdir())
        remove_stale_spools(parent)
        self.folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        self._lock = _hold_lock(self.folder)
        self.order = order
        self.flush_rows, self.flush_bytes = flush_rows, flush_bytes
        self.pending: dict[str, list] = defaultdict(list)
        self.buffered = self.buffered_bytes = 0
        self.runs: dict[str, int] = defaultdict(int)  # key -> flushes that wrote it (ordered: its sorted runs)

    def add(self, key: str, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False)
        self.pending[key].append((self.order(record), line) if self.order else line)
        self.buffered += 1
        self.buffered_bytes += len(line)
        if self.buffered >= self.flush_rows or self.buffered_bytes >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        for key, lines in self.pending.items():
            if self.order:
                lines.sort(key=lambda entry: entry[0])
                lines = [line for _, line in lines]
            with open(self._file(key, self.runs[key] if self.order else 0), "a", encoding="utf-8") as spool_file:
                spool_file.write("\n".join(lines) + "\n")
            self.runs[key] += 1
        self.pending.clear()
        self.buffered = self.buffered_bytes = 0

    def groups(self) -> Iterator[tuple[str, list[dict]]]:
        """(key, records in the order they were added), keys sorted."""
        self.flush()
        for key in sorted(self.runs):
            with open(self._file(key, 0), encoding="utf-8") as spool_file:
                yield key, [json.loads(line) for line in spool_file if line.strip()]

    def streams(self) -> Iterator[tuple[str, Iterator[dict]]]:
        """(key, its records in ``order``, read as they are consumed), keys sorted; an ordered spool only."""
        if self.order is None:
            raise ValueError("streams() merges sorted runs: make the spool with an order")
        self.flush()
        for key in sorted(self.runs):
            yield key, self._merged(key)

    def scratch(self, name: str) -> Path:
        """A file of this spool's folder for the caller's own use (removed with the spool)."""
        return self.folder / f"scratch-{name}"

    def _merged(self, key: str) -> Iterator[dict]:
        runs = [self._file(key, run) for run in range(self.runs[key])]
        while len(runs) > MAX_OPEN_RUNS:
            merged = self._file(key, self.runs[key])
            self.runs[key] += 1
            with open(merged, "w", encoding="utf-8") as out:
                out.writelines(json.dumps(record, ensure_ascii=False) + "\n"
                               for record in self._merge(runs[:MAX_OPEN_RUNS]))
            for run in runs[:MAX_OPEN_RUNS]:
                run.unlink()
            runs = [*runs[MAX_OPEN_RUNS:], merged]
        yield from self._merge(runs)

    def _merge(self, runs: list[Path]) -> Iterator[dict]:
        with contextlib.ExitStack() as files:
            records = [map(json.loads, files.enter_context(open(run, encoding="utf-8"))) for run in runs]
            yield from heapq.merge(*records, key=self.order)

    def _file(self, key: str, run: int) -> Path:
        # a digest, not the key: a 60-character market and a 100-character event made a hex name past NAME_MAX
        return self.folder / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}.{run}.jsonl"

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._lock)

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def remove_stale_spools(parent: Path) -> list[Path]:
    """Remove the spool folders under ``parent`` that no living process holds (this user's only); returns them."""
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            info = folder.lstat()
        except OSError:
            continue
        if not folder.is_dir() or folder.is_symlink() or info.st_uid != os.getuid():
            continue
        try:
            lock = os.open(folder / LOCK, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            if time.time() - info.st_mtime > UNLOCKED_GRACE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its import is running
        else:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            os.close(lock)
    return removed


def _hold_lock(folder: Path) -> int:
    """A locked lock file in ``folder``, put in place only once locked (so no other spool ever sees it free)."""
    making = folder / f"{LOCK}.new"
    descriptor = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.rename(making, folder / LOCK)
    return descriptor
