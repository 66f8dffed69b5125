"""The days a stored row may carry: from ``ingest.earliest_date`` to today + ``ingest.latest_days_ahead``.

One row dated 9999-12-31 would become every market's "last day" and so the scan's default date; a ``-1`` parsed
as year -1 would sit before any history. The range is checked where rows come in (``storm import``: such a row is
rejected with its line) and where they are read back (``load_prices``: such a row is left out and quarantined).
Pure: strings in, a mask and a reason out.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from storm.config import IngestConfig

_ISO_DAY = r"\d{4}-\d{2}-\d{2}"
OUTSIDE = "date outside the stored range"  # the reason's kind, as the import report counts it


@dataclass(frozen=True)
class DateRange:
    earliest: str  # YYYY-MM-DD, inclusive
    latest: str    # YYYY-MM-DD, inclusive

    @staticmethod
    def of(cfg: IngestConfig, today: datetime.date | None = None) -> "DateRange":
        today = today or datetime.date.today()
        latest = today + datetime.timedelta(days=cfg.latest_days_ahead)
        return DateRange(cfg.earliest_date, latest.isoformat())

    @staticmethod
    def default(today: datetime.date | None = None) -> "DateRange":
        return DateRange.of(IngestConfig(), today)

    def outside(self, days) -> np.ndarray:
        """Per day string (None/NaN allowed): True where it is no YYYY-MM-DD day within the range."""
        text = pd.Series(days, dtype="string").fillna("")
        well_formed = text.str.fullmatch(_ISO_DAY).fillna(False).to_numpy(bool)
        values = text.to_numpy(object)
        inside = well_formed & (values >= self.earliest) & (values <= self.latest)
        return ~inside

    def contains(self, day: str) -> bool:
        return bool(re.fullmatch(_ISO_DAY, str(day))) and self.earliest <= str(day) <= self.latest

    def reason(self, day: object) -> str:
        """Why a row of this day is not stored: the day, the range and the settings that set it."""
        return (f"{OUTSIDE} ({str(day)[:40]!r} is not within {self.earliest}..{self.latest}; set by "
                "ingest.earliest_date and ingest.latest_days_ahead)")
