"""Which close an item may inform: after the bell means the next day, across daylight-saving changes."""

import pandas as pd
import pytest

from storm.importing.timestamps import MarketClose, close_dates, parse_timestamps

NEW_YORK = MarketClose()


def closes(values, **kw):
    return close_dates(parse_timestamps(pd.Series(values), kw.pop("naive_tz", "UTC")), NEW_YORK, **kw).tolist()


@pytest.mark.parametrize("utc_stamp, informs", [
    # 2016-03-11 (Fri) is EST (UTC-5): 16:05 New York = 21:05 UTC
    ("2016-03-11T20:55:00Z", "2016-03-11"),
    ("2016-03-11T21:05:00Z", "2016-03-12"),
    # 2016-03-14 (Mon) is EDT (UTC-4) after the 13 March change: 16:05 New York = 20:05 UTC
    ("2016-03-14T19:55:00Z", "2016-03-14"),
    ("2016-03-14T20:05:00Z", "2016-03-15"),
    # back to EST on 6 November: 20:05 UTC is 16:05 on Friday the 4th (EDT) but 15:05 on Monday the 7th (EST)
    ("2016-11-04T20:05:00Z", "2016-11-05"),
    ("2016-11-07T20:05:00Z", "2016-11-07"),
    ("2016-11-07T21:05:00Z", "2016-11-08"),
])
def test_item_after_the_close_informs_the_next_day_across_dst(utc_stamp, informs):
    assert closes([utc_stamp]) == [informs]


def test_headline_at_1605_new_york_never_lands_on_the_same_day_in_winter_or_summer():
    stamps = ["20160311 04:05 PM EST", "20160314 04:05 PM EDT", "2016-03-14 16:05:00-04:00", "2016-01-05 21:05:00"]
    assert closes(stamps) == ["2016-03-12", "2016-03-15", "2016-03-15", "2016-01-06"]


def test_the_close_itself_is_still_that_day():
    assert closes(["2016-03-14 16:00:00-04:00", "2016-03-14 16:00:01-04:00"]) == ["2016-03-14", "2016-03-15"]


def test_date_only_informs_the_next_day_unless_the_user_says_before_close():
    assert closes(["2016-03-14"]) == ["2016-03-15"]
    assert closes(["2016-03-14"], date_only_before_close=True) == ["2016-03-14"]


def test_reuters_compact_formats_with_and_without_space_before_meridiem():
    parsed = parse_timestamps(pd.Series(["20081029 04:25 PM EDT", "20150103 12:04PM UTC", "20150103 12:04AM UTC"]))
    assert parsed.utc.dt.strftime("%Y-%m-%d %H:%M").tolist() == ["2008-10-29 20:25", "2015-01-03 12:04",
                                                                 "2015-01-03 00:04"]


def test_naive_timestamps_are_read_in_the_given_zone():
    assert closes(["2016-03-14 15:30:00"], naive_tz="America/New_York") == ["2016-03-14"]
    assert closes(["2016-03-14 15:30:00"], naive_tz="Asia/Tokyo") == ["2016-03-14"]
    assert closes(["2016-03-14 21:30:00"]) == ["2016-03-15"]


def test_garbage_and_unknown_zones_are_bad_not_guessed():
    parsed = parse_timestamps(pd.Series(["garbage", "20070101 10:16 PM XYZ", "", "2016-13-45", "20160314 13:61 PM EST"]))
    assert parsed.bad.tolist() == [True, True, True, True, True]


def test_bad_close_or_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="HH:MM"):
        MarketClose.parse("4pm", "America/New_York")
    with pytest.raises(ValueError, match="IANA"):
        MarketClose.parse("16:00", "Mars/Olympus")
