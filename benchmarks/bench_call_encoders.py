"""Calls heard whole vs the log-mel slices vs prices alone, on synthetic worlds whose calls carry the cues.

    .venv/bin/python benchmarks/bench_call_encoders.py --root /tmp/bench-calls --seeds 101 202 303 \
        [--markets 24] [--days 500] [--conferences 4] [--set train.epochs=6]

Each seed is its own synthetic world under ROOT/seed-N (generated unless there already), written without news so
the calls are the only evidence beside prices: every call is an espeak-ng recording with its transcript and Praat's
per-sentence voice report beside it (a call table). Per walk-forward fold, in one worker group:

- ``sentences``: prices + calls read by ``call_sentences`` (each call table's voice and words; recordings ignored),
  the reference;
- ``log-mel``: prices + calls read by ``conference_evidence`` (the recordings' log-mel slices; tables ignored);
- ``both``: prices + calls read by ``call_evidence`` (tables and log-mel);
- ``prices``: prices alone;
- ``calls-sentences`` / ``calls-log-mel``: calls alone, read each way (whether the calls carry anything at all).

All score the same held-out test rows; AUROC and Brier per horizon with 95% paired block-bootstrap intervals over
the pooled folds (storm's own report), and each model minus the reference.
"""

from __future__ import annotations

import argparse
import os
import time

from common import offline

VARIANTS = {  # name -> (modalities, calls encoder)
    "sentences": (["prices", "calls"], "call_sentences"),
    "log-mel": (["prices", "calls"], "conference_evidence"),
    "both": (["prices", "calls"], "call_evidence"),
    "prices": (["prices"], "auto"),
    "calls-sentences": (["calls"], "call_sentences"),
    "calls-log-mel": (["calls"], "conference_evidence"),
}
REFERENCE_VARIANT = "sentences"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--seeds", type=int, nargs="*", default=[101, 202, 303])
    parser.add_argument("--markets", type=int, default=24)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--conferences", type=float, default=4.0, help="world.conferences_per_month")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    offline()

    from storm.cli.common import build_config
    from storm.store import Layout, open_store
    from storm.worlds import generate_world

    results = {}
    for seed in args.seeds:
        root = os.path.join(args.root, f"seed-{seed}")
        config = build_config(None, [f"world.seed={seed}", f"world.n_markets={args.markets}", f"world.n_days={args.days}",
                                     f"world.conferences_per_month={args.conferences}", "world.with_text=false",
                                     *args.overrides, f"storage.root={root}"])
        store = open_store(config.storage)
        began = time.perf_counter()
        if not store.exists(Layout(store).world_manifest()):
            summary = generate_world(config, store, progress=False)
            print(f"seed-{seed}: generated {summary.counts} in {summary.seconds:.0f} s "
                  f"(stages {summary.stage_seconds})", flush=True)
        results[seed] = compare(config, store, args.folds)
        print(f"seed-{seed}: {time.perf_counter() - began:.0f} s in all\n", flush=True)
    print_summary(results)


