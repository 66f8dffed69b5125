"""A price item as a desk reads it: the window's reading furthest from the market's calm value, its size and date
(pure numpy).

A price reading enters the model as a whole window of days; what moved it is its most unusual day, not the last one
("last 0.6%" hid the -14% day that drove an alert). So each price item names the day whose reading is furthest
from the market's calm reference (storm.features.calm_reference), in the reading's own units, beside the calm value.
Readings this module does not know by name (a channel added to the prices input) are shown in their scaled units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from storm.features.calm_reference import CALM_DAYS
from storm.features.price_history import RETURN_SCALE, TYPICAL_LOG_VOL

CALM_ITEM_KEY = "calm reference"
CALM_ITEM_LABEL = f"prices at this market's calm (each reading at its median of the last {CALM_DAYS} trading days)"


def _move(value: float) -> float:
    return math.expm1(value / RETURN_SCALE)  # a scaled log return as the simple return a desk quotes


@dataclass(frozen=True)
class ReadingFormat:
    title: str                        # what the reading is
    extreme: str                      # how its most unusual day is called
    natural: Callable[[float], float]  # scaled value -> the reading in its own units
    text: Callable[[float], str]       # the reading in its own units, as printed


PERCENT = "{:.1%}".format
READINGS = {
    "log_return": ReadingFormat("daily returns", "largest move", _move, "{:+.1%}".format),
    "abs_return": ReadingFormat("size of daily moves", "largest move", _move, "{:+.1%}".format),
    "range": ReadingFormat("intraday ranges", "widest", _move, PERCENT),
    "volume_surprise": ReadingFormat("volume against its 60-day mean", "furthest", float, "{:+.2f} log".format),
    "drawdown_60": ReadingFormat("drawdown from the 60-day peak", "furthest", lambda v: v / 5.0, PERCENT),
    "log_vol_20": ReadingFormat("20-day volatility", "furthest", lambda v: math.exp(v + TYPICAL_LOG_VOL),
                                "{:.0%} annualised".format),
    "log_vol_60": ReadingFormat("60-day volatility", "furthest", lambda v: math.exp(v + TYPICAL_LOG_VOL),
                                "{:.0%} annualised".format),
}


@dataclass(frozen=True)
class DrivingReading:
    label: str
    date: str      # the driving day's date ("" when the window's dates are not known)
    value: float   # the driving day's reading in its own units


def driving_reading(name: str, window: np.ndarray, valid: np.ndarray, calm: float,
                    dates: Sequence[str] | None = None, signed_moves: np.ndarray | None = None) -> DrivingReading:
    """The item of price reading ``name`` for one window: its day furthest from ``calm``, named and dated.

    ``window`` [W]: the reading's scaled values, oldest day first; ``valid`` [W]: days the market traded;
    ``dates`` [W]: the window's dates; ``signed_moves`` [W]: the scaled log returns, so the size of a move is
    shown with its direction.
    """
    days = np.flatnonzero(valid)
    day = int(days[np.argmax(np.abs(window[days] - calm))]) if len(days) else len(window) - 1
    value = float(window[day])
    fmt = READINGS.get(name, ReadingFormat(name, "furthest", float, "{:+.2f}".format))
    shown = value
    if name == "abs_return" and signed_moves is not None:
        shown = float(signed_moves[day])  # the same move, with its sign
    date = str(dates[day]) if dates is not None else ""
    back = len(window) - 1 - day
    when = f"on {date}" if date else ("on the scored day" if back == 0 else
                                      f"{back} trading day{'s' if back > 1 else ''} before the scored day")
    natural = fmt.natural(shown)
    label = f"{fmt.title}: {fmt.extreme} {fmt.text(natural)} {when} (usually {fmt.text(fmt.natural(calm))})"
    return DrivingReading(label=label, date=date, value=natural)
