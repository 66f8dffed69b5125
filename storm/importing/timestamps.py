"""Which market close an item may inform: parse vendors' timestamps, then take the first close at or after.

Pure pandas. An item stamped after a day's close (in the market's own time zone,
daylight saving included) informs the next day, never the same one; a date
without a time is before that day's close only when the user says so.
Non-trading days need no calendar here: the panel moves an item dated on a
holiday or weekend to the market's next trading day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

import numpy as np
import pandas as pd

# "20081029 04:25 PM EDT", "20150103 12:04PM UTC": Reuters' archive format; also a dashed date joined to a
# separate time column ("2016-03-14 4:05 PM EDT")
_COMPACT = re.compile(r"^\s*(\d{8}|\d{4}-\d{2}-\d{2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?\s*([A-Za-z]{1,5})?\s*$")
_DATE_ONLY = re.compile(r"^\s*\d{4}-?\d{2}-?\d{2}\s*$")
_HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})\s*$")
ZONE_ABBREVIATIONS = {  # hours east of UTC; abbreviations are ambiguous in general, these are the newswires' own
    "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8,
    "PDT": -7, "BST": 1, "CET": 1, "CEST": 2, "JST": 9, "HKT": 8, "SGT": 8, "IST": 5.5, "AEST": 10, "AEDT": 11,
}


UTC_TIMES = "datetime64[us, UTC]"
_FIRST_PLACEABLE = pd.Timestamp("0001-01-02", tz="UTC").as_unit("us")
_LAST_PLACEABLE = pd.Timestamp("9999-12-30", tz="UTC").as_unit("us")


@dataclass(frozen=True)
class MarketClose:
    """The close items are assigned to: local time and zone (IANA name)."""

    close: time = time(16, 0)
    tz: str = "America/New_York"

    @staticmethod
    def parse(close: str, tz: str) -> "MarketClose":
        try:
            hours, minutes = (int(part) for part in close.split(":"))
            closing = time(hours, minutes)
        except ValueError:
            raise ValueError(f"--close {close!r} is not HH:MM (e.g. 16:00)") from None
        return MarketClose(closing, check_zone(tz, "--tz"))


def check_zone(tz: str, option: str) -> str:
    """``tz`` when it is an IANA time zone, else a ValueError naming the option it came from."""
    try:
        pd.Timestamp("2020-01-01").tz_localize(tz)
    except Exception:
        raise ValueError(f"{option} {tz!r} is not an IANA time zone (e.g. America/New_York, Europe/London)") from None
    return tz


@dataclass
class ParsedTimes:
    utc: pd.Series        # datetime64[ns, UTC]; NaT where unparseable or date-only
    date_only: pd.Series  # 'YYYY-MM-DD' where the value held a date alone, else None
    bad: pd.Series        # bool: neither a timestamp nor a date
    naive: pd.Series      # bool: a good timestamp written without a zone, read in the naive zone


def parse_timestamps(values: pd.Series, naive_tz: str = "UTC") -> ParsedTimes:
    """Vendors' mixed formats: ISO with or without offset, '20081029 04:25 PM EDT', dates alone.

    A timestamp without zone is taken in ``naive_tz``; an unknown zone abbreviation makes the value bad.
    """
    text = values.astype("string").fillna("").str.strip()
    # Microseconds, not pandas' old nanoseconds: year -1 or 9999 parses (and is rejected by its date), never aborts.
    utc = pd.Series(pd.NaT, index=values.index, dtype=UTC_TIMES)
    date_only = pd.Series(None, index=values.index, dtype=object)
    done = pd.Series(False, index=values.index)
    naive = pd.Series(False, index=values.index)

    is_date = text.str.fullmatch(_DATE_ONLY.pattern)
    if is_date.any():
        dates = pd.to_datetime(text[is_date].str.replace("-", ""), format="%Y%m%d", errors="coerce")
        date_only[is_date] = dates.dt.strftime("%Y-%m-%d").where(dates.notna(), None)
        done |= is_date & dates.reindex(values.index).notna()

    compact = text.str.extract(_COMPACT.pattern)
    is_compact = compact[0].notna() & ~done
    if is_compact.any():
        utc[is_compact] = _each_or_bad(lambda rows: _compact_to_utc(compact.loc[rows.index], naive_tz), text[is_compact])
        done |= is_compact & utc.notna()
        naive |= is_compact & compact[5].isna()

    rest = ~done & (text != "") & ~is_compact
    if rest.any():
        with_offset = rest & text.str.contains(_HAS_OFFSET.pattern, regex=True)
        if with_offset.any():
            utc[with_offset] = _each_or_bad(
                lambda rows: pd.to_datetime(rows, format="mixed", errors="coerce", utc=True), text[with_offset])
        without_zone = rest & ~with_offset
        if without_zone.any():
            utc[without_zone] = _each_or_bad(lambda rows: _localized(rows, naive_tz), text[without_zone])
        done |= rest & utc.notna()
        naive |= without_zone
    beyond = utc.notna() & ((utc < _FIRST_PLACEABLE) | (utc > _LAST_PLACEABLE))
    utc[beyond] = pd.NaT  # a zone shift there leaves what Python's datetime can hold
    bad = ~done | beyond
    return ParsedTimes(utc=utc, date_only=date_only, bad=bad, naive=naive & ~bad)


def _localized(text: pd.Series, naive_tz: str) -> pd.Series:
    parsed = pd.to_datetime(text, format="mixed", errors="coerce")
    return parsed.dt.tz_localize(naive_tz, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")


def _each_or_bad(parse, text: pd.Series) -> pd.Series:
    """``parse`` over all of ``text`` at once; when that raises (a year pandas cannot hold, an overflow in a zone
    shift), value by value, NaT (a bad row) where one value alone raises: one timestamp never aborts an import."""
    try:
        return _as_utc(parse(text))
    except (ValueError, OverflowError, ArithmeticError):  # OutOfBoundsDatetime is a ValueError
        pass
    parsed = pd.Series(pd.NaT, index=text.index, dtype=UTC_TIMES)
    for position in range(len(text)):
        one = text.iloc[position:position + 1]
        try:
            parsed.iloc[position] = _as_utc(parse(one)).iloc[0]
        except (ValueError, OverflowError, ArithmeticError):
            continue
    return parsed


def _as_utc(times: pd.Series) -> pd.Series:
    return times.astype(UTC_TIMES) if len(times) else pd.Series(pd.NaT, index=times.index, dtype=UTC_TIMES)


def _compact_to_utc(parts: pd.DataFrame, naive_tz: str) -> pd.Series:
    hours = parts[1].astype(int)
    meridiem = parts[4].fillna("").str.upper()
    valid = np.where(meridiem == "", hours < 24, (hours >= 1) & (hours <= 12))
    hours = hours.where(meridiem == "", (hours % 12) + np.where(meridiem == "PM", 12, 0))
    seconds = parts[3].fillna("0").astype(int)
    valid &= seconds < 60
    local = pd.to_datetime(parts[0].str.replace("-", ""), format="%Y%m%d", errors="coerce") + pd.to_timedelta(
        hours * 3600 + parts[2].astype(int) * 60 + seconds, unit="s")
    zone = parts[5].fillna("").str.upper()
    offset_hours = zone.map(ZONE_ABBREVIATIONS)
    utc = (local - pd.to_timedelta(offset_hours.fillna(0.0) * 3600, unit="s")).dt.tz_localize("UTC")
    if (zone == "").any():
        naive = zone == ""
        utc[naive] = local[naive].dt.tz_localize(naive_tz, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
    known_zone = (zone == "") | offset_hours.notna()
    return utc.where(valid & known_zone & (parts[2].astype(int) < 60), pd.NaT)


def close_dates(times: ParsedTimes, close: MarketClose, date_only_before_close: bool = False) -> pd.Series:
    """'YYYY-MM-DD' of the first close at or after each item (None where the time was bad).

    ``date_only_before_close``: a date without a time is taken as before that day's close; otherwise
    it informs the next day (a story dated today may have run after the bell).
    """
    local = times.utc.dt.tz_convert(close.tz)
    day = local.dt.normalize().dt.tz_localize(None)
    after_close = (local.dt.hour * 60 + local.dt.minute + (local.dt.second > 0)) > (close.close.hour * 60 + close.close.minute)
    assigned = (day + pd.to_timedelta(after_close.astype(int), unit="D")).dt.strftime("%Y-%m-%d")
    result = assigned.where(times.utc.notna(), None).astype(object)
    only = times.date_only.notna()
    if only.any():
        dates = pd.to_datetime(times.date_only[only])
        shift = 0 if date_only_before_close else 1
        result[only] = (dates + pd.Timedelta(days=shift)).dt.strftime("%Y-%m-%d")
    return result
