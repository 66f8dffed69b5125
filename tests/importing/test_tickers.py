import pytest

from storm.importing.tickers import TickerError, market_name, MarketNames, TickerCollision
from storm.names import check_market_name


@pytest.mark.parametrize("ticker, market", [("AAPL", "AAPL"), ("BRK.B", "BRK.B"), ("BF-B", "BF_B"),
                                            ("^GSPC", "IDX_GSPC"), ("RDS/A", "RDS_A"), (" msft ", "msft")])
def test_vendor_spellings_become_safe_market_names(ticker, market):
    assert market_name(ticker) == market
    assert check_market_name(market_name(ticker)) == market


@pytest.mark.parametrize("ticker", ["", "  ", "^", "//"])
def test_a_ticker_without_letters_is_refused_with_a_reason(ticker):
    with pytest.raises(TickerError):
        market_name(ticker)


def test_two_spellings_of_one_market_name_are_a_collision_naming_both():
    names = MarketNames()
    assert names["BRK-B"] == "BRK_B" and names["PL"] == "PL"
    for second, first in (("BRK/B", "BRK-B"), ("ÄPL", "PL")):
        collision = names[second]
        assert isinstance(collision, TickerCollision)
        assert repr(first) in str(collision) and repr(second) in str(collision)
    assert names.spellings()["BRK/B"].startswith("refused: tickers 'BRK-B' and 'BRK/B'")
