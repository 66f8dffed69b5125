"""The night's scores as a person reads them: the console's rows, and a short page to open or forward.

Pure: a date's stored scores (and explanations) in, rows or HTML out. `storm scan` prints the top markets on alert
(``top_alerts``) with ``score_cells``; the page (scores/date=D/report.html, written by the scan beside the scores)
holds every market on alert with the same cells, what drove each alert (storm.explain.table.driver_lines), and
every market's scores, so the console can stay a screenful.
"""

from __future__ import annotations

import pandas as pd

from storm.console import probability, signed
from storm.explain.table import driver_lines
from storm.html_page import PageTable, Section, render_page
from storm.printable import printable
from storm.schema import MODALITIES, PRODUCT_MEMBERS, member_column

ALERT, INHERITED_ALERT, NO_ALERT = "ALERT", "ALERT*", "-"
SHARES_NOTE = ("After the alert column, each stacked member's contribution to the score (or, for a model without "
               "members, each modality's; – where it had no input), as storm scan prints them.")
INHERITED_NOTE = ("ALERT*: below this horizon's threshold, on alert because a shorter horizon is (alerts nest: a "
                  "storm within 5 days is one within 10 and 20)")


def share_columns(scores: pd.DataFrame) -> list[str]:
    """The shares a row shows: each stacked member's contribution (the members with one somewhere), else each
    modality's."""
    members = [m for m in PRODUCT_MEMBERS if member_column(m) in scores and scores[member_column(m)].abs().gt(0).any()]
    return members or list(MODALITIES)


def score_cells(scores: pd.DataFrame) -> tuple[list[str], list[tuple[str, ...]]]:
    """Headers and one row of plain cells per score row: market, horizon, score, threshold, alert, then the shares
    (``share_columns``; – where a modality had no input)."""
    shares = share_columns(scores)
    members = shares != list(MODALITIES)
    rows = []
    for row in scores.itertuples(index=False):
        drivers = ([signed(getattr(row, member_column(m))) for m in shares] if members else
                   [signed(getattr(row, f"weight_{m}")) if getattr(row, f"present_{m}") else "–" for m in shares])
        rows.append((row.market, f"{row.horizon}d", probability(row.score), probability(row.threshold),
                     alert_state(row), *drivers))
    return ["market", "horizon", "score", "threshold", "alert", *shares], rows


def alert_state(row) -> str:
    """ALERT; ALERT* where the alert is inherited from a shorter horizon (below this horizon's threshold); or -."""
    if not row.alert:
        return NO_ALERT
    return ALERT if row.score >= row.threshold else INHERITED_ALERT


def has_inherited_alert(scores: pd.DataFrame) -> bool:
    return bool((scores["alert"] & (scores["score"] < scores["threshold"])).any())


def on_alert(scores: pd.DataFrame) -> pd.DataFrame:
    """Markets on alert at any horizon, highest score first: every horizon of such a market, so its term structure
    reads whole."""
    alerting = scores[scores["market"].isin(scores.loc[scores["alert"], "market"])]
    peak = alerting.groupby("market")["score"].transform("max")
    ordered = alerting.assign(peak=peak).sort_values(["peak", "market", "horizon"], ascending=[False, True, True])
    return ordered.drop(columns="peak")


def top_alerts(scores: pd.DataFrame, top: int) -> tuple[pd.DataFrame, int]:
    """The ``top`` markets on alert with the highest scores (every horizon of each), and how many more are on alert."""
    alerting = on_alert(scores)
    markets = list(dict.fromkeys(alerting["market"]))
    return alerting[alerting["market"].isin(markets[:top])], max(len(markets) - top, 0)


def scan_summary(scores: pd.DataFrame, date: str, missing: tuple[str, ...], model_version: str) -> str:
    """`2017-12-29: 3 of 24 markets on alert (5d 0, 10d 1, 20d 3), 1 missing (MKT07); model demo-3f2a`."""
    alerting = scores[scores["alert"]]
    per_horizon = ", ".join(f"{h}d {int(group['alert'].sum())}" for h, group in scores.groupby("horizon"))
    line = (f"{date}: {alerting['market'].nunique()} of {scores['market'].nunique() + len(missing)} markets on alert "
            f"({per_horizon})")
    if missing:
        line += f", {len(missing)} with no inputs ({', '.join(missing)})"
    return f"{line}; model {model_version}"


def night_html(date: str, scores: pd.DataFrame, explanations: pd.DataFrame | None, summary: str) -> str:
    """The night's page: the summary, every market on alert (highest first), what drove each, every market's scores."""
    alerting = on_alert(scores)
    drivers = driver_lines(explanations, scores) if explanations is not None and len(alerting) else []
    return render_page(f"storm scan: {date}", summary, [
        Section("On alert", "alerts",
                paragraphs=(SHARES_NOTE,) if len(alerting) else (f"No market on alert on {date}.",),
                tables=(_page_table("alerts-table", f"Markets on alert on {date}, highest score first", alerting),)
                if len(alerting) else ()),
        Section("What drove each alert", "drivers",
                paragraphs=("Contributions to the score (for a stacked model, each member's share first); "
                            f"storm explain --market M --date {date} gives the full breakdown.",) if drivers else (),
                lines=tuple(printable(line) for line in drivers)),
        Section("Every market's scores", "scores", collapsed=True,
                tables=(_page_table("scores-table", f"Storm scores for {date}", scores),)),
    ])


def _page_table(key: str, title: str, scores: pd.DataFrame) -> PageTable:
    headers, rows = score_cells(scores)
    return PageTable(key=key, title=title, caption=INHERITED_NOTE if has_inherited_alert(scores) else "",
                     headers=tuple(headers), right_aligned=tuple(i > 0 for i in range(len(headers))),
                     sections=(tuple(rows),))
