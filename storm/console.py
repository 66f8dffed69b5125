"""storm's own console progress: a live line per running stage, a line per finished stage and per training epoch.

Long stages (ingest, features per modality, training, evaluation, the scan)
take seconds to minutes; a user should see which one is running, how far it
is and how long it took. Library code takes a `StageReporter` argument that
defaults to `SILENT`, so tests and library callers print nothing; the CLI
passes a live one.

    with progress.stage("features: text", total=n_days) as advance:
        ...; advance(1)
    progress.epoch({"epoch": 2, "loss": 0.41, ...}, total_epochs=8)

On a terminal the running stages show a spinner (a bar, a count and an ETA when
the total is known) and their elapsed time. In a log (a Ray job, a pipe, a file)
the innermost running stage gets a line every `heartbeat_seconds` (its count and
ETA when the total is known), and each finished stage its line; the log's lines
are never wrapped (`readable_when_redirected`).
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from typing import Any, Callable, Iterator, Mapping

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

Advance = Callable[..., None]
EPOCH_KEYS_SHOWN_APART = ("run", "job", "epoch", "samples_per_second", "epoch_seconds", "attempt_start_epoch")
HEARTBEAT_SECONDS = 20.0  # a log hears from a running stage at least this often
LOG_WIDTH = 240  # columns a table may take in a log: storm's widest tables fit whole, headers included
MAX_INTERVAL_DECIMALS = 6


def readable_when_redirected(console: Console) -> Console:
    """A console writing to a file or a pipe, made to keep whole lines: text is never wrapped and tables get
    ``LOG_WIDTH`` columns (Rich's default there is 80, which wrapped lines and cut headers to "reca…").

    A width the caller gave, or COLUMNS, is kept; a terminal is left as it is.
    """
    if not console.is_terminal and not console.is_jupyter and console._width is None:  # Rich: no width given
        console.width = LOG_WIDTH
        console.soft_wrap = True
    return console


def progress_line(description: str, done: float, total: float | None, elapsed: float) -> str:
    """`… features: embedding calls  400/1,419 (28%)  10m 31s elapsed, ETA 26m 46s` (no count without a total)."""
    if total is None:
        return f"… {description}  {duration(elapsed)} elapsed"
    left = time_left(done, total, elapsed)
    share = f" ({done / total:.0%})" if total else ""
    eta = f"ETA {duration(left)}" if left is not None else "ETA after the first items"
    return f"… {description}  {done:,.0f}/{total:,.0f}{share}  {duration(elapsed)} elapsed, {eta}"


def time_left(done: float, total: float | None, elapsed: float) -> float | None:
    """Seconds to the total at the average rate so far; None before the first item or without a total."""
    if total is None or done <= 0:
        return None
    return max(0.0, elapsed * (total - done) / done)


def duration(seconds: float) -> str:
    """`42s`, `3m 05s`, `1h 02m`: as long as a wait reads."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


class StageReporter:
    def __init__(self, console: Console | None = None, enabled: bool = True,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS):
        self.enabled = enabled
        self.console = readable_when_redirected(console or Console(highlight=False))
        self.heartbeat_seconds = heartbeat_seconds
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), CountedBarColumn(bar_width=20),
                                  CountColumn(), TimeElapsedColumn(), EtaColumn(), console=self.console,
                                  transient=True)
        self._running = 0
        self._lock = threading.Lock()
        self._last_line: dict[int, float] = {}  # stage -> when the log last heard of it (its start, at first)
        self._heartbeat_stop: threading.Event | None = None

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
            self.console.print(f"{mark} {description} [dim]{time.perf_counter() - started:.1f} s[/]", soft_wrap=True)

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
            if self._running == 0:
                if self.console.is_terminal:
                    self._progress.start()
                elif self.heartbeat_seconds > 0:  # a log: a line per interval instead of the live display
                    self._heartbeat_stop = threading.Event()
                    threading.Thread(target=self._beat_until, args=(self._heartbeat_stop,), daemon=True,
                                     name="storm-progress-heartbeat").start()
            self._running += 1
            task = self._progress.add_task(description, total=total)
            self._last_line[task] = time.monotonic()
            return task

    def _close(self, task: int) -> None:
        with self._lock:
            self._progress.remove_task(task)
            self._last_line.pop(task, None)
            self._running -= 1
            if self._running == 0:
                if self._progress.live.is_started:
                    self._progress.stop()
                if self._heartbeat_stop is not None:
                    self._heartbeat_stop.set()
                    self._heartbeat_stop = None

    def _beat_until(self, stop: threading.Event) -> None:
        while not stop.wait(min(1.0, self.heartbeat_seconds)):
            line = self._due_line()
            if line is not None and not stop.is_set():
                self.console.print(Text(line, style="dim"), soft_wrap=True)

    def _due_line(self) -> str | None:
        """The innermost running stage's progress line, when the log has not heard of it for an interval."""
        with self._lock:
            if not self._progress.tasks:
                return None
            task = self._progress.tasks[-1]
            now = time.monotonic()
            if now - self._last_line.get(task.id, now) < self.heartbeat_seconds:
                return None
            self._last_line[task.id] = now
            return progress_line(task.description, task.completed, task.total, task.elapsed or 0.0)


