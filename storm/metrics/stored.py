"""Metrics rebuilt from what a scan stored, so a failed push can be redone later.

The scan writes scores/date=D/scores.parquet and, beside it,
scores/date=D/scan_stats.json (`write_scan_stats`); `storm metrics push
--date D` reads both back into the same registry the scan published.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Mapping

from prometheus_client import CollectorRegistry

from storm.metrics.contract import build_registry
from storm.schema import ScanStats
from storm.store import Layout, ObjectStore


def scan_stats_to_json(stats: ScanStats) -> str:
    payload = asdict(stats)
    payload["markets_missing"] = list(stats.markets_missing)
    return json.dumps(payload, sort_keys=True, indent=2)


def scan_stats_from_json(text: str) -> ScanStats:
    payload = json.loads(text)
    payload["markets_missing"] = tuple(payload.get("markets_missing", ()))
    return ScanStats(**payload)


def write_scan_stats(store: ObjectStore, layout: Layout, stats: ScanStats, candidate: str | None = None) -> str:
    """Store a scan's stats beside its scores (atomic; a candidate run's in its own namespace); returns the path."""
    path = layout.scan_stats(stats.date, candidate)
    store.write_text(path, scan_stats_to_json(stats))
    return path


def read_scan_stats(store: ObjectStore, layout: Layout, date: str, candidate: str | None = None) -> ScanStats | None:
    """The stored stats of date's scan, or None when the scan stored none."""
    path = layout.scan_stats(date, candidate)
    if not store.exists(path):
        return None
    try:
        return scan_stats_from_json(store.read_text(path))
    except (ValueError, TypeError) as err:
        raise ValueError(f"scan stats {path} are not valid ScanStats JSON ({err}); rerun `storm scan` for {date}") from err


def registry_from_stored_scores(
    store: ObjectStore,
    layout: Layout,
    date: str,
    model_info: Mapping[str, str] | None = None,
    thresholds: Mapping[int, float] | None = None,
    candidate: str | None = None,
) -> CollectorRegistry:
    """The registry of date's scan from its stored scores (and stats when stored)."""
    path = layout.scores(date, candidate)
    if not store.exists(path):
        raise FileNotFoundError(f"no scores for {date} at {path}; run `storm scan --start {date} --end {date}` first")
    scores = store.read_table(path).to_pandas()
    stats = read_scan_stats(store, layout, date, candidate)
    return build_registry(scores, stats, dict(model_info or {}), thresholds)
