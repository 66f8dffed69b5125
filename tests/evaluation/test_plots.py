"""storm.evaluation.plots: the score-over-price figure draws what its title says, on the markets it says."""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.evaluation.plots import MAX_MARKETS_PER_FIGURE, score_over_price_figure


def predictions(storm_days: dict[str, int], n_days: int = 40) -> pd.DataFrame:
    """Each market's first `storm_days[market]` days are storm days, scored 0.8 and on alert; the rest 0.2."""
    dates = pd.bdate_range("2021-01-04", periods=n_days).strftime("%Y-%m-%d")
    parts = []
    for market, stormy in storm_days.items():
        label = (np.arange(n_days) < stormy).astype(float)
        score = 0.2 + 0.6 * label
        parts.append(pd.DataFrame({"market": market, "date": dates, "score_20d": score, "alert_20d": score >= 0.5,
                                   "storm_20d": label}))
    return pd.concat(parts, ignore_index=True)


def prices_of(table: pd.DataFrame) -> pd.DataFrame:
    return table[["market", "date"]].assign(close=100.0)


def dashed_lines(figure) -> list:
    return [line for axis in figure.axes for line in axis.get_lines() if line.get_linestyle() == "--"]


def test_without_a_threshold_no_dashed_line_is_drawn_or_promised_and_alert_days_are_dotted():
    table = predictions({"AAA": 5, "BBB": 3})
    figure = score_over_price_figure(prices_of(table), table, 20, None, ["AAA", "BBB"])
    title = figure.axes[0].get_title()
    assert not dashed_lines(figure) and "dashed" not in title
    dots = [line for axis in figure.axes for line in axis.get_lines() if line.get_label() == "on alert"]
    assert [len(line.get_xdata()) for line in dots] == [5, 3] and "dots: days on alert" in title


def test_a_given_threshold_is_drawn_dashed_in_every_panel_as_the_title_says():
    table = predictions({"AAA": 5, "BBB": 3})
    figure = score_over_price_figure(prices_of(table), table, 20, 0.42, ["AAA", "BBB"])
    lines = dashed_lines(figure)
    assert len(lines) == 2 and all(list(line.get_ydata()) == [0.42, 0.42] for line in lines)
    assert "dashed: alert threshold 0.42" in figure.axes[0].get_title()


def test_the_markets_with_the_most_storm_days_are_shown_and_the_title_says_so():
    counts = {"CALM": 0, "FEW": 2, "MOST": 9, "SOME": 4, "MANY": 7, "ONE": 1}
    table = predictions(counts)
    figure = score_over_price_figure(prices_of(table), table, 20, None, list(counts))
    shown = [axis.get_ylabel().removesuffix(" close") for axis in figure.axes if axis.get_ylabel().endswith(" close")]
    assert MAX_MARKETS_PER_FIGURE == 4 and shown == ["MOST", "MANY", "SOME", "FEW"]
    assert "the 4 of 6 markets with the most storm days" in figure.axes[0].get_title()
    few = score_over_price_figure(prices_of(table), table, 20, None, ["CALM", "ONE"])
    assert "all 2 markets" in few.axes[0].get_title()
