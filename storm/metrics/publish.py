"""Publishing a scan's registry: always a textfile, and a Pushgateway push when one is configured.

The push is `pushadd` (HTTP POST) under the stable grouping key {job}: a PUT
would replace the whole group, and a per-date key would pile up groups that
never go stale (docs/ARCHITECTURE.md, facts about the parts). The textfile is written first and atomically, so
node_exporter's textfile collector or `storm metrics serve` still expose the
scan when the push fails.

A candidate run's scan publishes under its own grouping key {job, candidate}
(every pushed series then carries candidate="<run>", apart from production)
and to its own textfile, named so that a textfile collector reading *.prom
does not pick it up beside production's. Unless metrics.textfile names a path, the textfile lands under a local
store's root (metrics/storm-metrics.prom, the layout's), not in whatever folder the scan ran from.
"""

from __future__ import annotations

import http.client
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from prometheus_client import CollectorRegistry, pushadd_to_gateway, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler

from storm.config import MetricsConfig
from storm.names import check_run_name
from storm.redact import redact
from storm.store import Layout

PUSH_TIMEOUT_SECONDS = 10.0
REMOTE_STORE_TEXTFILE = "storm-metrics.prom"  # metrics.textfile unset beside an S3 store: the current folder


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
    candidate: str | None = None,
) -> PublishResult:
    """Write the textfile, then push with retries; raise PushFailed (textfile kept) if every try fails.

    date only makes the failure message name the command that republishes it; candidate (a run name)
    publishes a candidate run's scan apart from production (grouping_key, textfile_for).
    """
    textfile = write_textfile(registry, textfile_for(metrics, candidate))
    if not metrics.pushgateway_url:
        return PublishResult(textfile=textfile, pushed=False, attempts=0)
    attempts = push_with_retries(registry, metrics, date, sleep, candidate)
    return PublishResult(textfile=textfile, pushed=True, attempts=attempts)


def grouping_key(candidate: str | None = None) -> dict[str, str]:
    """The Pushgateway grouping key besides job: none for production, {candidate: run} for a candidate run."""
    return {} if candidate is None else {"candidate": check_run_name(candidate, "candidate run")}


def with_textfile(metrics: MetricsConfig, layout: Layout) -> MetricsConfig:
    """``metrics`` with its textfile settled: metrics.textfile when it names a path, else the store's own
    (Layout.metrics_textfile) on a local store. An S3 store's object is no file node_exporter or `storm metrics
    serve` could read, so beside one it is REMOTE_STORE_TEXTFILE in the current folder."""
    if metrics.textfile:
        return metrics
    textfile = layout.metrics_textfile() if layout.store.is_local else REMOTE_STORE_TEXTFILE
    return metrics.model_copy(update={"textfile": textfile})


def textfile_for(metrics: MetricsConfig, candidate: str | None = None) -> str:
    """metrics.textfile for production; beside it, <stem>.candidate-<run>.txt for a candidate run."""
    if not metrics.textfile:
        raise ValueError("metrics.textfile names no path: settle it with storm.metrics.publish.with_textfile(metrics, "
                         "layout) (the store's own) before publishing")
    if candidate is None:
        return metrics.textfile
    path = Path(metrics.textfile)
    return str(path.with_name(f"{path.stem}.candidate-{check_run_name(candidate, 'candidate run')}.txt"))


def write_textfile(registry: CollectorRegistry, path: str) -> str:
    """The exposition written atomically (temporary file + rename by prometheus-client)."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(target), registry)
    return str(target)


def push_with_retries(
    registry: CollectorRegistry, metrics: MetricsConfig, date: str | None, sleep: Callable[[float], None],
    candidate: str | None = None,
) -> int:
    """pushadd with exponential backoff; returns the number of attempts it took.

    Every failure ends as PushFailed: a network or HTTP error (retried), a broken answer such as a bad status
    line (retried), or a URL that cannot be pushed to at all (not retried).
    """
    handler = _handler(metrics)
    total = metrics.push_retries + 1
    last_error: Exception | None = None
    for attempt in range(1, total + 1):
        try:
            pushadd_to_gateway(metrics.pushgateway_url, job=metrics.job_name, registry=registry,
                               grouping_key=grouping_key(candidate), timeout=PUSH_TIMEOUT_SECONDS, handler=handler)
            return attempt
        except (OSError, http.client.HTTPException) as err:  # refused, timed out, HTTP error, BadStatusLine, …
            last_error = err
            if attempt < total:
                sleep(metrics.push_backoff_seconds * 2 ** (attempt - 1))
        except ValueError as err:  # a malformed URL ("unknown url type", bad port): no retry can help
            raise PushFailed(_failure_message(metrics, attempt, err, date, candidate)) from None
    raise PushFailed(_failure_message(metrics, total, last_error, date, candidate)) from None


def _handler(metrics: MetricsConfig):
    if metrics.pushgateway_username is None:
        return default_handler
    username = metrics.pushgateway_username
    password = metrics.pushgateway_password.get_secret_value() if metrics.pushgateway_password else ""

    def with_basic_auth(url, method, timeout, headers, data):
        return basic_auth_handler(url, method, timeout, headers, data, username, password)

    return with_basic_auth


def _failure_message(metrics: MetricsConfig, attempts: int, err: Exception, date: str | None,
                     candidate: str | None = None) -> str:
    """What failed and how to redo it; URL credentials and the password never appear in it."""
    redo = f"storm metrics push --date {date}" if date else "storm metrics push --date <scanned date>"
    password = metrics.pushgateway_password.get_secret_value() if metrics.pushgateway_password else ""
    message = (
        f"pushing metrics to the Pushgateway at {metrics.pushgateway_url} (job {metrics.job_name!r}"
        f"{f', candidate {candidate!r}' if candidate else ''}) failed {attempts} time(s), last error: "
        f"{type(err).__name__}: {str(err)[:300]}. "
        f"The metrics are in {os.path.abspath(textfile_for(metrics, candidate))}; "
        f"check the Pushgateway (metrics.pushgateway_url) and run `{redo}` to push them again."
    )
    return redact(message, [password])
