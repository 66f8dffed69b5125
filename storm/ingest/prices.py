"""Daily prices from ``raw/prices/<market>.parquet``: the trading calendar and the labels' source."""

from __future__ import annotations

import pandas as pd

from storm.schema import PRICE_COLUMNS
from storm.store import Layout, ObjectStore


class PricesError(ValueError):
    """A prices file is missing, unreadable or lacks the contract's columns; the message names it."""


def read_prices(store: ObjectStore, layout: Layout, markets: list[str] | None = None) -> pd.DataFrame:
    """``market`` + PRICE_COLUMNS for the given markets (None: every prices file), sorted by market, date."""
    paths = {_market_of(path): path for path in store.list_files(layout.prices_dir(), suffix=".parquet")}
    if markets is not None:
        for market in markets:
            if market not in paths:
                raise PricesError(f"no prices for market {market!r}: expected {layout.prices(market)}")
        paths = {market: paths[market] for market in markets}
    frames = [_read_one(store, market, path) for market, path in sorted(paths.items())]
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype="object" if column in ("market", "date") else "float64")
                             for column in ("market", *PRICE_COLUMNS)})
    return pd.concat(frames, ignore_index=True)


def _market_of(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".parquet")


def _read_one(store: ObjectStore, market: str, path: str) -> pd.DataFrame:
    try:
        table = store.read_table(path).to_pandas()
    except Exception as err:  # pyarrow raises several types for a corrupt file; all mean the same to a user
        raise PricesError(f"prices file {path} is not readable parquet ({err}); regenerate or replace it") from None
    missing = [column for column in PRICE_COLUMNS if column not in table.columns]
    if missing:
        raise PricesError(f"prices file {path} lacks columns {missing}; it needs {list(PRICE_COLUMNS)}")
    prices = table[list(PRICE_COLUMNS)].copy()
    try:
        prices["date"] = pd.to_datetime(prices["date"], format="mixed").dt.strftime("%Y-%m-%d")
        prices[list(PRICE_COLUMNS[1:])] = prices[list(PRICE_COLUMNS[1:])].astype("float64")
    except (ValueError, TypeError) as err:
        raise PricesError(f"prices file {path} has a bad date or price value ({err}); dates are YYYY-MM-DD") from None
    prices.insert(0, "market", market)
    return prices.sort_values("date", ignore_index=True)
