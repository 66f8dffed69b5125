"""The object-store layout (docs/ARCHITECTURE.md): the one place that knows where things live.

Jobs ask this module for paths; nobody else builds them from strings.

    raw/prices/<market>.parquet
    raw/news/date=YYYY-MM-DD/<name>.jsonl
    raw/wire/date=YYYY-MM-DD/<name>.jsonl    market-wide headlines, stored once, read by every market
    raw/charts/date=YYYY-MM-DD/<market>.<png|jpg|jpeg>
    raw/audio/date=YYYY-MM-DD/<market>-<event>.<wav|mp3|flac|ogg|m4a|aac>
    raw/calls/date=YYYY-MM-DD/<market>-<event>.sentences.parquet   a call's per-sentence text + Praat features
    truth/fragility.parquet                  synthetic world only; evaluation reads it, nothing else
    truth/storm_probability.parquet          synthetic only: the real ceiling, P(storm within h | simulator state)
    features/<source>/<spec>/date=D/…        cached per-item features keyed by content hash
    models/<run>/current.json                pointer to the published version, switched last (atomic)
    models/<run>/versions/<version>/…        one immutable published model: weights, card (sha256 of every
                                             file), calibration, history, split (storm.published.artifacts)
    models/<run>/checkpoints/…               Ray Train checkpoints (resume)
    models/<run>/fingerprint.json            config + split fingerprint the run started with (resume guard)
    reports/<run>/…                          evaluation report and plots
    scores/date=D/scores.parquet
    scores/date=D/scan_stats.json            the scan's ScanStats, for republishing metrics
    scores/date=D/lease.json                 which model version owns the date's scores (storm.scan.score_store)
    scores/date=D/explanations.parquet       what drove each score: modality Shapley values and items (storm.explain)
    scores/date=D/report.html                the night's page: alerts, drivers, every score (storm.scan.night_report)
    candidates/<run>/scores/date=D/…         the same files for a candidate run's scan, apart from production
    metrics/storm-metrics.prom               the scan's Prometheus exposition, on a local store (metrics.textfile)
    quarantine/date=D/<stage>-<source>.jsonl
    raw/imports/<kind>-<name>.json           storm import: what one import wrote, from where (vendor tickers kept)
    quarantine/imports/<kind>-<name>.jsonl   storm import: rejected rows with file, line and reason

Run and market names are checked whole (storm.names) and every path is checked
to stay under the store's root (ObjectStore.path).
"""

from __future__ import annotations

import datetime
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storm.names import SOURCES, check_market_name, check_run_name

if TYPE_CHECKING:  # the layout names paths; only a Layout object holds a store
    from storm.store.objectstore import ObjectStore

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


def partition(date: str) -> str:
    if not is_date(date):
        raise ValueError(f"date {date!r} is not YYYY-MM-DD")
    return f"date={date}"


