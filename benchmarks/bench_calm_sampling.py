"""Calm-day sampling against training on every row: the fused model's test AUROC and Brier, paired, with intervals.

    .venv/bin/python benchmarks/bench_calm_sampling.py --root R/stocknet --run stocknet \
        --set 'model.modalities=[news,prices,calls]' --calm-fraction 0.25 [--margin 20]

On one stored world, walk-forward folds as `storm evaluate` cuts them. Per fold the fused model (and its prices-only
anchor) is trained twice in one worker group: on every training row (run `<run>-foldN`, reused from an earlier
`storm evaluate` of the same run when its fingerprint matches) and with train.calm_fraction (run
`<run>-calmP-foldN`). Both score the same test rows; the report is storm's own (paired block bootstrap over the
pooled folds), with the sampled model as reference: "better"/"worse" need the interval to exclude 0. Prints the
training rows per epoch and the training seconds of each (from the models' learning curves).
"""

from __future__ import annotations

import argparse
import time

from common import offline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="the world's object store root")
    parser.add_argument("--run", required=True, help="run name of the full-data models (as `storm evaluate --run`)")
    parser.add_argument("--calm-fraction", type=float, default=0.25)
    parser.add_argument("--margin", type=int, default=None, help="train.storm_margin_days (default: the config's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    offline()

    from storm.cli.common import build_config
    from storm.evaluation.predictions import collect_predictions
    from storm.evaluation.report import REFERENCE, FoldScores, ScoredModel, build_report
    from storm.evaluation.runner import PREDICTION_BATCH_ROWS, fold_run, main_horizon, trained_models
    from storm.features.panel import ingested_evidence
    from storm.features.windows import batches_of_rows
    from storm.ingest import read_prices
    from storm.store import Layout, open_store
    from storm.training.sampling import storm_adjacent
    from storm.splits import walk_forward_folds

    config = build_config(None, [*args.overrides, f"storage.root={args.root}"])
    sampling = {"train.calm_fraction": args.calm_fraction}
    if args.margin is not None:
        sampling["train.storm_margin_days"] = args.margin
    sampled_config = config.with_overrides(sampling)
    sampled_run = f"{args.run}-calm{round(args.calm_fraction * 100)}"
    store = open_store(config.storage)
    prices = read_prices(store, Layout(store))
    began = time.perf_counter()
    evidence = ingested_evidence(config, str(prices["date"].min()), str(prices["date"].max()), store=store)
    panel = evidence.panel
    print(f"panel: {time.perf_counter() - began:.0f} s, {len(evidence.markets)} markets x {len(evidence.dates)} days")
    splits = walk_forward_folds(evidence.dates, config.train, config.labels)
    wanted = [(base.with_overrides({"train.run_name": fold_run(run, split.name)}), split)
              for split in splits for base, run in ((config, args.run), (sampled_config, sampled_run))]
    began = time.perf_counter()
    models = trained_models(wanted, evidence, log=lambda message: print(f"  {message}", flush=True), store=store)
    print(f"training (both ways, every fold, one worker group; reused runs cost nothing): "
          f"{time.perf_counter() - began:.0f} s")
    horizons = list(config.labels.horizons)
    adjacent = storm_adjacent(panel.labels, panel.market_start, sampled_config.train.storm_margin_days)
    folds = []
    for index, split in enumerate(splits):
        full, sampled = models[2 * index], models[2 * index + 1]
        train_rows = panel.rows_on(split.train)
        kept = adjacent[train_rows].mean()
        print(f"{split.name}: {len(train_rows)} training rows, {kept:.1%} storm-adjacent; rows per epoch: all "
              f"{len(train_rows)}, sampled ≈ {round(len(train_rows) * (kept + (1 - kept) * args.calm_fraction))}")
        for name, model in (("full", full), ("sampled", sampled)):
            history = model.summary["history"]
            seconds = sum(epoch.get("epoch_seconds") or 0 for epoch in history)
            print(f"  {name:>7}: {len(history)} epochs, {seconds:.0f} s in epochs (rank 0), best epoch "
                  f"{model.summary['best_epoch']}, {'reused' if model.summary['reused'] else 'trained'}")
        scorers = {"sampled": lambda inputs, p=sampled.predictor: {"sampled": p.predict(inputs)},
                   "full": lambda inputs, p=full.predictor: {"full": p.predict(inputs)}}
        tables = collect_predictions(batches_of_rows(panel, panel.rows_on(split.test), PREDICTION_BATCH_ROWS),
                                     scorers, horizons)
        folds.append(FoldScores(models=[ScoredModel(REFERENCE, "fused", tables["sampled"]),  # the sampled model
                                        ScoredModel("full", "single_modality", tables["full"])],
                                periods={"name": split.name}))
    report = build_report(f"{args.run} calm sampling", folds, horizons, main_horizon(horizons), config.evaluation)
    block = report["bootstrap"]["block_days"]
    print(f"\nsampled (calm_fraction={args.calm_fraction}) − full, pooled test rows, 95% paired block bootstrap "
          f"({block}-day blocks); Brier: lower is better")
    for horizon in map(str, horizons):
        pooled, versus = report["headline"][horizon], report["versus_reference"][horizon]["full"]
        cells = []
        for metric in ("auroc", "brier"):
            difference = versus[metric]
            cells.append(f"{metric} {pooled[REFERENCE][metric]:.3f} vs {pooled['full'][metric]:.3f}: "
                         f"{difference['estimate']:+.4f} [{difference['low']:+.4f}, {difference['high']:+.4f}] "
                         f"{difference['verdict']}")
        print(f"{horizon}d: " + "; ".join(cells))


if __name__ == "__main__":
    main()
