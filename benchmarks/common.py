"""What the benchmarks share: the offline switches, the real-data folder argument, process-tree memory peaks.

Benchmarks run as scripts (`python benchmarks/bench_x.py`), so this folder is on their import path and each
one does `from common import …`; they import storm's public modules and this file, never each other or tests.
"""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

import numpy as np

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
REAL_DATA = Path("../shared/realdata")  # StockNet, MAEC, Reuters (README, "Public data sources")


def offline() -> None:
    """Never reach for a model hub, never report Ray usage: set before storm or transformers is imported."""
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)


def generated_world(config) -> dict | None:
    """The manifest of the world under ``config.storage`` when it was generated with exactly ``config.world``
    (a benchmark may reuse it), else None."""
    import json

    from storm.store import Layout, open_store

    store = open_store(config.storage)
    path = Layout(store).world_manifest()
    manifest = json.loads(store.read_text(path)) if store.exists(path) else {}
    return manifest if manifest.get("world") == config.world.model_dump(mode="json") else None


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=REAL_DATA,
                        help=f"folder of the public data sets (default {REAL_DATA})")


FEEDS = {  # feed: (file under the data folder, market column or a fixed market, date column, text column)
    "stocknet tweets": ("stocknet/tweets.csv.gz", "ticker", "date", "text"),
    "reuters headlines": ("reuters/reuters_editorial_2007_2016.csv.gz", "=gspc", "date", "headline"),
    "maec call sentences": ("maec/maec_sentences.csv.gz", "ticker", "date", "text"),
}
FEED_NAMES = {feed.split()[0]: feed for feed in FEEDS}  # what --feeds takes: reuters, stocknet, maec


def feed_items(data: Path, feed: str, count: int = 0) -> list[tuple[str, str, str]]:
    """(market, date, text) of the feed's first ``count`` rows with a text (0: all), in file order."""
    import csv
    import gzip

    path, market, date, text = FEEDS[feed]
    rows = []
    with gzip.open(data / path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            if row[text]:
                name = market[1:] if market.startswith("=") else row[market].lower()
                rows.append((name, row[date][:10], row[text]))
            if len(rows) == count:
                break
    return rows


def tree_rss(pid: int | None = None) -> tuple[int, int]:
    """(summed RSS, largest single RSS) in bytes of process ``pid`` (default: this one) and its descendants."""
    import psutil

    root = psutil.Process(pid)
    total = largest = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            rss = process.memory_info().rss
        except psutil.Error:  # exited between listing and reading
            continue
        total, largest = total + rss, max(largest, rss)
    return total, largest


class PeakRss:
    """Peak RSS of a process tree (default: this process and its Ray processes), sampled every ``every`` seconds:
    ``peak`` the summed tree, ``largest`` the biggest single process, ``before`` the sum when sampling began."""

    def __init__(self, pid: int | None = None, every: float = 0.2) -> None:
        self.pid, self.every = pid, every

    def __enter__(self) -> "PeakRss":
        self.before, self.largest = tree_rss(self.pid)
        self.peak = self.before
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        while not self._done.is_set():
            try:
                total, largest = tree_rss(self.pid)
            except psutil.Error:  # the watched process has exited
                return
            self.peak, self.largest = max(self.peak, total), max(self.largest, largest)
            self._done.wait(self.every)


def write_call(path: Path, minutes: float, rate: int, channels: int, fmt: str, sentence: np.ndarray) -> int:
    """A long call of ``sentence`` (16 kHz speech) repeated, its pitch varied per repeat, written block by block so
    the writer stays small; returns how many repeats it holds."""
    import soundfile

    from storm.worlds.wav import resample

    speech = resample(sentence, 16000, rate)
    total = int(minutes * 60 * rate)
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=channels, format=fmt,
                             subtype="PCM_16" if fmt == "FLAC" else None) as sink:
        written, repeat = 0, 0
        while written < total:
            pitch = 1.0 + 0.05 * np.sin(repeat)
            block = np.interp(np.arange(0, len(speech), pitch), np.arange(len(speech)), speech)[: total - written]
            sink.write(np.repeat(block[:, None], channels, axis=1).astype(np.float32))
            written, repeat = written + len(block), repeat + 1
    return repeat
