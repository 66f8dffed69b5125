"""`storm demo`: the main job end to end on embedded defaults, in a few minutes.

generate a synthetic world → ingest and features → walk-forward evaluation (fused vs single
modalities vs price baselines, with intervals) and the final model, trained in one worker group → scan the last day →
publish metrics (textfile, or a Pushgateway if configured). Each step is also its own command.
The demo runs a smaller world and one fold so it fits in minutes, and says so; `storm evaluate`
on the default world runs the full protocol.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from storm.cli.common import ConfigOption, SetOption, build_config, start_ray
from storm.console import StageReporter, shown_epoch

DEMO_PROFILE = {  # under the user's --set: a world and protocol that fit in minutes on 2 cores
    "world.n_markets": 12,
    "world.n_days": 400,
    "world.headlines_per_day": 2.0,
    "world.conferences_per_month": 1.0,  # each call heard by Praat sentence by sentence: ~0.3 s a call on 2 cores
    "train.folds": 1,
    "train.warmup_fraction": 0.6,
}


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        root: Optional[str] = typer.Option(None, help="Object store root (default storm-data/ here)."),
        full: bool = typer.Option(False, "--full", help="The default world and every fold instead of the demo profile."),
        single_modality: bool = typer.Option(True, help="Also train the single-modality comparison models."),
    ) -> None:
        """Run generate → features → evaluate → train → scan → publish and show what came out."""
        from storm.cli.ingest_cmd import show_ingest_report
        from storm.cli.scan_cmd import run_scan
        from storm.cli.train_cmd import calibration_table, product_table
        from storm.evaluation import evaluate
        from storm.features.panel import ingested_evidence
        from storm.store import Layout, open_store

        profile = [] if full else [f"{key}={value}" for key, value in DEMO_PROFILE.items()]
        settings = build_config(config, profile + list(overrides or []), **{"storage.root": root})
        console = Console(highlight=False)
        progress = StageReporter(console)
        store = open_store(settings.storage)
        layout = Layout(store)
        timings: dict[str, float] = {}

        def step(name: str):
            console.rule(f"[bold]{name}")
            timings[name] = time.time()

        if not full:
            console.print(f"[bold]demo profile[/]: {settings.world.n_markets} markets x {settings.world.n_days} trading "
                          f"days, {settings.train.folds} walk-forward fold. The full protocol: storm evaluate "
                          f"(default world {24} markets x 750 days, 3 folds) or storm demo --full.")
        step("generate")
        world = _generate_or_reuse(settings, store, layout, console)
        start_ray(settings, console)
        step("ingest + features")
        evidence = ingested_evidence(settings, world["start"], world["end"], progress)
        console.print(show_ingest_report(evidence.report))
        console.print(f"features computed this run (the rest from the cache): {evidence.computed}")
        step("evaluate + train the final model")
        run = settings.train.run_name
        evaluation = evaluate(settings, run, skip_single_modality=not single_modality, evidence=evidence,
                              log=lambda message: console.print(f"[dim]{message}[/]"), progress=progress,
                              final_model=True)
        for table in evaluation.tables():
            console.print(table)
        final = evaluation.final
        console.print(calibration_table(final.predictor.calibration))
        console.print(f"{'reused' if final.summary['reused'] else 'trained'} {run} ({final.summary['version']}, "
                      f"best epoch {shown_epoch(final.summary['best_epoch'])}) beside the fold models: one worker group "
                      "for all")
        if evaluation.product is not None:
            console.print(product_table(evaluation.product.product))
            console.print(f"published {run} {evaluation.product.version}: the neural model and the desk's members, "
                          "stacked as above; the scan below scores it", soft_wrap=True)
        step("scan + publish")
        code = run_scan(settings, start=None, end=None, publish=True, force=True, console=console)
        marks = list(timings.items()) + [("end", time.time())]
        console.rule("[bold]done")
        for (name, began), (_, finished) in zip(marks, marks[1:]):
            console.print(f"{name:>24}: {finished - began:7.1f} s")
        console.print(f"object store: {store.uri}   report: {evaluation.report_path}   page: "
                      f"{evaluation.content['html']}", soft_wrap=True)
        raise typer.Exit(code)


def _generate_or_reuse(settings, store, layout, console: Console) -> dict:
    """The store's world when it was generated with these same world settings, else a new one."""
    from storm.worlds import generate_world

    manifest_path = layout.world_manifest()
    if store.exists(manifest_path):
        manifest = json.loads(store.read_text(manifest_path))
        if manifest.get("world") == settings.world.model_dump(mode="json"):
            console.print(f"reusing the {manifest['kind']} world in {store.uri} (same world settings)")
            return manifest
    summary = generate_world(settings, store, progress=True)
    console.print(f"{summary.kind} world: {len(summary.markets)} markets x {summary.trading_days} trading days "
                  f"({summary.start} .. {summary.end}), {summary.counts}, storm rate "
                  + ", ".join(f"{h}d {rate:.1%}" for h, rate in summary.storm_rate.items()))
    return json.loads(store.read_text(manifest_path))
