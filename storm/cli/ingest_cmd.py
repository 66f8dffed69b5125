"""`storm ingest`: read, validate and decode a date range of raw inputs; show what was good, rejected, missing."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from storm.cli.common import ConfigOption, SetOption, build_config, start_ray
from storm.console import StageReporter
from storm.schema import INPUT_STATUSES


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_command(
        start: str = typer.Option(..., help="First date to ingest, YYYY-MM-DD (inclusive)."),
        end: str = typer.Option(..., help="Last date to ingest, YYYY-MM-DD (inclusive)."),
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        root: Optional[str] = typer.Option(None, help="Object store root (storage.root)."),
    ) -> None:
        """Ingest raw news, charts and audio from START to END; rejects go to quarantine/ with their reason."""
        from storm.ingest import PricesError, run_ingest
        settings = build_config(config, overrides, **{"storage.root": root})
        console = Console(highlight=False)
        start_ray(settings, console)
        try:
            with StageReporter(console).stage(f"ingest {start} .. {end}"):
                report = run_ingest(settings, start, end)
        except (PricesError, ValueError) as err:
            typer.secho(f"storm ingest: {err}", fg="red", err=True)
            raise typer.Exit(2) from None
        console.print(show_ingest_report(report))
        if report.quarantine_files:
            console.print(f"quarantine records ({len(report.quarantine_files)} files) under {report.quarantine_dir}:",
                          markup=False, soft_wrap=True)
            for path in report.quarantine_files:
                console.print(f"  {path}", markup=False, soft_wrap=True)
        else:
            console.print("no input was quarantined")
        console.print(f"ingest took {report.seconds:.1f} s")


def show_ingest_report(report) -> Table:
    """The source x (ok, quarantined, missing) table of an IngestReport."""
    table = Table(title=f"storm ingest {report.start} .. {report.end}")
    table.add_column("input")
    for status in INPUT_STATUSES:
        table.add_column(status, justify="right")
    for source, counts in report.counts.items():
        table.add_row(source, *(str(counts[status]) for status in INPUT_STATUSES))
    if report.unread:
        table.caption = "not read: " + "; ".join(f"{source} ({why})" for source, why in report.unread.items())
    return table
