"""`storm train`: train a run on Ray, print the per-epoch table and the calibration it ended with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from storm.cli.common import ConfigOption, SetOption, build_config, start_ray
from storm.console import StageReporter, shown_epoch

if TYPE_CHECKING:  # the command imports the evaluation and the model only when it runs (storm --help stays quick)
    from storm.evaluation.product import PublishedProduct
    from storm.published.calibration import Calibration


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_command(
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        root: Optional[str] = typer.Option(None, help="Object store root (storage.root)."),
        run: Optional[str] = typer.Option(None, help="Run name (train.run_name); the same name resumes the run."),
        workers: Optional[int] = typer.Option(None, help="Training workers (train.num_workers)."),
        epochs: Optional[int] = typer.Option(None, help="Epochs (train.epochs)."),
        init_from: Optional[str] = typer.Option(None, "--init-from", help="Initialise encoders from this run's weights."),
        freeze_encoders: Optional[bool] = typer.Option(None, "--freeze-encoders/--no-freeze-encoders",
                                                       help="Freeze the encoders taken from --init-from."),
        gpu: Optional[bool] = typer.Option(None, "--gpu/--no-gpu", help="One GPU per worker (train.use_gpu)."),
        fresh: bool = typer.Option(False, "--fresh", help="Discard an earlier run of this name started differently."),
    ) -> None:
        """Train the fusion model data-parallel with Ray Train; publish models/<run>/ with its calibration."""
        settings = build_config(config, overrides, **{
            "storage.root": root, "train.run_name": run, "train.num_workers": workers, "train.epochs": epochs,
            "train.init_from": init_from, "train.freeze_encoders": freeze_encoders, "train.use_gpu": gpu,
        })
        console = Console(highlight=False)
        start_ray(settings, console)
        outcome, product = run_training(settings, StageReporter(console), fresh)
        console.print(calibration_table(outcome.calibration))
        console.print(trained_line(outcome), soft_wrap=True)
        if product is not None:
            console.print(product_table(product.product))
            for note in product.notes:
                console.print(f"  {note}", soft_wrap=True, markup=False)
            console.print(f"published model {product.version}: the neural model and the desk's members, stacked "
                          "as above (product.json)", soft_wrap=True)


def run_training(settings, progress: StageReporter, fresh: bool = False):
    """Train the neural model, then (evaluation.stack) fit the desk's members and publish the stacked product."""
    from storm.evaluation.product import publish_product
    from storm.store import open_store
    from storm.training.trainer import evidence_over_all_prices, train

    try:
        evidence = evidence_over_all_prices(settings, progress)
        outcome = train(settings, evidence=evidence, progress=progress, fresh=fresh)
        product = publish_product(settings, evidence, open_store(settings.storage), progress=progress) \
            if settings.evaluation.stack else None
        return outcome, product
    except (ValueError, FileNotFoundError) as err:  # bad dates, no prices, unknown --init-from run: say what to do
        typer.secho(str(err), fg="red", err=True)
        raise typer.Exit(2) from None


def product_table(product: PublishedProduct) -> Table:
    """Per horizon what ships: the stack (its weights) or one member alone, and the validation gain behind it."""
    table = Table(title="published score (stack chosen on rows no member was selected on)")
    for name in ("horizon", "ships", "weights", "gain vs best member [95%]"):
        table.add_column(name, justify="right" if name == "horizon" else "left")
    for horizon in product.horizons:
        fit = product.fits[horizon]
        weights = ", ".join(f"{m} {w:.2f}" for m, w in fit.weights.items() if w != 0)
        gain = fit.gain
        interval = ("–" if gain.get("estimate") is None else f"{gain['estimate']:+.4f}" + (
            "" if gain.get("low") is None else f" [{gain['low']:+.4f}, {gain['high']:+.4f}]"))
        table.add_row(f"{horizon}d", fit.shipped, weights, f"{interval} vs {fit.best_member}")
    return table


def trained_line(outcome) -> str:
    """`neural model <version> (best epoch 2 of 4) in …`: epochs numbered from 1, as the epoch lines number them."""
    return (f"neural model {outcome.version} (best epoch {shown_epoch(outcome.best_epoch)} of {len(outcome.history)}) "
            f"in {outcome.seconds:.1f}s, {outcome.samples_per_second:.0f} training samples/s: {outcome.model_dir}")


def history_table(history: list[dict], best_epoch: int) -> Table:
    """One row per epoch, numbered from 1 as the epoch lines are; ``best_epoch`` (0-based, as trained) marked *."""
    table = Table(title="epochs")
    metric_names = [key for key in history[0] if key not in ("epoch", "attempt_start_epoch")] if history else []
    for name in ["epoch", *metric_names]:
        table.add_column(name, justify="right")
    for entry in history:
        marker = " *" if entry["epoch"] == best_epoch else ""
        table.add_row(f"{shown_epoch(entry['epoch'])}{marker}", *(_number(entry.get(name)) for name in metric_names))
    return table


def calibration_table(calibration: Calibration) -> Table:
    table = Table(title=f"calibration ({calibration.method}, false-alarm rate ≤ {calibration.false_alarm_rate:g})")
    for name in ("horizon", "slope", "intercept", "threshold", "val. false alarms"):
        table.add_column(name, justify="right")
    for horizon in calibration.horizons:
        table.add_row(f"{horizon}d", _number(calibration.slope), _number(calibration.intercept.get(horizon)),
                      _number(calibration.threshold[horizon]), _number(calibration.validation_false_alarm_rate.get(horizon)))
    return table


def _number(value) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
