"""`storm scan`: score the last trading day (or a backfill range), store, publish.

What it prints is what a risk desk reads first, in a screenful: the `--top` markets on alert with what drove each
(the modality that raised the score most and its top 3 items; `storm explain` has the rest), how many more are on
alert, then one summary line; the night's page (scores/date=D/report.html) has every market on alert with its
drivers and every score (`--all-scores` prints them here too).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from storm.cli.common import ConfigOption, SetOption, build_config, start_ray
from storm.config import StormConfig
from storm.console import StageReporter
from storm.printable import printable

if TYPE_CHECKING:
    from storm.scan import ScanOutcome

SCREENFUL = 20  # markets on alert `storm scan` prints by default; the night's page has every one


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
        top: int = typer.Option(SCREENFUL, "--top", min=1, help="Print the N markets on alert with the highest "
                                "scores; the night's page (scores/date=D/report.html) lists every one."),
        explain: bool = typer.Option(True, help="Attribute every score to its modalities and items and store "
                                     "the explanations beside the scores."),
    ) -> None:
        """Score trading days; scores land in scores/date=D/ before any metrics push."""
        if date and (start or end):
            raise typer.BadParameter("give --date, or --start/--end for a backfill, not both")
        settings = build_config(config, overrides, **{"train.run_name": run, "storage.root": root,
                                                      "metrics.pushgateway_url": pushgateway})
        raise typer.Exit(run_scan(settings, start=date or start, end=date or end, publish=publish, candidate=candidate,
                                  force=force, all_scores=all_scores, explain=explain, top=top))


def run_scan(settings: StormConfig, start: str | None, end: str | None, publish: bool = True, candidate: bool = False,
             force: bool = False, all_scores: bool = False, console: Console | None = None, explain: bool = True,
             top: int = SCREENFUL) -> int:
    """Run the scan and print what it did; returns the process exit code (1 when the push failed, 2 when refused)."""
    from storm.ingest import PricesError
    from storm.scan import scan
    from storm.scan.score_store import ScoresOwnedByOtherVersion

    console = console or Console(highlight=False)
    start_ray(settings, console)
    try:
        outcome = scan(settings, start=start, end=end, publish=publish, candidate=candidate, force=force,
                       progress=StageReporter(console), explain=explain)
    except (ScoresOwnedByOtherVersion, PricesError) as err:  # refused: another version's night, or nothing to scan
        typer.secho(str(err), fg="red", err=True)
        return 2
    print_night(outcome, console, top, all_scores)
    if outcome.publish_error is not None:
        console.print(f"[red]{outcome.publish_error}[/]", soft_wrap=True)
        return 1
    if outcome.published is not None:
        pushed = f"; pushed to {settings.metrics.pushgateway_url}" if outcome.published.pushed else ""
        console.print(f"metrics: {outcome.published.textfile}{pushed}", soft_wrap=True)
    return 0


def print_night(outcome: ScanOutcome, console: Console, top: int = SCREENFUL, all_scores: bool = False) -> None:
    """The last scanned day as a desk reads it: the ``top`` markets on alert and their drivers, how many more are on
    alert and where the night's page lists them all, the summary line, and where the scores and the page are."""
    from storm.explain.table import driver_lines
    from storm.scan.night_report import scan_summary, top_alerts

    last = outcome.dates[-1]
    scores = outcome.scores[last]
    shown, left_out = top_alerts(scores, top)
    console.print(scores_table(shown, f"on alert {last}") if len(shown) else f"no market on alert on {last}")
    if last in outcome.explanations and len(shown):
        console.print("what drove each alert (contributions to the score; `storm explain --market M --date "
                      f"{last}` for the full breakdown):", soft_wrap=True)
        for line in driver_lines(outcome.explanations[last], shown):
            console.print(printable(line), soft_wrap=True, markup=False)
    if left_out:
        console.print(f"{left_out} more market{'s' * (left_out != 1)} on alert not shown (--top {top}); every one, "
                      f"with its drivers: {outcome.report_paths[last]}", soft_wrap=True)
    if all_scores:
        console.print(scores_table(scores, f"storm scores for {last}"))
    console.print(scan_summary(scores, last, outcome.stats[last].markets_missing, outcome.model_version))
    if len(outcome.dates) > 1:
        console.print(f"backfilled {len(outcome.dates)} trading days {outcome.dates[0]} .. {last}")
    console.print(f"scores: {outcome.score_paths[last]}", soft_wrap=True)
    console.print(f"page:   {outcome.report_paths[last]} (the night's alerts, drivers and scores, to open or share)",
                  soft_wrap=True)


def alerts_table(scores: pd.DataFrame, title: str) -> Table:
    """Markets on alert, highest score first: every horizon of such a market, so its term structure reads whole."""
    from storm.scan.night_report import on_alert

    return scores_table(on_alert(scores), title)


def scores_table(scores: pd.DataFrame, title: str) -> Table:
    """market, horizon, score, threshold, alert and what drove it: each modality's contribution, or for a stacked
    model each member's (the members with a contribution somewhere); fits 80 columns. The night's page shows the
    same cells (storm.scan.night_report.score_cells)."""
    from storm.scan.night_report import ALERT, INHERITED_ALERT, INHERITED_NOTE, has_inherited_alert, score_cells

    headers, rows = score_cells(scores)
    table = Table(title=title)
    table.add_column(headers[0], no_wrap=True)
    for column in headers[1:]:
        table.add_column(column, justify="right", no_wrap=True)
    alert = headers.index("alert")
    for row in rows:
        cells = [printable(cell) for cell in row]
        cells[alert] = f"[bold red]{row[alert]}[/]" if row[alert] in (ALERT, INHERITED_ALERT) else row[alert]
        table.add_row(*cells)
    if has_inherited_alert(scores):
        table.caption = INHERITED_NOTE
    return table
