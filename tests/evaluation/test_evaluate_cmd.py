"""`storm evaluate` on a store it cannot judge tells the user what to run or change instead of a traceback."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from storm.cli import app


def test_evaluate_without_a_world_names_the_missing_prices_and_the_fix(tmp_path):
    result = CliRunner().invoke(app, ["evaluate", "--root", str(tmp_path / "store"), "--run", "nothing"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "raw/prices" in output and "storm generate" in output


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_excess_storms_on_a_world_of_one_market_are_refused_before_training_with_the_fix(tmp_path, command):
    days = np.busday_offset("2015-01-01", np.arange(300), roll="forward")
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.02, len(days))))
    prices = tmp_path / "SPX.csv"
    prices.write_text("Date,Open,High,Low,Close\n" + "".join(f"{day},{level:.4f},{level:.4f},{level:.4f},{level:.4f}\n"
                                                             for day, level in zip(days, close)))
    root = str(tmp_path / "store")
    imported = CliRunner().invoke(app, ["import", "prices", str(prices), "--root", root])
    assert imported.exit_code == 0, imported.output

    result = CliRunner().invoke(app, [command, "--root", root, "--run", "excess", "--set", "labels.kind=excess"])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "world of one market" in output and "labels.index_market" in output
    assert not (tmp_path / "store" / "models").exists()  # refused before any fold model was trained
