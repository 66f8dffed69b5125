"""Prometheus metrics of the nightly scan: the contract, publishing (Pushgateway / textfile) and serving."""

from storm.metrics.contract import ALL_METRICS, build_registry
from storm.metrics.publish import PublishResult, PushFailed, publish, with_textfile
from storm.metrics.stored import read_scan_stats, registry_from_stored_scores, write_scan_stats

__all__ = [
    "ALL_METRICS", "build_registry", "publish", "PublishResult", "PushFailed", "with_textfile",
    "registry_from_stored_scores", "write_scan_stats", "read_scan_stats",
]
