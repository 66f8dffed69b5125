"""Publishing a scan's registry: always a textfile, and a Pushgateway push when one is configured.

The push is `pushadd` (HTTP POST) under the stable grouping key {job}: a PUT
would replace the whole group, and a per-date key would pile up groups that
never go stale (PITFALLS). The textfile is written first and atomically, so
node_exporter's textfile collector or `storm metrics serve` still expose the
scan when the push fails.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from prometheus_client import CollectorRegistry, pushadd_to_gateway, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler

from storm.config import MetricsConfig

PUSH_TIMEOUT_SECONDS = 10.0


class PushFailed(RuntimeError):
    """Every push attempt failed; the textfile holds the metrics and a later push can resend them."""


@dataclass(frozen=True)
class PublishResult:
    textfile: str
    pushed: bool  # False when no Pushgateway is configured
    attempts: int


def publish(
    registry: CollectorRegistry,
    metrics: MetricsConfig,
    date: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishResult:
    """Write the textfile, then push with retries; raise PushFailed (textfile kept) if every try fails.

    date only makes the failure message name the command that republishes it.
    """
    textfile = write_textfile(registry, metrics.textfile)
    if not metrics.pushgateway_url:
        return PublishResult(textfile=textfile, pushed=False, attempts=0)
    attempts = push_with_retries(registry, metrics, date, sleep)
    return PublishResult(textfile=textfile, pushed=True, attempts=attempts)


def write_textfile(registry: CollectorRegistry, path: str) -> str:
    """The exposition written atomically (temporary file + rename by prometheus-client)."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(target), registry)
    return str(target)


def push_with_retries(
    registry: CollectorRegistry, metrics: MetricsConfig, date: str | None, sleep: Callable[[float], None]
) -> int:
    """pushadd with exponential backoff; returns the number of attempts it took."""
    handler = _handler(metrics)
    total = metrics.push_retries + 1
    last_error: OSError | None = None
    for attempt in range(1, total + 1):
        try:
            pushadd_to_gateway(metrics.pushgateway_url, job=metrics.job_name, registry=registry,
                               timeout=PUSH_TIMEOUT_SECONDS, handler=handler)
            return attempt
        except OSError as err:  # refused, timed out, or an HTTP error status (URLError is an OSError)
            last_error = err
            if attempt < total:
                sleep(metrics.push_backoff_seconds * 2 ** (attempt - 1))
    raise PushFailed(_failure_message(metrics, total, last_error, date)) from last_error


def _handler(metrics: MetricsConfig):
    if metrics.pushgateway_username is None:
        return default_handler
    username = metrics.pushgateway_username
    password = metrics.pushgateway_password.get_secret_value() if metrics.pushgateway_password else ""

    def with_basic_auth(url, method, timeout, headers, data):
        return basic_auth_handler(url, method, timeout, headers, data, username, password)

    return with_basic_auth


def _failure_message(metrics: MetricsConfig, attempts: int, err: Exception, date: str | None) -> str:
    redo = f"storm metrics push --date {date}" if date else "storm metrics push --date <scanned date>"
    return (
        f"pushing metrics to the Pushgateway at {metrics.pushgateway_url} (job {metrics.job_name!r}) failed "
        f"{attempts} time(s), last error: {err}. The metrics are in {os.path.abspath(metrics.textfile)}; "
        f"check the Pushgateway (metrics.pushgateway_url) and run `{redo}` to push them again."
    )