def is_date(text: object) -> bool:
    """Whether text is a real calendar date written YYYY-MM-DD."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def date_of(path: str) -> str | None:
    """The hive partition date a path lies under: its last segment that is exactly `date=YYYY-MM-DD`, or None.

    Anchored to whole segments: `date=2024-01-01x` and `xdate=2024-01-01` are no partition.
    """
    for segment in reversed(path.split("/")):
        found = _PARTITION.fullmatch(segment)
        if found and is_date(found.group(1)):
            return found.group(1)
    return None


def raw_key_date(base: str, path: str) -> str | None:
    """The date of a raw object listed exactly as `<base>/date=YYYY-MM-DD/<file>`; None for any other key.

    Only such keys are read as data: the date comes from this match, never from a looser search.
    """
    folder = base.rstrip("/") + "/"
    if not path.startswith(folder):
        return None
    parts = path[len(folder):].split("/")
    if len(parts) != 2 or parts[1] in ("", ".", ".."):
        return None
    found = _PARTITION.fullmatch(parts[0])
    return found.group(1) if found and is_date(found.group(1)) else None


def check_market(market: str) -> str:
    return check_market_name(market)


@dataclass(frozen=True)
class Layout:
    store: ObjectStore

    # raw inputs
    def prices_dir(self) -> str:
        return self.store.path("raw", "prices")

    def prices(self, market: str) -> str:
        return self.store.path("raw", "prices", f"{check_market(market)}.parquet")

    def raw_dir(self, source: str) -> str:
        return self.store.path("raw", _check_source(source))

    def raw_partition(self, source: str, date: str) -> str:
        return self.store.path("raw", _check_source(source), partition(date))

    def news_file(self, date: str, name: str = "headlines") -> str:
        return self.store.path("raw", "news", partition(date), f"{_check_file_name(name)}.jsonl")

    def wire_file(self, date: str, name: str) -> str:
        """A market-wide feed's day: lines without a market, read by every market (storm import news --market-wide)."""
        return self.store.path("raw", "wire", partition(date), f"{_check_file_name(name)}.jsonl")

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

    # per-sentence call feature tables (storm.ingest.calls), apart from recordings so each reader owns its folder
    def call_tables_dir(self) -> str:
        return self.store.path("raw", CALLS_FOLDER)

    def call_table(self, date: str, market: str, event: str) -> str:
        """raw/calls/date=D/<market>-<event>.sentences.parquet: sent_idx, text, the Praat columns (NaN = undefined)."""
        return self.store.path("raw", CALLS_FOLDER, partition(date),
                               f"{check_market(market)}-{check_call_event(event)}{CALL_TABLE_SUFFIX}")

    @staticmethod
    def market_and_event_of_call_table(path: str) -> tuple[str, str]:
        name = path.rsplit("/", 1)[-1]
        stem = name[: -len(CALL_TABLE_SUFFIX)] if name.endswith(CALL_TABLE_SUFFIX) else name
        market, _, event = stem.partition("-")
        return market, event

    # evaluation-only truth
    def truth_fragility(self) -> str:
        return self.store.path("truth", "fragility.parquet")

    def truth_storm_probability(self) -> str:
        """market, date, storm_probability_{h}d: forward-simulated from the full hidden state (evaluation only)."""
        return self.store.path("truth", "storm_probability.parquet")

    def world_manifest(self) -> str:
        return self.store.path("raw", "world.json")

    # storm import: what each import wrote and the rows it rejected
    def imports_dir(self) -> str:
        return self.store.path("raw", "imports")

    @staticmethod
    def check_import_name(name: str) -> str:
        """An import's name (its manifest, quarantine and news files are named by it): one path segment."""
        try:
            return _check_file_name(name)
        except ValueError:
            raise ValueError(f"import name {name!r} is not allowed: it names files in the store, so it is one word of "
                             "letters, digits, '_', '-', '.' (not starting with '.'); choose another --name. "
                             "Nothing was written") from None

    def import_manifest(self, kind: str, name: str) -> str:
        """raw/imports/<kind>-<name>.json: sources, counts, markets with the vendor's ticker spelling."""
        return self.store.path("raw", "imports", f"{_check_file_name(kind)}-{_check_file_name(name)}.json")

    def import_quarantine(self, kind: str, name: str) -> str:
        """quarantine/imports/<kind>-<name>.jsonl: one record per rejected input row (file, line, reason)."""
        return self.store.path("quarantine", "imports", f"{_check_file_name(kind)}-{_check_file_name(name)}.jsonl")

    def news_files(self, name: str) -> list[str]:
        """Every raw/news/date=D/<name>.jsonl in the store (one import's files)."""
        return self.store.list_files(self.raw_dir("news"), suffix=f"/{_check_file_name(name)}.jsonl")

    def wire_files(self, name: str) -> list[str]:
        """Every raw/wire/date=D/<name>.jsonl in the store (one market-wide import's files)."""
        return self.store.list_files(self.raw_dir("wire"), suffix=f"/{_check_file_name(name)}.jsonl")

    # derived
    def features_dir(self, source: str, spec: str) -> str:
        return self.store.path("features", source, spec)

    def features_partition(self, source: str, spec: str, date: str) -> str:
        return self.store.path("features", source, spec, partition(date), "features.parquet")

    def samples_dir(self, spec: str) -> str:
        return self.store.path("features", "samples", spec)

    def model_dir(self, run: str) -> str:
        return self.store.path("models", check_run_name(run))

    def checkpoints_dir(self, run: str) -> str:
        return self.store.path("models", check_run_name(run), "checkpoints")

    def model_file(self, run: str, name: str) -> str:
        """A run-level file beside the published versions (e.g. the demo's world.json); not part of a version."""
        return self.store.path("models", check_run_name(run), _check_file_name(name))

    def run_fingerprint_file(self, run: str) -> str:
        """The fingerprint a run started with (training.trainer.run_fingerprint): a resume must match it."""
        return self.store.path("models", check_run_name(run), "fingerprint.json")

    def model_pointer(self, run: str) -> str:
        """The small JSON object naming the run's current version: written last, in one atomic write."""
        return self.store.path("models", check_run_name(run), "current.json")

    def model_versions_dir(self, run: str) -> str:
        return self.store.path("models", check_run_name(run), "versions")

    def model_version_dir(self, run: str, version: str) -> str:
        return self.store.path("models", check_run_name(run), "versions", _check_version(version))

    def model_version_file(self, run: str, version: str, name: str) -> str:
        return self.store.path("models", check_run_name(run), "versions", _check_version(version), _check_file_name(name))

    def report_file(self, run: str, name: str) -> str:
        return self.store.path("reports", check_run_name(run), _check_file_name(name))

    def scores_dir(self, candidate: str | None = None) -> str:
        """Production scores, or with `candidate` (a run name) that run's own namespace, apart from production."""
        if candidate is None:
            return self.store.path("scores")
        return self.store.path("candidates", check_run_name(candidate, "candidate run"), "scores")

    def scores(self, date: str, candidate: str | None = None) -> str:
        return posixpath.join(self.scores_dir(candidate), partition(date), "scores.parquet")

    def scan_stats(self, date: str, candidate: str | None = None) -> str:
        """The scan's ScanStats for a date (JSON), beside its scores: `storm metrics push` republishes from both."""
        return posixpath.join(self.scores_dir(candidate), partition(date), "scan_stats.json")

    def scores_lease(self, date: str, candidate: str | None = None) -> str:
        """Which model version owns the date's scores: created exclusively by the first writer."""
        return posixpath.join(self.scores_dir(candidate), partition(date), "lease.json")

    def explanations(self, date: str, candidate: str | None = None) -> str:
        """What drove each of the date's scores (storm.explain.table), written with them under the same lease."""
        return posixpath.join(self.scores_dir(candidate), partition(date), "explanations.parquet")

    def night_report(self, date: str, candidate: str | None = None) -> str:
        """The night's page of alerts, drivers and scores (HTML), written with the scores under the same lease."""
        return posixpath.join(self.scores_dir(candidate), partition(date), "report.html")

    def metrics_textfile(self) -> str:
        """Where the scan writes its exposition when metrics.textfile names no path (storm.metrics.publish)."""
        return self.store.path("metrics", "storm-metrics.prom")

    def exclusive_write_probe(self, token: str) -> str:
        """A throwaway object probing that the store honours exclusive creates (listings skip '.tmp-' names)."""
        return self.store.path("scores", f"lease-probe.tmp-{_check_file_name(token)}")

    def quarantine_dir(self) -> str:
        return self.store.path("quarantine")

    def quarantine(self, date: str, stage: str, source: str) -> str:
        return self.store.path("quarantine", partition(date), f"{stage}-{source}.jsonl")


