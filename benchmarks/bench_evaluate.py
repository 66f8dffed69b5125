"""Walk-forward `storm evaluate` on one or several worlds: per-stage seconds and the headline comparisons.

    .venv/bin/python benchmarks/bench_evaluate.py --root /tmp/bench-eval --seeds 101 202 303 [--folds 3]
    .venv/bin/python benchmarks/bench_evaluate.py --root /tmp/bench-sp --replay            # S&P 500 1999–2018
    .venv/bin/python benchmarks/bench_evaluate.py ... --set train.volatility_loss_weight=0  # an ablation

Each seed is its own synthetic world under ROOT/seed-N (generated unless it is there already). Prints, per world
and horizon, fused AUROC and Brier with 95% paired block-bootstrap intervals, fused − each model with its
verdict, and at the end the mean and spread of fused − baseline over the worlds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from common import offline

COMPARED = ("fused", "garch", "trail-vol", "price-logit", "boosted", "only-news", "only-prices", "only-calls", "frag-oracle", "ceiling")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--seeds", type=int, nargs="*", default=[101])
    parser.add_argument("--replay", action="store_true", help="the S&P 500 replay world instead of synthetic seeds")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--skip-single-modality", action="store_true")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    offline()

    from storm.cli.common import build_config
    from storm.evaluation import evaluate
    from storm.store import Layout, open_store
    from storm.worlds import generate_world

    worlds = ["replay"] if args.replay else [f"seed-{seed}" for seed in args.seeds]
    summaries = {}
    for world in worlds:
        overrides = list(args.overrides) + [f"storage.root={os.path.join(args.root, world)}"]
        overrides += ["world.kind=replay"] if args.replay else [f"world.seed={world.removeprefix('seed-')}"]
        config = build_config(None, overrides)
        store = open_store(config.storage)
        began = time.perf_counter()
        if not store.exists(Layout(store).world_manifest()):
            generate_world(config, store, progress=False)
        generated = time.perf_counter() - began
        began = time.perf_counter()
        report = evaluate(config, "bench", folds=args.folds, skip_single_modality=args.skip_single_modality,
                          log=lambda message: print(f"  {message}", flush=True)).content
        seconds = time.perf_counter() - began
        summaries[world] = report
        print(f"\n{world}: generate {generated:.0f} s, evaluate {seconds:.0f} s; stages {json.dumps(report['stage_seconds'])}")
        print_world(report)
    if len(summaries) > 1:
        print_spread(summaries)


def print_world(report: dict) -> None:
    reference = report.get("reference") or "fused"
    for horizon in map(str, report["horizons"]):
        product = report["headline"][horizon][reference]
        auroc, brier = product["intervals"]["auroc"], product["intervals"].get("brier") or {}
        storms = report["storms"][horizon]
        print(f"  {horizon}d {reference} AUROC within folds {_ci(auroc)}  Brier {_ci(brier, 4)} (base rate "
              f"{_number(product.get('brier_base_rate'), 4)})  ({product['n_positives']} storm days of "
              f"{product['n_rows']}, {storms['n_episodes']} episodes {storms['per_fold']}"
              f"{'' if storms['judged'] else ': too few to judge'})")
        for name in COMPARED:
            versus = report["versus_reference"][horizon].get(name)
            if versus:
                model = report["headline"][horizon][name]
                print(f"     {reference} − {name:<11} AUROC {_ci(versus['auroc'])} {versus['auroc']['verdict']:<20}"
                      f" ({name} {_number(model['auroc'], 3)}; Brier {_number(model.get('brier'), 4)})")


def print_spread(summaries: dict) -> None:
    print("\nover worlds: mean [min, max] of fused − model AUROC, and worlds where fused is better")
    for horizon in map(str, next(iter(summaries.values()))["horizons"]):
        for name in COMPARED:
            values = [r["versus_reference"][horizon][name]["auroc"] for r in summaries.values()
                      if name in r["versus_reference"][horizon]]
            if values:
                estimates = [v["estimate"] for v in values]
                better = sum(v["verdict"] == "better" for v in values)
                print(f"  {horizon}d fused − {name:<11} {statistics.mean(estimates):+.3f} "
                      f"[{min(estimates):+.3f}, {max(estimates):+.3f}]  better in {better}/{len(values)}")


def _ci(interval: dict, digits: int = 3) -> str:
    if not interval or interval.get("estimate") is None:
        return "–"
    return f"{interval['estimate']:.{digits}f} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"


def _number(value, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    main()
