"""Figures for the report, as PNG bytes: score over price with storm days shaded, and reliability.

Built on ``matplotlib.figure.Figure`` (Agg canvas, no pyplot state), so plotting is
safe in workers and tests; writing the bytes to the store is the runner's job.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve

from storm.evaluation.metrics import alert_column, score_column
from storm.schema import storm_column

MAX_MARKETS_PER_FIGURE = 4


def score_over_price_png(
    prices: pd.DataFrame, predictions: pd.DataFrame, horizon: int, threshold: float | None, markets: list[str]
) -> bytes:
    """The figure of ``score_over_price_figure`` as PNG bytes."""
    return _png(score_over_price_figure(prices, predictions, horizon, threshold, markets))


def score_over_price_figure(prices: pd.DataFrame, predictions: pd.DataFrame, horizon: int, threshold: float | None,
                            markets: list[str]) -> Figure:
    """One panel per market: close price, storm score, storm days shaded, days on alert dotted, ``threshold`` dashed
    when given; the MAX_MARKETS_PER_FIGURE of ``markets`` with the most storm days. The title says what is drawn
    and why these markets, and nothing that is not drawn."""
    shown = most_storm_days(predictions, horizon, markets)[:MAX_MARKETS_PER_FIGURE]
    alerts_known = alert_column(horizon) in predictions.columns
    figure = Figure(figsize=(10, 2.6 * max(len(shown), 1)))
    axes = figure.subplots(max(len(shown), 1), 1, squeeze=False)[:, 0]
    for axis, market in zip(axes, shown):
        scored = predictions[predictions["market"] == market].sort_values("date")
        price = prices[(prices["market"] == market) & prices["date"].isin(scored["date"])].sort_values("date")
        days = pd.to_datetime(scored["date"])
        axis.plot(pd.to_datetime(price["date"]), price["close"], color="black", linewidth=1.0, label="close")
        axis.set_ylabel(f"{market} close")
        _shade_storms(axis, days, scored[storm_column(horizon)].to_numpy(float))
        score_axis = axis.twinx()
        score_axis.plot(days, scored[score_column(horizon)], color="tab:red", linewidth=1.0, label="storm score")
        if alerts_known:
            on_alert = scored[alert_column(horizon)].eq(True).to_numpy()
            score_axis.plot(days[on_alert], scored[score_column(horizon)][on_alert], linestyle="none", marker=".",
                            markersize=4, color="tab:red", label="on alert")
        if threshold is not None:
            score_axis.axhline(threshold, color="tab:red", linestyle="--", linewidth=0.8, label="alert threshold")
        score_axis.set_ylim(0, 1)
        score_axis.set_ylabel(f"P(storm ≤{horizon}d)")
    axes[0].set_title(score_over_price_title(horizon, len(shown), len(markets), alerts_known, threshold),
                      fontsize="small")
    figure.autofmt_xdate()
    return figure


def most_storm_days(predictions: pd.DataFrame, horizon: int, markets: list[str]) -> list[str]:
    """``markets`` by their count of storm days in ``predictions``, most first (ties keep the given order)."""
    counts = predictions.groupby("market")[storm_column(horizon)].sum()
    return sorted(markets, key=lambda market: -float(counts.get(market, 0.0)))


def score_over_price_title(horizon: int, shown: int, markets: int, alerts: bool, threshold: float | None) -> str:
    what = [f"storm score (red) over close (black), {horizon}-day storm days shaded"]
    if alerts:
        what.append("dots: days on alert")
    if threshold is not None:
        what.append(f"dashed: alert threshold {threshold:.3g}")
    which = (f"the {shown} of {markets} markets with the most storm days" if shown < markets else
             f"all {markets} market{'s' * (markets != 1)}")
    return "; ".join(what) + f"\n{which}"


EPISODE_DAYS_BEFORE, EPISODE_DAYS_AFTER = 60, 20


def episode_scores_png(prices: pd.DataFrame, predictions: dict[str, pd.DataFrame], horizon: int,
                       episodes: list[dict]) -> bytes:
    """One panel per storm episode: the close from 60 trading days before its first storm day to 20 after, and each
    named model's calibrated score (its own fold's), the episode's storm days shaded. How early did each rise?"""
    figure = Figure(figsize=(10, 2.6 * max(len(episodes), 1)))
    axes = figure.subplots(max(len(episodes), 1), 1, squeeze=False)[:, 0]
    colours = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for axis, episode in zip(axes, episodes):
        market, first = episode["market"], episode["first_storm_day"]
        price = prices[prices["market"] == market].sort_values("date", ignore_index=True)
        at = int(np.searchsorted(price["date"].to_numpy(str), first))
        window = price.iloc[max(at - EPISODE_DAYS_BEFORE, 0):at + EPISODE_DAYS_AFTER + 1]
        days = pd.to_datetime(window["date"])
        axis.plot(days, window["close"], color="black", linewidth=1.0)
        axis.set_ylabel(f"{market} close")
        score_axis = axis.twinx()
        for colour, (name, table) in zip(colours, predictions.items()):
            rows = table[(table["market"] == market) & table["date"].isin(set(window["date"]))].sort_values("date")
            score_axis.plot(pd.to_datetime(rows["date"]), rows[score_column(horizon)], color=colour, linewidth=1.0,
                            label=name)
            if name == next(iter(predictions)):
                _shade_storms(axis, pd.to_datetime(rows["date"]), rows[storm_column(horizon)].to_numpy(float))
        score_axis.set_ylabel(f"P(storm ≤{horizon}d)")
        score_axis.legend(loc="upper left", fontsize="small")
        depth = episode.get("depth")
        axis.set_title(f"{market}: storm from {first}" + (f", fall {depth:.0%}" if depth is not None else ""),
                       fontsize="small")
    figure.autofmt_xdate()
    return _png(figure)


