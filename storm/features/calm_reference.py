"""A market's calm price readings: the reference an explanation measures each price reading against (pure numpy).

"Intraday ranges raised the score" means something only against what is usual for that market: a 2% range is a
storm for a utility and a quiet day for a biotech. The calm reference of a window is, per price reading, the
market's own median of that reading over the CALM_DAYS trading days up to the window's first day (trailing only:
nothing from the window's later days or after it), so a market whose readings sit at their usual values has price
items of 0 (storm.explain).
"""

from __future__ import annotations

import numpy as np

from storm.series import market_starts

CALM_DAYS = 250  # a trading year of the market's own history
ROWS_PER_CHUNK = 2048  # bounds memory: a chunk gathers [rows, CALM_DAYS, readings]


def calm_reference(readings: np.ndarray, market: np.ndarray, window_start: np.ndarray,
                   days: int = CALM_DAYS) -> np.ndarray:
    """float32 [len(window_start), F]: per window, the median of each reading over its market's ``days`` rows up to
    and including ``window_start`` (rows of ``readings``, grouped by ``market`` in date order).

    A market with fewer earlier days uses those it has (at least the window's first day itself).
    """
    readings = np.asarray(readings, dtype=np.float32)
    window_start = np.asarray(window_start, dtype=np.int64)
    starts = np.flatnonzero(market_starts(np.asarray(market)))
    first_of_market = starts[np.searchsorted(starts, window_start, side="right") - 1]
    offsets = np.arange(-(days - 1), 1)
    out = np.empty((len(window_start), readings.shape[1]), dtype=np.float32)
    for lo in range(0, len(window_start), ROWS_PER_CHUNK):
        part = slice(lo, lo + ROWS_PER_CHUNK)
        positions = window_start[part, None] + offsets[None, :]
        inside = positions >= first_of_market[part, None]
        history = readings[np.maximum(positions, 0)]  # [rows, days, F]
        history[~inside] = np.nan
        out[part] = np.nanmedian(history, axis=1)
    return out
