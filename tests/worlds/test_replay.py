"""The replay world: real prices in, text and audio from the past only, clear errors on bad files."""

import numpy as np
import pandas as pd
import pytest

from storm.config import WorldConfig
from storm.worlds.replay import PricesFileError, load_replay_prices, past_stress, read_prices_file, replay_world


def write_prices_csv(path, n_days: int = 40, drop: str | None = None):
    dates = pd.bdate_range("2021-03-01", periods=n_days)
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n_days)))
    frame = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Open": close, "High": close * 1.01, "Low": close * 0.99,
                          "Close": close, "Volume": 1e6})
    frame.drop(columns=[drop] if drop else []).iloc[::-1].to_csv(path, index=False)  # reversed: the reader sorts
    return frame


def test_prices_file_is_read_with_lowercase_columns_sorted_by_date(tmp_path):
    written = write_prices_csv(tmp_path / "idx.csv")
    prices = read_prices_file(str(tmp_path / "idx.csv"))
    assert list(prices.columns) == ["date", "open", "high", "low", "close", "volume"]
    assert prices["date"].tolist() == written["Date"].tolist()
    np.testing.assert_allclose(prices["close"], written["Close"])


def test_missing_price_column_is_a_clear_error_naming_it(tmp_path):
    write_prices_csv(tmp_path / "novol.csv", drop="Volume")
    with pytest.raises(PricesFileError, match=r"novol\.csv lacks column\(s\) volume"):
        read_prices_file(str(tmp_path / "novol.csv"))


def test_missing_prices_file_is_a_clear_error(tmp_path):
    with pytest.raises(PricesFileError, match=r"nowhere\.csv does not exist.*world\.prices_file"):
        read_prices_file(str(tmp_path / "nowhere.csv"))


def test_parquet_prices_file_and_date_range_are_honoured(tmp_path):
    written = write_prices_csv(tmp_path / "idx.csv")
    written.to_parquet(tmp_path / "idx.parquet")
    world = WorldConfig(kind="replay", prices_file=str(tmp_path / "idx.parquet"),
                        replay_start="2021-03-05", replay_end="2021-03-31")
    prices, _ = load_replay_prices(world)
    assert prices["date"].iloc[0] == "2021-03-05" and prices["date"].iloc[-1] == "2021-03-31"


def test_arch_sp500_short_range_loads_real_prices():
    prices, source = load_replay_prices(WorldConfig(kind="replay", replay_start="2008-09-01", replay_end="2008-10-31"))
    assert source == "arch.data.sp500" and 40 <= len(prices) <= 45
    assert prices["close"].iloc[-1] < 0.85 * prices["close"].iloc[0]  # autumn 2008 fell hard


def test_stress_for_a_day_never_depends_on_later_prices():
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 120)))
    crashed = close.copy()
    crashed[80:] *= 0.5
    np.testing.assert_array_equal(past_stress(close)[:80], past_stress(crashed)[:80])
    assert past_stress(crashed)[85] > past_stress(close)[85]


def test_replay_text_and_audio_pressure_ignores_the_future(tmp_path):
    write_prices_csv(tmp_path / "idx.csv", n_days=60)
    future_changed = read_prices_file(str(tmp_path / "idx.csv"))
    future_changed.loc[40:, ["open", "high", "low", "close"]] *= 0.6
    future_changed.to_csv(tmp_path / "changed.csv", index=False)
    original = replay_world(WorldConfig(kind="replay", prices_file=str(tmp_path / "idx.csv")))
    changed = replay_world(WorldConfig(kind="replay", prices_file=str(tmp_path / "changed.csv")))
    np.testing.assert_array_equal(original.news_pressure[:, :40], changed.news_pressure[:, :40])
    np.testing.assert_array_equal(original.speech_pressure[:, :40], changed.speech_pressure[:, :40])
    assert original.fragility is None
