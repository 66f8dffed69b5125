"""`storm evaluate` on a store with no world tells the user what to run instead of a traceback."""

from __future__ import annotations

from typer.testing import CliRunner

from storm.cli import app


def test_evaluate_without_a_world_names_the_missing_prices_and_the_fix(tmp_path):
    result = CliRunner().invoke(app, ["evaluate", "--root", str(tmp_path / "store"), "--run", "nothing"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "raw/prices" in output and "storm generate" in output
