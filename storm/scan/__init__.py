"""Nightly scan and backfills: score trading days, keep the scores, publish the metrics."""

from storm.scan.scores import scores_table
from storm.scan.scan import ScanOutcome, scan, trading_days

__all__ = ["ScanOutcome", "scan", "scores_table", "trading_days"]
