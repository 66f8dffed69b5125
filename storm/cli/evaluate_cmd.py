"""`storm evaluate`: a trained run on its test period against baselines; prints the table, writes the report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from storm.cli.common import ConfigOption, SetOption, build_config, start_ray
from storm.console import StageReporter


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_command(
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        root: Optional[str] = typer.Option(None, help="Object store root (storage.root)."),
        run: Optional[str] = typer.Option(None, help="Name for the fold runs and the report (default: train.run_name)."),
        folds: Optional[int] = typer.Option(None, "--folds", min=1, help="Walk-forward test blocks (train.folds)."),
        skip_single_modality: bool = typer.Option(
            False, "--skip-single-modality", help="Do not train/score one model per modality (faster)."),
    ) -> None:
        """Walk-forward evaluation: per fold, train on the past and score the next block against the baselines."""
        from storm.evaluation import EvaluationError, evaluate
        from storm.evaluation.report import reader_notes

        settings = build_config(config, overrides, **{"storage.root": root, "train.run_name": run})
        console = Console(highlight=False)
        try:
            start_ray(settings, console)
            outcome = evaluate(settings, folds=folds, skip_single_modality=skip_single_modality,
                               log=lambda message: console.print(f"[dim]{message}[/]"), progress=StageReporter(console))
        except (EvaluationError, ValueError) as err:
            console.print(f"[red]{err}[/]", soft_wrap=True)  # unwrapped: paths stay copyable
            raise typer.Exit(2) from None
        for table in outcome.tables():
            console.print(table)
        for note in reader_notes(outcome.content):
            console.print(f"[yellow]note: {note}[/]")
        console.print(f"report: {outcome.report_path}", soft_wrap=True)
        console.print(f"page:   {outcome.content['html']} (tables and plots in one file, to open or share)",
                      soft_wrap=True)
        if outcome.content.get("predictions"):
            console.print(f"scores: {outcome.content['predictions']}", soft_wrap=True)
        for path in outcome.plot_paths:
            console.print(f"plot:   {path}", soft_wrap=True)
