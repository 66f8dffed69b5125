from typer.testing import CliRunner

from storm.cli import app
from storm.cli.train_cmd import calibration_table, history_table, trained_line
from storm.published.calibration import Calibration


def test_train_on_a_store_without_prices_exits_2_and_says_to_generate_a_world(ray_cluster, tmp_path):
    outcome = CliRunner().invoke(app, ["train", "--root", str(tmp_path / "empty"), "--run", "x", "--epochs", "1"])
    assert outcome.exit_code == 2, outcome.output
    assert "no prices" in outcome.output and "storm generate" in outcome.output


def test_tables_number_epochs_from_one_mark_the_best_and_show_each_horizons_threshold():
    from rich.console import Console

    history = [{"epoch": 0, "loss": 1.0, "val_loss": 0.9, "val_auroc_20d": None, "attempt_start_epoch": 0},
               {"epoch": 1, "loss": 0.8, "val_loss": 0.7, "val_auroc_20d": 0.81, "attempt_start_epoch": 0}]
    calibration = Calibration(method="hazard", horizons=[5, 20], slope=0.7, intercept={5: -2.0, 20: -1.5},
                              threshold={5: 0.61, 20: 0.42}, false_alarm_rate=0.1)
    console = Console(width=200, record=True)
    console.print(history_table(history, best_epoch=1))
    console.print(calibration_table(calibration))
    text = console.export_text()
    assert "2 *" in text and "1 *" not in text and "0.81" in text and "val_auroc_20d" in text  # epoch 1 trained 2nd
    assert "0.42" in text and "20d" in text and "0.61" in text


def test_the_trained_line_numbers_the_best_epoch_from_one_as_the_epoch_lines_do():
    from storm.training.trainer import TrainResult

    history = [{"epoch": epoch, "loss": 1.0 / (epoch + 1)} for epoch in range(4)]
    calibration = Calibration(method="hazard", horizons=[20], slope=1.0, intercept={20: -1.0}, threshold={20: 0.5},
                              false_alarm_rate=0.1)
    outcome = TrainResult(run="r", model_dir="models/r", version="v1", split=None, history=history, best_epoch=1,
                          calibration=calibration, seconds=12.0, samples_per_second=900.0)
    assert "(best epoch 2 of 4)" in trained_line(outcome)
