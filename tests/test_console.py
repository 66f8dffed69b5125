"""storm.console: finished stages and epochs as lines a log can keep; nothing at all when silent."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from storm.console import SILENT, StageClock, StageReporter, epoch_line


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