_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_VERSION = re.compile(r"[0-9a-f]{6,64}")


def _check_file_name(name: str) -> str:
    if not isinstance(name, str) or not _FILE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"file name {name!r} is not allowed in the store layout (one path segment: letters, digits, "
                         "'_', '-', '.', not starting with '.')")
    return name


def _check_version(version: str) -> str:
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ValueError(f"model version {version!r} is not a content hash (6-64 lowercase hex digits)")
    return version


CHART_SUFFIXES = (".png", ".jpg", ".jpeg")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac")
CALLS_FOLDER = "calls"
CALL_TABLE_SUFFIX = ".sentences.parquet"
_CALL_EVENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def check_call_event(event: str) -> str:
    """A call's event name (after the market and its '-'): letters, digits, '_', '.', '-', no '..'."""
    if not isinstance(event, str) or not _CALL_EVENT.fullmatch(event) or ".." in event:
        raise ValueError(f"call event {event!r} is not allowed: 1-100 letters, digits, '_', '.' or '-', "
                         "not starting with '.' or '-', no '..'")
    return event


def _check_source(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"raw input kind {source!r} is not one of {SOURCES}")
    return source


def _strip_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    """The name without the first of ``suffixes`` it ends with (case-insensitive), else unchanged."""
    lowered = name.lower()
    return next((name[: -len(suffix)] for suffix in suffixes if lowered.endswith(suffix)), name)
