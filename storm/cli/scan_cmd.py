"""`storm scan`: score the last trading day (or a backfill range), store, publish."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from storm.cli.common import ConfigOption, SetOption, build_config
from storm.config import StormConfig


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
    ) -> None:
        """Score trading days; scores land in scores/date=D/ before any metrics push."""
        if date and (start or end):
            raise typer.BadParameter("give --date, or --start/--end for a backfill, not both")
        settings = build_config(config, overrides, **{"train.run_name": run, "storage.root": root,
                                                      "metrics.pushgateway_url": pushgateway})
        raise typer.Exit(run_scan(settings, start=date or start, end=date or end, publish=publish, candidate=candidate,
                                  force=force))


def run_scan(settings: StormConfig, start: str | None, end: str | None, publish: bool = True, candidate: bool = False,
             force: bool = False) -> int:
    """Run the scan and print what it did; returns the process exit code (1 when the push failed, 2 when refused)."""
    from storm.scan import scan
    from storm.scan.score_store import ScoresOwnedByOtherVersion

    try:
        outcome = scan(settings, start=start, end=end, publish=publish, candidate=candidate, force=force)
    except ScoresOwnedByOtherVersion as err:
        typer.secho(str(err), fg="red", err=True)
        return 2
    console = Console()
    last = outcome.dates[-1]
    console.print(show_scores(outcome.scores[last], f"storm scores for {last} (model {outcome.model_version})"))
    if len(outcome.dates) > 1:
        console.print(f"backfilled {len(outcome.dates)} trading days {outcome.dates[0]} .. {last}")
    stats = outcome.stats[last]
    if stats.markets_missing:
        console.print(f"[yellow]markets with no inputs on {last}: {', '.join(stats.markets_missing)}[/]")
    console.print(f"scores: {outcome.score_paths[last]}")
    if outcome.publish_error is not None:
        console.print(f"[red]{outcome.publish_error}[/]")
        return 1
    if outcome.published is not None:
        console.print(f"metrics: {outcome.published}")
    return 0


def show_scores(scores, title: str) -> Table:
    table = Table(title=title)
    for column in ("market", "horizon", "score", "threshold", "alert", "text", "image", "audio"):
        table.add_column(column, justify="right" if column not in ("market",) else "left")
    for row in scores.itertuples(index=False):
        table.add_row(
            row.market, f"{row.horizon}d", f"{row.score:.3f}", f"{row.threshold:.3f}",
            "[bold red]ALERT[/]" if row.alert else "-",
            *(f"{getattr(row, f'weight_{m}'):.2f}" if getattr(row, f"present_{m}") else "missing"
              for m in ("text", "image", "audio")),
        )
    return table
