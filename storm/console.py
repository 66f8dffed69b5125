"""storm's own console progress: a live line per running stage, a line per finished stage and per training epoch.

Long stages (ingest, features per modality, training, evaluation, the scan)
take seconds to minutes; a user should see which one is running and how long
it took. Library code takes a `StageReporter` argument that defaults to
`SILENT`, so tests and library callers print nothing; the CLI passes a live one.

    with progress.stage("features: text", total=n_days) as advance:
        ...; advance(1)
    progress.epoch({"epoch": 2, "loss": 0.41, ...}, total_epochs=8)

On a terminal the running stages show a spinner (a bar when the total is known)
and their elapsed time; in a log (a Ray job, a pipe) only the finished lines appear.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Any, Callable, Iterator, Mapping

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

Advance = Callable[..., None]
EPOCH_KEYS_SHOWN_APART = ("run", "job", "epoch", "samples_per_second", "epoch_seconds", "attempt_start_epoch")


class StageReporter:
    def __init__(self, console: Console | None = None, enabled: bool = True):
        self.enabled = enabled
        self.console = console or Console(highlight=False)
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), CountedBarColumn(bar_width=20),
                                  CountColumn(), TimeElapsedColumn(), console=self.console, transient=True)
        self._running = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def stage(self, description: str, total: int | None = None) -> Iterator[Advance]:
        """Show `description` while the block runs; yields advance(n=1) for stages with a known total."""
        if not self.enabled:
            yield _ignore
            return
        started = time.perf_counter()
        task = self._open(description, total)
        failed = False
        try:
            yield lambda n=1: self._progress.advance(task, n)
        except BaseException:
            failed = True
            raise
        finally:
            self._close(task)
            mark = "[red]✗[/]" if failed else "[green]✓[/]"
            self.console.print(f"{mark} {description} [dim]{time.perf_counter() - started:.1f} s[/]")

    def epoch(self, metrics: Mapping[str, Any], total_epochs: int | None = None) -> None:
        """One line per training epoch, from the metrics a worker reported (ray.train.report)."""
        if self.enabled:
            self.console.print(epoch_line(metrics, total_epochs))

    @contextlib.contextmanager
    def ray_train_epochs(self, total_epochs: int | None = None) -> Iterator[list]:
        """Callbacks for Ray Train's RunConfig(callbacks=…) that print an epoch line here per report.

        An empty list when silent: no queue actor is started then.
        """
        if not self.enabled:
            yield []
            return
        from storm.ray_runtime import epoch_feed

        with epoch_feed(lambda metrics: self.epoch(metrics, total_epochs)) as callbacks:
            yield callbacks

    def note(self, message: str) -> None:
        if self.enabled:
            self.console.print(f"[dim]{message}[/]")

    def _open(self, description: str, total: int | None) -> int:
        with self._lock:
            if self._running == 0 and self.console.is_terminal:  # a log gets the finished lines only
                self._progress.start()
            self._running += 1
            return self._progress.add_task(description, total=total)

    def _close(self, task: int) -> None:
        with self._lock:
            self._progress.remove_task(task)
            self._running -= 1
            if self._running == 0 and self._progress.live.is_started:
                self._progress.stop()


class CountedBarColumn(BarColumn):
    """A bar only for stages that know their total; the spinner and the clock say the others are alive."""

    def render(self, task: Task):
        return super().render(task) if task.total is not None else Text("")


class CountColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.completed:.0f}/{task.total:.0f}" if task.total is not None else "")


SILENT = StageReporter(enabled=False)


class StageClock:
    """Seconds per named stage of one job, summed over its repeats (each fold's training adds to "train").

    One per job (an evaluation makes its own), so no timing outlives the job or leaks into the next one.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def epoch_line(metrics: Mapping[str, Any], total_epochs: int | None = None) -> str:
    """`demo-fold1: epoch 3/8  loss 0.412  val_loss 0.455  val_auroc_20d 0.712  1,234 samples/s  5.2 s` (epochs counted from 1)."""
    number = int(metrics.get("epoch", 0)) + 1
    parts = [f"{metrics['run']}:"] if metrics.get("run") else []
    parts.append(f"epoch {number}/{total_epochs}" if total_epochs else f"epoch {number}")
    parts += [f"{key} {_figure(value)}" for key, value in metrics.items() if key not in EPOCH_KEYS_SHOWN_APART]
    if metrics.get("samples_per_second"):
        parts.append(f"{metrics['samples_per_second']:,.0f} samples/s")
    if metrics.get("epoch_seconds"):
        parts.append(f"{metrics['epoch_seconds']:.1f} s")
    return "  ".join(parts)


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _ignore(*_args, **_kwargs) -> None:
    return None


def probability(value: float) -> str:
    """A calibrated probability readable at any size: short horizons' scores can be 1e-6."""
    return f"{value:.3f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.2e}"


def signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + probability(abs(value))
