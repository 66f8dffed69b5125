"""`storm demo`: the main job end to end on embedded defaults.

generate a synthetic world → ingest → train (Ray Train, 2 workers) → evaluate on
held-out dates → scan the last day → publish metrics (textfile, or a
Pushgateway if configured). Each step is also its own command.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from storm.cli.common import ConfigOption, SetOption, build_config, start_ray
from storm.console import StageReporter
from storm.schema import MODALITIES


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        root: Optional[str] = typer.Option(None, help="Object store root (default storm-data/ here)."),
        retrain: bool = typer.Option(False, help="Train again even if the run already has a model."),
        single_modality: bool = typer.Option(True, help="Also train the single-modality comparison models."),
    ) -> None:
        """Run generate → ingest → train → evaluate → scan → publish and show what came out."""
        from storm.cli.ingest_cmd import show_ingest_report
        from storm.cli.scan_cmd import run_scan
        from storm.cli.train_cmd import calibration_table
        from storm.evaluation import evaluate
        from storm.ingest import run_ingest
        from storm.store import Layout, open_store
        from storm.training import train
        from storm.worlds import generate_world

        settings = build_config(config, overrides, **{"storage.root": root})
        console = Console(highlight=False)
        progress = StageReporter(console)
        store = open_store(settings.storage)
        layout = Layout(store)
        timings: dict[str, float] = {}

        def step(name: str):
            console.rule(f"[bold]{name}")
            timings[name] = time.time()

        step("generate")
        world = generate_world(settings, store, progress=True)
        console.print(f"{world.kind} world: {len(world.markets)} markets x {world.trading_days} trading days "
                      f"({world.start} .. {world.end}), {world.counts}, storm rate "
                      + ", ".join(f"{h}d {rate:.1%}" for h, rate in world.storm_rate.items()))
        start_ray(settings, console)
        step("ingest")
        with progress.stage(f"ingest {world.start} .. {world.end}"):
            report = run_ingest(settings, world.start, world.end)
        console.print(show_ingest_report(report))
        step("train")
        run = settings.train.run_name
        trained_on = layout.model_file(run, "world.json")  # the world manifest the demo model was trained on
        current_world = store.read_bytes(layout.world_manifest())
        if retrain or not store.exists(trained_on) or store.read_bytes(trained_on) != current_world:
            # a model of another world (or a half-finished run) must not be reused, nor resumed by Ray Train
            store.delete([layout.model_dir(name) for name in (run, *(f"{run}-only-{m}" for m in MODALITIES))])
            result = train(settings, progress=progress)
            console.print(calibration_table(result.calibration))
            console.print(f"trained {run} in {result.seconds:.0f} s, {result.samples_per_second:.0f} samples/s")
            store.write_bytes(trained_on, current_world)
        else:
            console.print(f"reusing the model in {layout.model_dir(run)}, trained on this same world (--retrain to train again)")
        step("evaluate")
        evaluation = evaluate(settings, settings.train.run_name, skip_single_modality=not single_modality,
                              log=lambda message: console.print(f"[dim]{message}[/]"))
        for table in evaluation.tables():
            console.print(table)
        step("scan + publish")
        code = run_scan(settings, start=None, end=None, publish=True, console=console)
        marks = list(timings.items()) + [("end", time.time())]
        console.rule("[bold]done")
        for (name, began), (_, finished) in zip(marks, marks[1:]):
            console.print(f"{name:>16}: {finished - began:7.1f} s")
        console.print(f"object store: {store.uri}   report: {layout.report_file(settings.train.run_name, 'report.json')}")
        raise typer.Exit(code)