class CountedBarColumn(BarColumn):
    """A bar only for stages that know their total; the spinner and the clock say the others are alive."""

    def render(self, task: Task):
        return super().render(task) if task.total is not None else Text("")


class CountColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.completed:,.0f}/{task.total:,.0f}" if task.total is not None else "")


class EtaColumn(ProgressColumn):
    """Time left at the stage's average rate so far, for stages that know their total."""

    def render(self, task: Task) -> Text:
        left = time_left(task.completed, task.total, task.elapsed or 0.0)
        return Text("" if left is None else f"ETA {duration(left)}")


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


def shown_epoch(epoch: int) -> int:
    """An epoch as the console numbers it: training counts from 0 (history, model card), a reader from 1."""
    return int(epoch) + 1


def epoch_line(metrics: Mapping[str, Any], total_epochs: int | None = None) -> str:
    """`demo-fold1: epoch 3/8  loss 0.412  val_loss 0.455  val_auroc_20d 0.712  1,234 samples/s  5.2 s` (epochs counted from 1)."""
    number = shown_epoch(metrics.get("epoch", 0))
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


_FIXED = re.compile(r"\{:(?P<sign>\+?)\.(?P<decimals>\d+)f\}")


def interval(estimate: float, low: float | None, high: float | None, fmt: str = "{:.3f}",
             bound_fmt: str = "{:.2f}") -> str:
    """`estimate [low,high]`, the bounds with as many decimals as it takes (up to 6) for a bound that is not 0 never
    to read 0, so the interval shows which side of 0 it lies: `+0.002 [0.00,0.00]` hid [0.0001, 0.0033]. Widened
    bounds widen the estimate with them; intervals that read well as asked stay as asked.
    """
    if low is None or high is None:
        return fmt.format(estimate)
    estimate_spec, bound_spec = _FIXED.fullmatch(fmt), _FIXED.fullmatch(bound_fmt)
    if estimate_spec is None or bound_spec is None:  # not a fixed-point format: as asked
        return f"{fmt.format(estimate)} [{bound_fmt.format(low)},{bound_fmt.format(high)}]"
    sign = bound_spec["sign"]
    low, high = low + 0.0, high + 0.0  # -0.0 reads 0
    decimals = _decimals_showing_sign(low, high, int(bound_spec["decimals"]))
    shown = int(estimate_spec["decimals"])
    if decimals > int(bound_spec["decimals"]):
        shown = max(shown, decimals)
    return f"{estimate:{estimate_spec['sign']}.{shown}f} [{low:{sign}.{decimals}f},{high:{sign}.{decimals}f}]"


def _decimals_showing_sign(low: float, high: float, decimals: int) -> int:
    def reads_zero(value: float, places: int) -> bool:
        return value != 0 and float(f"{value:.{places}f}") == 0

    while decimals < MAX_INTERVAL_DECIMALS and (reads_zero(low, decimals) or reads_zero(high, decimals)):
        decimals += 1
    return decimals
