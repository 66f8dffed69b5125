"""`storm scan`: score the last trading day (or a backfill range), store, publish.

What it prints is what a risk desk reads first: the markets on alert with what drove each
(the modality that raised the score most and its top 3 items; `storm explain` has the rest),
then one summary line; every score is in the stored table (`--all-scores` prints it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from storm.cli.common import ConfigOption, SetOption, build_config, start_ray
from storm.config import StormConfig
from storm.console import StageReporter, probability, signed
from storm.printable import printable
from storm.schema import MODALITIES, PRODUCT_MEMBERS, member_column


def register(app: typer.Typer) -> None:
    @app.command("scan")
    def scan_command(
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        date: Optional[str] = typer.Option(None, help="Score this trading day (default: the last completed one)."),
        start: Optional[str] = typer.Option(None, help="Backfill from this day (inclusive)."),
        end: Optional[str] = typer.Option(None, help="Backfill up to this day (inclusive)."),
        run: Optional[str] = typer.Option(None, help="Model run to score with (default: train.run_name)."),
        root: Optional[str] = typer.Option(None, help="Object store root (storage.root)."),
        pushgateway: Optional[str] = typer.Option(None, help="Pushgateway URL (metrics.pushgateway_url)."),
        publish: bool = typer.Option(True, help="Publish metrics for the last scored day."),
        candidate: bool = typer.Option(False, "--candidate", help="Scan --run as a candidate: its own scores "
                                       "namespace and metrics group, production untouched."),
        force: bool = typer.Option(False, "--force", help="Replace a date's scores written by another model version."),
        all_scores: bool = typer.Option(False, "--all-scores", help="Print every market's scores, not only alerts."),
        explain: bool = typer.Option(True, help="Attribute every score to its modalities and items and store "
                                     "the explanations beside the scores."),
    ) -> None:
        """Score trading days; scores land in scores/date=D/ before any metrics push."""
        if date and (start or end):
            raise typer.BadParameter("give --date, or --start/--end for a backfill, not both")
        settings = build_config(config, overrides, **{"train.run_name": run, "storage.root": root,
                                                      "metrics.pushgateway_url": pushgateway})
        raise typer.Exit(run_scan(settings, start=date or start, end=date or end, publish=publish, candidate=candidate,
                                  force=force, all_scores=all_scores, explain=explain))


def run_scan(settings: StormConfig, start: str | None, end: str | None, publish: bool = True, candidate: bool = False,
             force: bool = False, all_scores: bool = False, console: Console | None = None, explain: bool = True) -> int:
    """Run the scan and print what it did; returns the process exit code (1 when the push failed, 2 when refused)."""
    from storm.scan import scan
    from storm.scan.score_store import ScoresOwnedByOtherVersion

    console = console or Console(highlight=False)
    start_ray(settings, console)
    try:
        outcome = scan(settings, start=start, end=end, publish=publish, candidate=candidate, force=force,
                       progress=StageReporter(console), explain=explain)
    except ScoresOwnedByOtherVersion as err:
        typer.secho(str(err), fg="red", err=True)
        return 2
    last = outcome.dates[-1]
    scores = outcome.scores[last]
    console.print(alerts_table(scores, f"on alert {last}") if scores["alert"].any() else f"no market on alert on {last}")
    if last in outcome.explanations and scores["alert"].any():
        from storm.explain.table import driver_lines

        console.print("what drove each alert (contributions to the score; `storm explain --market M --date "
                      f"{last}` for the full breakdown):", soft_wrap=True)
        for line in driver_lines(outcome.explanations[last], scores):
            console.print(printable(line), soft_wrap=True, markup=False)
    if all_scores:
        console.print(scores_table(scores, f"storm scores for {last}"))
    console.print(scan_summary(scores, last, outcome.stats[last].markets_missing, outcome.model_version))
    if len(outcome.dates) > 1:
        console.print(f"backfilled {len(outcome.dates)} trading days {outcome.dates[0]} .. {last}")
    console.print(f"scores: {outcome.score_paths[last]}", soft_wrap=True)
    if outcome.publish_error is not None:
        console.print(f"[red]{outcome.publish_error}[/]", soft_wrap=True)
        return 1
    if outcome.published is not None:
        pushed = f"; pushed to {settings.metrics.pushgateway_url}" if outcome.published.pushed else ""
        console.print(f"metrics: {outcome.published.textfile}{pushed}", soft_wrap=True)
    return 0


def scan_summary(scores: pd.DataFrame, date: str, missing: tuple[str, ...], model_version: str) -> str:
    """`2017-12-29: 3 of 24 markets on alert (5d 0, 10d 1, 20d 3), 1 missing (MKT07); model demo-3f2a`."""
    alerting = scores[scores["alert"]]
    per_horizon = ", ".join(f"{h}d {int(group['alert'].sum())}" for h, group in scores.groupby("horizon"))
    line = (f"{date}: {alerting['market'].nunique()} of {scores['market'].nunique() + len(missing)} markets on alert "
            f"({per_horizon})")
    if missing:
        line += f", {len(missing)} with no inputs ({', '.join(missing)})"
    return f"{line}; model {model_version}"


def alerts_table(scores: pd.DataFrame, title: str) -> Table:
    """Markets on alert, highest score first: every horizon of such a market, so its term structure reads whole."""
    alerting = scores[scores["market"].isin(scores.loc[scores["alert"], "market"])]
    peak = alerting.groupby("market")["score"].transform("max")
    ordered = alerting.assign(peak=peak).sort_values(["peak", "market", "horizon"], ascending=[False, True, True])
    return scores_table(ordered, title)


def scores_table(scores: pd.DataFrame, title: str) -> Table:
    """market, horizon, score, threshold, alert and what drove it: each modality's contribution, or for a stacked
    model each member's (the members with a contribution somewhere); fits 80 columns."""
    members = [m for m in PRODUCT_MEMBERS if member_column(m) in scores and scores[member_column(m)].abs().gt(0).any()]
    table = Table(title=title)
    table.add_column("market", no_wrap=True)
    for column in ("horizon", "score", "threshold", "alert", *(members or MODALITIES)):
        table.add_column(column, justify="right", no_wrap=True)
    for row in scores.itertuples(index=False):
        drivers = ([signed(getattr(row, member_column(m))) for m in members] if members else
                   [signed(getattr(row, f'weight_{m}')) if getattr(row, f"present_{m}") else "–" for m in MODALITIES])
        table.add_row(row.market, f"{row.horizon}d", probability(row.score), probability(row.threshold),
                      alert_cell(row), *drivers)
    if ((scores["alert"]) & (scores["score"] < scores["threshold"])).any():
        table.caption = ("ALERT*: below this horizon's threshold, on alert because a shorter horizon is (alerts nest: "
                         "a storm within 5 days is one within 10 and 20)")
    return table


def alert_cell(row) -> str:
    """ALERT, or ALERT* where the alert is inherited from a shorter horizon (the score is below its own threshold)."""
    if not row.alert:
        return "-"
    return "[bold red]ALERT[/]" if row.score >= row.threshold else "[bold red]ALERT*[/]"
