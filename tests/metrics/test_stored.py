"""Scan stats stored beside the scores round-trip, and a broken file says where it is and what to do."""

from __future__ import annotations

import pytest

from metrics_samples import make_stats
from storm.config import StorageConfig
from storm.metrics import read_scan_stats, write_scan_stats
from storm.store import Layout, open_store


@pytest.fixture
def layout(tmp_path) -> Layout:
    return Layout(open_store(StorageConfig(root=str(tmp_path / "store"))))


def test_scan_stats_round_trip_beside_the_scores(layout):
    stats = make_stats("2024-03-15")
    path = write_scan_stats(layout.store, layout, stats)
    assert path == layout.scan_stats("2024-03-15") and path.endswith("scores/date=2024-03-15/scan_stats.json")
    assert read_scan_stats(layout.store, layout, "2024-03-15") == stats


def test_absent_scan_stats_read_as_none(layout):
    assert read_scan_stats(layout.store, layout, "2024-03-15") is None


def test_corrupt_scan_stats_name_the_file_and_the_fix(layout):
    layout.store.write_text(layout.scan_stats("2024-03-15"), '{"date": "2024-03-15", "bogus": 1}')
    with pytest.raises(ValueError, match=r"scan_stats\.json.*storm scan"):
        read_scan_stats(layout.store, layout, "2024-03-15")
