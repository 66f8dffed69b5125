"""Connecting to Ray (a local cluster by default, RAY_ADDRESS / --address for a real one) and keeping it quiet.

Ray's own logs (its loggers in this process, the output of every worker,
Ray Data's progress bars) go to the session's log files unless
`ray.log_to_console` (`storm --verbose`) asks for them on the console, so
what a user reads is storm's own progress. This is Ray's logging
configuration (`ray.init(log_to_driver=…)`, the `ray` loggers, the Data
context), not a filter on stdout.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import ray
from ray.train import UserCallback

from storm.config import RayConfig

RAY_LOGGERS = ("ray", "py.warnings")  # "ray" covers ray.data, ray.train, ray.tune and Ray core in this process
DRIVER_LOG_NAME = "storm-driver-ray.log"


def ensure_ray(config: RayConfig) -> Path | None:
    """Start or join Ray once per process; a session already running (tests, Ray jobs) is reused.

    Returns the folder Ray logs to when they are kept off the console (None when shown, or when Ray was already up).
    """
    if ray.is_initialized():
        return None
    held = None if config.log_to_console else _hold_ray_logs()
    # configure_logging=False would clear the "ray" logger's handlers (ours too) and leave Python's last-resort
    # stderr handler; True only sets the level and the format of the handlers it finds.
    options: dict[str, Any] = dict(log_to_driver=config.log_to_console, configure_logging=True, logging_level=logging.INFO)
    if config.address:
        ray.init(address=config.address, **options)
    else:
        ray.init(num_cpus=config.num_cpus or local_logical_cpus(), include_dashboard=False, **options)
    _show_ray_data_on_console(config.log_to_console)
    return None if held is None else _write_held_logs(held)


def local_logical_cpus() -> int:
    """Logical CPUs to declare for a local cluster: at least 4.

    Ray Train workers each hold a CPU for the whole run; on a 2-core machine they
    would leave none for the Ray Data stages feeding them and the run hangs
    (docs/ARCHITECTURE.md). Declaring more logical CPUs than cores only oversubscribes.
    """
    return max(os.cpu_count() or 1, 4)


def ray_logs_dir() -> Path | None:
    """The running session's log folder on this node (worker output, raylet, Ray Data, storm's driver log)."""
    node = ray._private.worker._global_node  # the only handle on the session dir Ray exposes to a driver
    return Path(node.get_logs_dir_path()) if node is not None else None


def _hold_ray_logs() -> logging.handlers.MemoryHandler:
    """Until the session (and so its log folder) exists, Ray's driver-side records wait in memory."""
    held = logging.handlers.MemoryHandler(capacity=100_000, flushLevel=logging.CRITICAL + 1)
    logging.captureWarnings(True)  # Ray's deprecation warnings are warnings.warn calls, not log records
    for name in RAY_LOGGERS:
        logger = logging.getLogger(name)
        _drop_console_handlers(logger)  # `import ray` gave its logger one
        logger.addHandler(held)
        logger.propagate = False  # never to Python's last-resort stderr handler
    return held


def _write_held_logs(held: logging.handlers.MemoryHandler) -> Path | None:
    folder = ray_logs_dir()
    if folder is None:
        return None
    target = logging.FileHandler(folder / DRIVER_LOG_NAME)
    target.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    held.setTarget(target)
    held.flush()
    for name in RAY_LOGGERS:
        logger = logging.getLogger(name)
        logger.removeHandler(held)
        logger.addHandler(target)
    return folder


def _show_ray_data_on_console(shown: bool) -> None:
    """Ray Data's progress bars and its console handler (it keeps its own ray-data.log either way)."""
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = shown
    if shown:
        return
    _drop_console_handlers(logging.getLogger("ray.data"))


def _drop_console_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            logger.removeHandler(handler)


class EpochFeed(UserCallback):
    """Ray Train callback: runs in the Train controller and sends rank 0's metrics of each report to the driver."""

    def __init__(self, channel: "ray.util.queue.Queue"):
        self.channel = channel

    def after_report(self, run_context, metrics: list[dict[str, Any]], checkpoint) -> None:
        if metrics:
            self.channel.put(dict(metrics[0]))


@contextlib.contextmanager
def epoch_feed(on_epoch: Callable[[Mapping[str, Any]], None]) -> Iterator[list[UserCallback]]:
    """Callbacks for RunConfig(callbacks=…): on_epoch(metrics) is called in this process for every report.

    The controller's own output reaches the driver only with log_to_driver, so the
    metrics travel through a small queue actor instead.
    """
    from ray.util.queue import Queue

    channel = Queue(actor_options={"num_cpus": 0})
    finished = threading.Event()

    def drain() -> None:
        while not (finished.is_set() and channel.empty()):
            with contextlib.suppress(queue.Empty):
                on_epoch(channel.get(timeout=0.5))

    reader = threading.Thread(target=drain, name="storm-epoch-feed", daemon=True)
    reader.start()
    try:
        yield [EpochFeed(channel)]
    finally:
        finished.set()
        reader.join(timeout=30)
        channel.shutdown()
