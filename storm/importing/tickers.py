"""Vendor ticker spellings (``BRK.B``, ``BF-B``, ``^GSPC``, ``RDS/A``) as storm market names.

Market names become path segments and may not hold '-' (it separates a call's event) or '/'.
The mapping is a pure function, so every importer and every rerun names a ticker the same way;
the original spelling is kept in the import manifest.
"""

from __future__ import annotations

import re

from storm.names import MARKET_NAME, check_market_name

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.]+")
INDEX_PREFIX = "IDX_"  # '^GSPC' (Yahoo's index prefix) -> 'IDX_GSPC'


class TickerError(ValueError):
    """A ticker that cannot name a market (empty, or nothing but punctuation)."""


def market_name(ticker: str) -> str:
    """The storm market name of a vendor ticker: '^' prefix -> IDX_, any run of other symbols -> '_'."""
    spelled = str(ticker).strip()
    if not spelled:
        raise TickerError("empty ticker")
    if MARKET_NAME.fullmatch(spelled) and ".." not in spelled:
        return spelled
    index = spelled.startswith("^")
    name = _NOT_ALLOWED.sub("_", spelled.lstrip("^")).strip("_.")
    name = re.sub(r"\.{2,}", ".", name)
    if not name:
        raise TickerError(f"ticker {ticker!r} has no letter or digit to name a market")
    return check_market_name((INDEX_PREFIX if index else "") + name[:60])


class MarketNames(dict):
    """ticker -> its market name, or the error saying why it names none; each distinct ticker mapped once.

    A bad ticker rejects its own rows, never the file, so the error is kept as a value for the row's reason.
    """

    def __missing__(self, ticker: str) -> str | ValueError:
        try:
            name: str | ValueError = market_name(ticker)
        except ValueError as err:  # TickerError, or the market-name check
            name = err
        self[ticker] = name
        return name
