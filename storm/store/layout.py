"""The object-store layout of DESIGN.md: the one place that knows where things live.

Jobs ask this module for paths; nobody else builds them from strings.

    raw/prices/<market>.parquet
    raw/news/date=YYYY-MM-DD/<name>.jsonl
    raw/charts/date=YYYY-MM-DD/<market>.<png|jpg|jpeg>
    raw/audio/date=YYYY-MM-DD/<market>-<event>.<wav|mp3|flac|ogg|m4a|aac>
    truth/fragility.parquet                  synthetic world only; evaluation reads it, nothing else
    features/<modality>/<spec>/date=D/…      cached per-item features keyed by content hash
    models/<run>/…                           checkpoints, calibration, model card
    reports/<run>/…                          evaluation report and plots
    scores/date=D/scores.parquet
    scores/date=D/scan_stats.json            the scan's ScanStats, for republishing metrics
    quarantine/date=D/<stage>-<modality>.jsonl
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storm.store.objectstore import ObjectStore

MODALITIES = ("text", "image", "audio")
RAW_FOLDER = {"text": "news", "image": "charts", "audio": "audio"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
_MARKET = re.compile(r"^[A-Za-z0-9_.]+$")


def partition(date: str) -> str:
    if not _DATE.match(date):
        raise ValueError(f"date {date!r} is not YYYY-MM-DD")
    return f"date={date}"


def date_of(path: str) -> str | None:
    """The hive partition date a path lies under, or None."""
    found = _PARTITION.search(path)
    return found.group(1) if found else None


def check_market(market: str) -> str:
    if not _MARKET.match(market) or "-" in market:
        raise ValueError(f"market name {market!r} must be letters, digits, '_' or '.' (no '-': it separates the event)")
    return market


@dataclass(frozen=True)
class Layout:
    store: ObjectStore

    # raw inputs
    def prices_dir(self) -> str:
        return self.store.path("raw", "prices")

    def prices(self, market: str) -> str:
        return self.store.path("raw", "prices", f"{check_market(market)}.parquet")

    def raw_dir(self, modality: str) -> str:
        return self.store.path("raw", RAW_FOLDER[modality])

    def raw_partition(self, modality: str, date: str) -> str:
        return self.store.path("raw", RAW_FOLDER[modality], partition(date))

    def news_file(self, date: str, name: str = "headlines") -> str:
        return self.store.path("raw", "news", partition(date), f"{name}.jsonl")

    def chart(self, date: str, market: str) -> str:
        return self.store.path("raw", "charts", partition(date), f"{check_market(market)}.png")

    def audio(self, date: str, market: str, event: str, suffix: str = ".wav") -> str:
        if suffix not in AUDIO_SUFFIXES:
            raise ValueError(f"audio suffix {suffix!r} is not one of {AUDIO_SUFFIXES}")
        return self.store.path("raw", "audio", partition(date), f"{check_market(market)}-{event}{suffix}")

    @staticmethod
    def market_of_chart(path: str) -> str:
        return _strip_suffix(path.rsplit("/", 1)[-1], CHART_SUFFIXES)

    @staticmethod
    def market_and_event_of_audio(path: str) -> tuple[str, str]:
        stem = _strip_suffix(path.rsplit("/", 1)[-1], AUDIO_SUFFIXES)
        market, _, event = stem.partition("-")
        return market, event

    # evaluation-only truth
    def truth_fragility(self) -> str:
        return self.store.path("truth", "fragility.parquet")

    def world_manifest(self) -> str:
        return self.store.path("raw", "world.json")

    # derived
    def features_dir(self, modality: str, spec: str) -> str:
        return self.store.path("features", modality, spec)

    def features_partition(self, modality: str, spec: str, date: str) -> str:
        return self.store.path("features", modality, spec, partition(date), "features.parquet")

    def samples_dir(self, spec: str) -> str:
        return self.store.path("features", "samples", spec)

    def model_dir(self, run: str) -> str:
        return self.store.path("models", run)

    def checkpoints_dir(self, run: str) -> str:
        return self.store.path("models", run, "checkpoints")

    def model_file(self, run: str, name: str) -> str:
        return self.store.path("models", run, name)

    def report_file(self, run: str, name: str) -> str:
        return self.store.path("reports", run, name)

    def scores_dir(self) -> str:
        return self.store.path("scores")

    def scores(self, date: str) -> str:
        return self.store.path("scores", partition(date), "scores.parquet")

    def scan_stats(self, date: str) -> str:
        """The scan's ScanStats for a date (JSON), beside its scores: `storm metrics push` republishes from both."""
        return self.store.path("scores", partition(date), "scan_stats.json")

    def quarantine_dir(self) -> str:
        return self.store.path("quarantine")

    def quarantine(self, date: str, stage: str, modality: str) -> str:
        return self.store.path("quarantine", partition(date), f"{stage}-{modality}.jsonl")


CHART_SUFFIXES = (".png", ".jpg", ".jpeg")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac")


def _strip_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    """The name without the first of ``suffixes`` it ends with (case-insensitive), else unchanged."""
    lowered = name.lower()
    return next((name[: -len(suffix)] for suffix in suffixes if lowered.endswith(suffix)), name)
