"""Daily prices from ``raw/prices/<market>.parquet``: the trading calendar and the labels' source.

One corrupt prices file takes out its own market, not the others: ``load_prices``
returns the readable markets and, apart, why each other file was rejected
(``run_ingest`` writes those to quarantine).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from storm.schema import PRICE_COLUMNS
from storm.store import Layout, ObjectStore, TableTooLarge
from storm.store.layout import check_market

log = logging.getLogger(__name__)

# A prices file is one market's daily bars: 200,000 rows is 800 years. Both limits are checked on the parquet
# metadata before decoding (a 530 KB file can decode to 880 MB), and only the price columns are read.
MAX_PRICE_ROWS = 200_000
MAX_PRICE_DECODED_BYTES = 64 * 1024 * 1024


class PricesError(ValueError):
    """A prices file is missing, unreadable or lacks the contract's columns; the message names it."""


@dataclass
class PricesRead:
    prices: pd.DataFrame  # market + PRICE_COLUMNS of every readable file, sorted by market, date
    rejected: dict[str, str] = field(default_factory=dict)  # path of an unreadable file -> why


def read_prices(store: ObjectStore, layout: Layout, markets: list[str] | None = None) -> pd.DataFrame:
    """``market`` + PRICE_COLUMNS for the given markets (None: every readable prices file), sorted by market, date.

    A market named in ``markets`` whose file is missing or unreadable is an error;
    with ``markets=None`` an unreadable file only drops its market (logged; see ``load_prices``).
    """
    loaded = load_prices(store, layout, markets)
    if markets is not None and loaded.rejected:
        raise PricesError("; ".join(loaded.rejected.values()))
    for reason in loaded.rejected.values():
        log.warning("skipping a market: %s", reason)
    return loaded.prices


def load_prices(store: ObjectStore, layout: Layout, markets: list[str] | None = None) -> PricesRead:
    """The readable prices of ``markets`` (None: every file) and, apart, the reason each other file was rejected."""
    paths = {_market_of(path): path for path in store.list_files(layout.prices_dir(), suffix=".parquet")}
    if markets is not None:
        for market in markets:
            if market not in paths:
                raise PricesError(f"no prices for market {market!r}: expected {layout.prices(market)}")
        paths = {market: paths[market] for market in markets}
    frames, rejected = [], {}
    for market, path in sorted(paths.items()):
        try:
            frames.append(_read_one(store, market, path))
        except PricesError as err:
            rejected[path] = str(err)
    if not frames:
        empty = pd.DataFrame({column: pd.Series(dtype="object" if column in ("market", "date") else "float64")
                              for column in ("market", *PRICE_COLUMNS)})
        return PricesRead(empty, rejected)
    return PricesRead(pd.concat(frames, ignore_index=True), rejected)


def _market_of(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".parquet")


def _read_one(store: ObjectStore, market: str, path: str) -> pd.DataFrame:
    try:
        check_market(market)
    except ValueError as err:
        raise PricesError(f"prices file {path}: {err}") from None
    try:
        table = store.read_table(path, columns=PRICE_COLUMNS, max_rows=MAX_PRICE_ROWS,
                                 max_decoded_bytes=MAX_PRICE_DECODED_BYTES).to_pandas()
    except TableTooLarge as err:
        raise PricesError(f"prices file {path}: {err} (limits: {MAX_PRICE_ROWS} rows, {MAX_PRICE_DECODED_BYTES} "
                          "decoded bytes of the price columns); is it really one market's daily prices?") from None
    except Exception as err:  # pyarrow raises several types for a corrupt file; all mean the same to a user
        raise PricesError(f"prices file {path} is not readable parquet ({err}); regenerate or replace it") from None
    missing = [column for column in PRICE_COLUMNS if column not in table.columns]
    if missing:
        raise PricesError(f"prices file {path} lacks columns {missing}; it needs {list(PRICE_COLUMNS)}")
    prices = table[list(PRICE_COLUMNS)].copy()
    try:
        prices["date"] = pd.to_datetime(prices["date"], format="mixed").dt.strftime("%Y-%m-%d")
        prices[list(PRICE_COLUMNS[1:])] = prices[list(PRICE_COLUMNS[1:])].astype("float64")
    except Exception as err:  # ValueError, TypeError, OverflowError, OutOfBoundsDatetime: all a bad value
        raise PricesError(f"prices file {path} has a bad date or price value ({err}); dates are YYYY-MM-DD") from None
    _check_values(prices, path)
    prices.insert(0, "market", market)
    return prices.sort_values("date", ignore_index=True)


def _check_values(prices: pd.DataFrame, path: str) -> None:
    """Finite prices above 0, high >= low, volume >= 0: else the file is rejected naming the first bad day."""
    ohlc = prices[["open", "high", "low", "close"]].to_numpy()
    volume = prices["volume"].to_numpy()
    checks = [
        (~np.isfinite(ohlc).all(axis=1) | ~np.isfinite(volume), "a price or the volume is not a finite number"),
        ((ohlc <= 0).any(axis=1), "a price is not above 0"),
        (prices["high"].to_numpy() < prices["low"].to_numpy(), "high is below low"),
        (volume < 0, "volume is negative"),
    ]
    for bad, why in checks:
        if bad.any():
            first = prices["date"].to_numpy()[np.argmax(bad)]
            raise PricesError(f"prices file {path}: {why} on {first} ({int(bad.sum())} day(s) in all); "
                              "fix or re-import the file")
