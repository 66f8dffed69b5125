"""Vendor ticker spellings (``BRK.B``, ``BF-B``, ``^GSPC``, ``RDS/A``) as storm market names.

Market names become path segments and may not hold '-' (it separates a call's event) or '/'.
The mapping is a pure function, so every importer and every rerun names a ticker the same way;
the original spelling is kept in the import manifest. Within one import the mapping must stay one-to-one:
``BRK-B`` and ``BRK/B`` (or ``ÄPL`` and ``PL``) would both name one market and merge two series, so the
spelling met second is refused, naming the first (MarketNames).
"""

from __future__ import annotations

import re

from storm.names import MARKET_NAME, check_market_name

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.]+")
INDEX_PREFIX = "IDX_"  # '^GSPC' (Yahoo's index prefix) -> 'IDX_GSPC'


class TickerError(ValueError):
    """A ticker that cannot name a market (empty, or nothing but punctuation)."""


class TickerCollision(TickerError):
    """A second spelling of one market name in one import: the rows would merge two tickers' series."""


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

    One per import: a market name is owned by the first spelling that gave it; another spelling giving it
    is a TickerCollision naming both. A bad ticker rejects its own rows, never the file, so the error is kept
    as a value for the row's reason.
    """

    def __init__(self) -> None:
        super().__init__()
        self.spelling_of: dict[str, str] = {}  # market name -> the spelling that owns it

    def __missing__(self, ticker: str) -> str | ValueError:
        try:
            name: str | ValueError = market_name(ticker)
        except ValueError as err:  # TickerError, or the market-name check
            name = err
        else:
            spelled = str(ticker).strip()
            owner = self.spelling_of.setdefault(name, spelled)
            if owner != spelled:
                name = TickerCollision(f"tickers {owner!r} and {spelled!r} would both be market {name!r}; the rows of "
                                       f"{spelled!r} are refused so the two never merge: rename one of them in the "
                                       "source, or import them separately")
        self[ticker] = name
        return name

    def spellings(self) -> dict[str, str]:
        """Every spelling met -> its market name, or why it names none (the manifest keeps them all)."""
        return {str(ticker): name if isinstance(name, str) else f"refused: {name}" for ticker, name in sorted(
            self.items(), key=lambda item: str(item[0]))}