def _shade_storms(axis, days: pd.Series, labels: np.ndarray) -> None:
    """One shaded span per run of consecutive storm days."""
    storm = np.concatenate([[False], labels == 1, [False]])
    starts = np.flatnonzero(~storm[:-1] & storm[1:])
    ends = np.flatnonzero(storm[:-1] & ~storm[1:])  # exclusive
    day_list = list(days)
    for start, end in zip(starts, ends):
        axis.axvspan(day_list[start], day_list[end - 1] + pd.Timedelta(days=1), color="tab:orange", alpha=0.25,
                     linewidth=0)


def reliability_png(curves: dict[str, tuple[np.ndarray, np.ndarray]], horizon: int, n_bins: int = 10) -> bytes:
    """Observed storm frequency against predicted probability, one line per model ({name: (labels, probs)})."""
    figure = Figure(figsize=(5, 5))
    axis = figure.subplots()
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, (labels, probabilities) in curves.items():
        known = ~np.isnan(labels) & ~np.isnan(probabilities)
        if len(np.unique(labels[known])) < 2:
            continue
        observed, predicted = calibration_curve(labels[known], np.clip(probabilities[known], 0, 1), n_bins=n_bins,
                                                strategy="quantile")
        axis.plot(predicted, observed, marker="o", label=name)
    axis.set_xlabel("predicted probability")
    axis.set_ylabel("observed storm frequency")
    axis.set_title(f"reliability, storm within {horizon} days")
    axis.legend(loc="upper left", fontsize="small")
    return _png(figure)


def reliability_by_horizon_png(report: dict) -> bytes:
    """Pooled reliability of fused (solid) and the best price baseline (dashed), one colour per horizon.

    Points come from the report (quantile bins), so the figure shows exactly what report.json holds.
    """
    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    baseline = report.get("best_price_baseline")
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for index, horizon in enumerate(report["horizons"]):
        colour = colours[index % len(colours)]
        for name, style in ((report.get("reference") or "fused", "-"), (baseline, "--")):
            points = report["reliability"][str(horizon)].get(name) if name else None
            if points:
                axis.plot(points["predicted"], points["observed"], linestyle=style, marker="o", markersize=3,
                          color=colour, label=f"{name} {horizon}d")
    axis.set_xlabel("predicted probability")
    axis.set_ylabel("observed storm frequency")
    axis.set_title("reliability on the pooled test folds")
    axis.legend(loc="upper left", fontsize="small")
    return _png(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()
