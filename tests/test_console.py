"""storm.console: finished stages and epochs as lines a log can keep; nothing at all when silent."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console
from rich.table import Table

from storm.console import LOG_WIDTH, SILENT, StageClock, StageReporter, epoch_line, interval, progress_line


def log_console() -> tuple[Console, io.StringIO]:
    sink = io.StringIO()
    return Console(file=sink, width=80, force_terminal=False, color_system=None), sink


def test_a_finished_stage_prints_one_line_with_its_duration_and_no_blank_lines():
    console, sink = log_console()
    with StageReporter(console).stage("features: text", total=3) as advance:
        advance(3)
    lines = sink.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("✓ features: text ") and lines[0].endswith(" s")


def test_a_failed_stage_is_marked_and_its_error_still_raised():
    console, sink = log_console()
    with pytest.raises(ValueError, match="no prices"):
        with StageReporter(console).stage("ingest"):
            raise ValueError("no prices")
    assert sink.getvalue().startswith("✗ ingest ")


def test_nested_stages_each_print_their_own_line_inner_first():
    console, sink = log_console()
    reporter = StageReporter(console)
    with reporter.stage("train"):
        with reporter.stage("features"):
            pass
    assert [line.split()[1] for line in sink.getvalue().splitlines()] == ["features", "train"]


def test_epoch_line_counts_from_one_and_shows_every_metric_once():
    line = epoch_line({"epoch": 2, "loss": 0.41234, "val_loss": 0.5, "val_auroc_20d": float("nan"),
                       "samples_per_second": 1234.5, "epoch_seconds": 5.25, "attempt_start_epoch": 0}, total_epochs=8)
    assert line == "epoch 3/8  loss 0.412  val_loss 0.500  val_auroc_20d –  1,234 samples/s  5.2 s"


def test_silent_reporter_prints_nothing_and_passes_errors_through(capsys):
    with SILENT.stage("anything", total=2) as advance:
        advance()
    SILENT.epoch({"epoch": 0, "loss": 1.0})
    SILENT.note("hidden")
    assert capsys.readouterr() == ("", "")


@pytest.mark.slow
def test_each_ray_train_report_becomes_one_epoch_line_in_the_driver(ray_cluster, tmp_path):
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    def report_two_epochs(_config: dict) -> None:  # local: shipped by value (workers cannot import this module)
        import ray.train

        for epoch in range(2):
            ray.train.report({"epoch": epoch, "loss": 1.0 / (epoch + 1)})

    console, sink = log_console()
    with StageReporter(console).ray_train_epochs(total_epochs=2) as callbacks:
        TorchTrainer(report_two_epochs, train_loop_config={},
                     scaling_config=ScalingConfig(num_workers=1, resources_per_worker={"CPU": 0.5}),
                     run_config=RunConfig(name="epochs", storage_path=str(tmp_path), callbacks=callbacks)).fit()
    assert sink.getvalue().splitlines() == ["epoch 1/2  loss 1.000", "epoch 2/2  loss 0.500"]


def test_a_silent_reporter_adds_no_ray_train_callback():
    with SILENT.ray_train_epochs(3) as callbacks:
        assert callbacks == []


def test_verbose_flag_turns_ray_console_logs_on_and_the_default_keeps_them_off(monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from storm.cli import app

    monkeypatch.delenv("STORM_RAY__LOG_TO_CONSOLE", raising=False)  # restored after: the flag sets it
    quiet = CliRunner().invoke(app, ["config"])
    verbose = CliRunner().invoke(app, ["--verbose", "config"])
    assert yaml.safe_load(quiet.output)["ray"]["log_to_console"] is False
    assert yaml.safe_load(verbose.output)["ray"]["log_to_console"] is True


def test_a_stage_clock_sums_each_stage_over_its_repeats_and_keeps_the_time_of_a_failed_one():
    clock = StageClock()
    for _ in range(2):
        with clock.timed("train"):
            sum(range(10_000))
    with pytest.raises(ValueError), clock.timed("predict"):
        raise ValueError("boom")
    assert set(clock.seconds) == {"train", "predict"} and all(s > 0 for s in clock.seconds.values())
    assert StageClock().seconds == {}  # a new job starts from nothing


def test_a_log_hears_from_a_long_stage_at_each_interval_with_its_count_and_eta_and_not_after_it_ends():
    console, sink = log_console()
    reporter = StageReporter(console, heartbeat_seconds=0.2)
    with reporter.stage("features: embedding 10 new headlines", total=10) as advance:
        advance(4)
        time.sleep(1.0)
    time.sleep(0.5)
    lines = sink.getvalue().splitlines()
    beats = [line for line in lines if line.startswith("… features: embedding 10 new headlines  4/10 (40%)")]
    assert len(beats) >= 2 and all("elapsed, ETA " in line for line in beats)
    assert lines[-1].startswith("✓ features: embedding 10 new headlines ")  # nothing after the stage's own line


def test_a_log_hears_only_of_the_innermost_running_stage_and_a_stage_without_total_of_its_clock():
    console, sink = log_console()
    reporter = StageReporter(console, heartbeat_seconds=0.2)
    with reporter.stage("ingest and features: calls"):
        time.sleep(0.5)
        with reporter.stage("features: embedding the sentences of 3 new calls", total=3):
            time.sleep(0.7)
    beats = [line for line in sink.getvalue().splitlines() if line.startswith("… ")]
    inner = [i for i, line in enumerate(beats)
             if line.startswith("… features: embedding the sentences of 3 new calls  0/3 (0%)  ")]
    assert beats[0].startswith("… ingest and features: calls  ") and beats[0].endswith("s elapsed")
    assert inner and beats[inner[0]].endswith("elapsed, ETA after the first items")
    assert not [line for line in beats[inner[0]:] if line.startswith("… ingest")]


def test_a_terminal_gets_no_heartbeat_lines():
    sink = io.StringIO()
    console = Console(file=sink, width=100, force_terminal=True, color_system=None)
    with StageReporter(console, heartbeat_seconds=0.1).stage("train", total=2):
        time.sleep(0.35)
    assert "… train" not in sink.getvalue()


def test_a_redirected_console_keeps_long_lines_and_table_headers_whole(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # a width the caller's environment chose is kept (test below)
    sink = io.StringIO()
    console = StageReporter(Console(file=sink, highlight=False)).console  # a file: no width given
    table = Table(title="Alerts at the validation threshold (test blocks)")
    for heading in ("model", "h", "recall", "precision", "false al./mkt-yr", "warned", "lead d", "median lead days"):
        table.add_column(heading)
    table.add_row("fused-with-a-long-name", "20d", "0.50", "0.40", "1.2", "3/4", "5.0", "6.0")
    console.print(table)
    note = "note: " + " ".join(f"word{i}" for i in range(40))
    console.print(note)
    text = sink.getvalue()
    assert console.width == LOG_WIDTH
    assert "false al./mkt-yr" in text and "median lead days" in text and "…" not in text
    assert note in text.splitlines()


def test_a_console_width_the_caller_chose_is_kept():
    console, _ = log_console()
    assert StageReporter(console).console.width == 80


def test_small_intervals_get_the_digits_that_show_whether_they_hold_zero():
    assert interval(0.0017, 0.0001, 0.0033, "{:+.3f}", "{:.2f}") == "+0.0017 [0.0001,0.0033]"
    assert interval(-0.0004, -0.0009, 0.0001, "{:+.4f}", "{:+.4f}") == "-0.0004 [-0.0009,+0.0001]"
    assert interval(0.712, 0.7121, 0.7124, "{:.3f}", "{:.2f}") == "0.712 [0.71,0.71]"  # clear of 0: as asked
    assert interval(0.323, 0.22, 0.40, "{:+.3f}", "{:.2f}") == "+0.323 [0.22,0.40]"  # wide enough already: as asked
    assert interval(0.5, None, None) == "0.500"


def test_a_progress_line_reads_count_share_elapsed_and_eta():
    assert progress_line("features: embedding calls", 400, 1419, 631) == \
        "… features: embedding calls  400/1,419 (28%)  10m 31s elapsed, ETA 26m 47s"
    assert progress_line("training", 0, None, 3900) == "… training  1h 05m elapsed"
