"""`storm generate` from the command line."""

import json

import pandas as pd
from typer.testing import CliRunner

from storm.cli import app


def test_generate_synthetic_prints_a_summary_and_writes_the_world(tmp_path):
    root = tmp_path / "store"
    result = CliRunner().invoke(app, ["generate", "synthetic", "--root", str(root), "--markets", "1", "--days", "60",
                                      "--seed", "3", "--set", "world.with_audio=false", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "storm_20d rate" in result.output and "charts" in result.output
    manifest = json.loads((root / "raw" / "world.json").read_text())
    assert (manifest["kind"], manifest["seed"], manifest["trading_days"]) == ("synthetic", 3, 60)


def test_generate_with_prices_file_replays_it(tmp_path):
    prices = tmp_path / "idx.csv"
    pd.DataFrame({"date": pd.bdate_range("2022-01-03", periods=30).strftime("%Y-%m-%d"), "open": 10.0, "high": 11.0,
                  "low": 9.0, "close": 10.0, "volume": 5.0}).to_csv(prices, index=False)
    result = CliRunner().invoke(app, ["generate", "--root", str(tmp_path / "store"), "--prices", str(prices),
                                      "--set", "world.with_audio=false", "--set", "world.replay_market=IDX", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "store" / "raw" / "prices" / "IDX.parquet").exists()


def test_generate_with_a_prices_file_lacking_a_column_fails_with_its_name(tmp_path):
    prices = tmp_path / "bad.csv"
    pd.DataFrame({"date": ["2022-01-03", "2022-01-04"], "close": [1.0, 2.0]}).to_csv(prices, index=False)
    result = CliRunner().invoke(app, ["generate", "replay", "--root", str(tmp_path / "store"), "--prices", str(prices), "-q"])
    assert result.exit_code == 2
    assert "lacks column(s) open, high, low, volume" in result.output
