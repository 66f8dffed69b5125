"""The replay world: real daily prices (arch's S&P 500 1999–2018, or a user's file) rendered to charts.

Any text or audio it adds is driven by a stress signal built only from the
past (trailing volatility and drawdown), so no headline knows the future.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from storm.config import WorldConfig
from storm.schema import PRICE_COLUMNS
from storm.store.layout import check_market
from storm.worlds.plan import WorldPlan, market_rng, noisy_view

NEWS_VIEW_STREAM, SPEECH_VIEW_STREAM = 1, 2
ARCH_SP500 = "arch.data.sp500"
TRAILING_VOL_DAYS = 20
TRAILING_PEAK_DAYS = 60
CALM_ANNUAL_VOL = 0.16


class PricesFileError(ValueError):
    """A replay prices file is missing or lacks what storm needs; the message says which and what to do."""


def load_replay_prices(world: WorldConfig) -> tuple[pd.DataFrame, str]:
    """PRICE_COLUMNS sorted by date within world.replay_start..replay_end, and where they came from."""
    if world.prices_file is None:
        prices, source = _arch_sp500(), ARCH_SP500
    else:
        prices, source = read_prices_file(world.prices_file), world.prices_file
    if world.replay_start:
        prices = prices[prices["date"] >= world.replay_start]
    if world.replay_end:
        prices = prices[prices["date"] <= world.replay_end]
    if len(prices) < 2:
        raise PricesFileError(f"prices from {source} hold {len(prices)} trading day(s) between "
                              f"world.replay_start={world.replay_start} and world.replay_end={world.replay_end}; widen the range")
    return prices.reset_index(drop=True), source


def read_prices_file(path: str) -> pd.DataFrame:
    """A csv or parquet with date, open, high, low, close, volume (any case); one row per trading day."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise PricesFileError(f"prices file {path} does not exist; set world.prices_file (or --prices) to a csv or "
                              f"parquet with columns {', '.join(PRICE_COLUMNS)}")
    raw = pd.read_parquet(file) if file.suffix.lower() in (".parquet", ".pq") else pd.read_csv(file)
    raw.columns = [str(column).strip().lower() for column in raw.columns]
    missing = [column for column in PRICE_COLUMNS if column not in raw.columns]
    if missing:
        raise PricesFileError(f"prices file {path} lacks column(s) {', '.join(missing)} (it has: "
                              f"{', '.join(raw.columns)}); storm needs {', '.join(PRICE_COLUMNS)}")
    return _normalise(raw[list(PRICE_COLUMNS)], path)


def _arch_sp500() -> pd.DataFrame:
    from arch.data import sp500

    raw = sp500.load().reset_index()
    raw.columns = [str(column).strip().lower() for column in raw.columns]
    return _normalise(raw[list(PRICE_COLUMNS)], ARCH_SP500)


def _normalise(prices: pd.DataFrame, source: str) -> pd.DataFrame:
    try:
        dates = pd.to_datetime(prices["date"])
    except (ValueError, TypeError) as err:
        raise PricesFileError(f"prices file {source}: column date is not a date ({err})") from None
    table = prices.astype({column: np.float64 for column in PRICE_COLUMNS[1:]}).assign(date=dates.dt.strftime("%Y-%m-%d"))
    table = table.dropna(subset=["close"]).sort_values("date", kind="stable").drop_duplicates("date", keep="last")
    if (table["close"] <= 0).any():
        bad = table.loc[table["close"] <= 0, "date"].iloc[0]
        raise PricesFileError(f"prices file {source}: close must be positive (date {bad})")
    return table.reset_index(drop=True)


def past_stress(close: np.ndarray) -> np.ndarray:
    """[0, 1] stress on day t from closes up to t only: trailing volatility and fall from the trailing peak."""
    closes = pd.Series(np.asarray(close, dtype=np.float64))
    log_returns = np.log(closes).diff()
    annual_vol = log_returns.rolling(TRAILING_VOL_DAYS, min_periods=5).std() * np.sqrt(252.0)
    annual_vol = annual_vol.fillna(CALM_ANNUAL_VOL).clip(lower=1e-3)
    fall_from_peak = 1.0 - closes / closes.rolling(TRAILING_PEAK_DAYS, min_periods=1).max()
    latent = 2.0 * np.log(annual_vol / CALM_ANNUAL_VOL) + 15.0 * (fall_from_peak - 0.05) - 0.5
    return (1.0 / (1.0 + np.exp(-latent))).to_numpy()


def replay_world(world: WorldConfig) -> WorldPlan:
    market = check_market(world.replay_market)
    prices, source = load_replay_prices(world)
    stress = past_stress(prices["close"].to_numpy())[None, :]
    return WorldPlan(
        kind="replay", seed=world.seed, markets=(market,), dates=tuple(prices["date"]), prices={market: prices},
        news_pressure=noisy_view(market_rng(world.seed, NEWS_VIEW_STREAM, 0), stress, 0.8, 0.0),
        speech_pressure=noisy_view(market_rng(world.seed, SPEECH_VIEW_STREAM, 0), stress, 0.7, 0.0),
        source=source,
    )