def compare(config, store, folds: int | None) -> dict:
    """{horizon: {variant: (auroc, low, high), "minus": {variant: (estimate, low, high, verdict)}}} for one world."""
    from storm.evaluation.predictions import collect_predictions
    from storm.evaluation.report import REFERENCE, FoldScores, ScoredModel, build_report
    from storm.evaluation.runner import PREDICTION_BATCH_ROWS, main_horizon, trained_models
    from storm.features.panel import build_panel
    from storm.features.windows import batches_of_rows
    from storm.ingest import read_prices
    from storm.store import Layout
    from storm.splits import walk_forward_folds

    prices = read_prices(store, Layout(store))
    began = time.perf_counter()
    build = build_panel(config, str(prices["date"].min()), str(prices["date"].max()), store=store)
    panel = build.panel
    print(f"  panel: {time.perf_counter() - began:.0f} s, {len(build.markets)} markets x {len(build.dates)} days, "
          f"{len(panel.call_vector)} call tables", flush=True)
    splits = walk_forward_folds(build.dates, config.train, config.labels, folds)
    wanted = []
    for split in splits:
        for name, (modalities, encoder) in VARIANTS.items():
            wanted.append((config.with_overrides({"model.modalities": modalities, "model.calls_encoder": encoder,
                                                  "train.run_name": f"cmp-{name}-{split.name}"}), split))
    began = time.perf_counter()
    models = trained_models(wanted, build, log=lambda message: print(f"  {message}", flush=True), store=store)
    print(f"  training {len(models)} models in one worker group: {time.perf_counter() - began:.0f} s", flush=True)
    horizons = list(config.labels.horizons)
    fold_scores = []
    for index, split in enumerate(splits):
        fold_models = dict(zip(VARIANTS, models[index * len(VARIANTS):(index + 1) * len(VARIANTS)]))
        scorers = {name: (lambda inputs, p=model.predictor, n=name: {n: p.predict(inputs)})
                   for name, model in fold_models.items()}
        tables = collect_predictions(batches_of_rows(panel, panel.rows_on(split.test), PREDICTION_BATCH_ROWS),
                                     scorers, horizons)
        fold_scores.append(FoldScores(
            models=[ScoredModel(REFERENCE, "fused", tables[REFERENCE_VARIANT])]
            + [ScoredModel(name, "single_modality", tables[name]) for name in VARIANTS if name != REFERENCE_VARIANT],
            periods={"name": split.name}))
    report = build_report("call encoders", fold_scores, horizons, main_horizon(horizons), config.evaluation)
    result = {}
    for horizon in map(str, horizons):
        pooled, versus = report["headline"][horizon], report["versus_reference"][horizon]
        row = {name: _auroc(pooled[REFERENCE if name == REFERENCE_VARIANT else name]) for name in VARIANTS}
        row["minus"] = {name: (versus[name]["auroc"]["estimate"], versus[name]["auroc"]["low"],
                               versus[name]["auroc"]["high"], versus[name]["auroc"]["verdict"])
                        for name in VARIANTS if name != REFERENCE_VARIANT}
        row["brier"] = {name: pooled[REFERENCE if name == REFERENCE_VARIANT else name]["brier"] for name in VARIANTS}
        result[horizon] = row
        print(f"  {horizon}d AUROC: " + ", ".join(f"{name} {_cell(row[name])}" for name in VARIANTS))
        print(f"      sentences − …: " + ", ".join(
            f"{name} {e:+.3f} [{lo:+.3f}, {hi:+.3f}] {verdict}" for name, (e, lo, hi, verdict) in row["minus"].items()))
    print(f"  ({report['bootstrap']['block_days']}-day blocks; test rows pooled over {len(splits)} folds)")
    return result


def _auroc(metrics: dict) -> tuple:
    interval = metrics.get("intervals", {}).get("auroc") or {}
    return metrics["auroc"], interval.get("low"), interval.get("high")


def _cell(value: tuple) -> str:
    auroc, low, high = value
    return f"{auroc:.3f}" + (f" [{low:.3f}, {high:.3f}]" if low is not None else "")


def print_summary(results: dict) -> None:
    if not results:
        return
    horizons = next(iter(results.values())).keys()
    print("| world | h | " + " | ".join(VARIANTS) + " |")
    print("|---|---|" + "---|" * len(VARIANTS))
    for seed, result in results.items():
        for horizon in horizons:
            print(f"| seed-{seed} | {horizon}d | " + " | ".join(_cell(result[horizon][name]) for name in VARIANTS) + " |")
    print("\n| world | h | " + " | ".join(f"sentences − {name}" for name in VARIANTS if name != REFERENCE_VARIANT) + " |")
    print("|---|---|" + "---|" * (len(VARIANTS) - 1))
    for seed, result in results.items():
        for horizon in horizons:
            print(f"| seed-{seed} | {horizon}d | " + " | ".join(
                f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}] {verdict}" for e, lo, hi, verdict in result[horizon]["minus"].values())
                  + " |")


if __name__ == "__main__":
    main()
