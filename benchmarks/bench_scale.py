"""Cost per market-day as the world grows: synthetic worlds of 24, 96 and 384 markets, and a real world, in one run.

    .venv/bin/python benchmarks/bench_scale.py --workdir bench-scale --markets 24 96 384 [--real /work/worlds/maec]

Per world: the walk-forward ``storm evaluate`` (public API: ``evaluate``) timed stage by stage (panel, baselines,
train, predict), each stage's seconds per market-day (markets x trading days of the world), and the peak RSS of this
process and its Ray processes. Synthetic worlds (``--days`` trading days, prices, charts and ``--headlines-per-day``
headlines, no audio: 384 markets' espeak-ng calls would be most of the run) are generated under --workdir unless one
of that shape is there already; generation is timed apart and not counted as a stage. ``--real`` evaluates a world a
user imported (``storm import``; e.g. ``bench_real_worlds.py --worlds maec --steps import``) the same way; its
features are whatever its cache holds, so say whether they were cached when quoting it. The last lines give each
stage's seconds per market-day at the largest world over those at the smallest (the issue's goal: at most 1.2).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from common import PeakRss, generated_world, offline

STAGES = ("panel", "baselines", "train", "predict")


def synthetic_config(workdir: Path, markets: int, args):
    from storm.cli.common import build_config

    return build_config(None, [
        f"storage.root={workdir / f'w{markets}'}", f"world.n_markets={markets}", f"world.n_days={args.days}",
        "world.with_audio=false", f"world.headlines_per_day={args.headlines_per_day}", "world.ceiling_paths=0",
        f"train.epochs={args.epochs}", *args.overrides])


def generated(config) -> float:
    """Seconds spent generating the world (0 when one of this shape is there already)."""
    from storm.store import open_store
    from storm.worlds import generate_world

    if generated_world(config) is not None:
        return 0.0
    began = time.perf_counter()
    generate_world(config, open_store(config.storage), progress=False)
    return time.perf_counter() - began


def market_days(config) -> tuple[int, int]:
    from storm.ingest import read_prices
    from storm.store import Layout, open_store

    store = open_store(config.storage)
    prices = read_prices(store, Layout(store))
    return int(prices["market"].nunique()), len(prices)


def measured(config, folds: int) -> dict:
    from storm.evaluation import evaluate

    with PeakRss() as rss:
        began = time.perf_counter()
        report = evaluate(config, "scale", folds=folds, skip_single_modality=True,
                          log=lambda message: print(f"    {message}", flush=True)).content
        seconds = time.perf_counter() - began
    stages = {name: float(report["stage_seconds"].get(name, 0.0)) for name in STAGES}
    return {"seconds": seconds, "stages": stages, "peak_rss_gib": rss.peak / 2**30, "largest_gib": rss.largest / 2**30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("bench-scale"))
    parser.add_argument("--markets", type=int, nargs="+", default=[24, 96, 384])
    parser.add_argument("--days", type=int, default=300, help="trading days of each synthetic world")
    parser.add_argument("--headlines-per-day", type=float, default=0.25)
    parser.add_argument("--folds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--real", type=Path, default=None, help="root of an imported real world (e.g. maec)")
    parser.add_argument("--real-folds", type=int, default=3)
    parser.add_argument("--real-set", action="append", default=[],
                        help="override for the real world only, e.g. 'model.modalities=[prices,calls]' for maec")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override, repeatable")
    args = parser.parse_args()
    offline()
    from storm.cli.common import build_config
    from storm.ray_runtime import ensure_ray

    worlds = {f"{n} markets": synthetic_config(args.workdir, n, args) for n in sorted(args.markets)}
    if args.real is not None:
        worlds[f"real: {args.real.name}"] = build_config(None, [f"storage.root={args.real}", f"train.epochs={args.epochs}",
                                                                *args.overrides, *args.real_set])
    ensure_ray(next(iter(worlds.values())).ray)
    print(f"machine: {os.cpu_count()} CPUs; synthetic worlds: {args.days} days, {args.headlines_per_day} headlines per "
          f"market-day, charts, no audio; {args.folds} fold(s), {args.epochs} epoch(s), single-modality models skipped",
          flush=True)
    results = {}
    for name, config in worlds.items():
        seconds = generated(config) if not name.startswith("real") else 0.0
        markets, days = market_days(config)
        print(f"  {name}: {markets} markets, {days:,} market-days (generated in {seconds:.0f} s)", flush=True)
        folds = args.real_folds if name.startswith("real") else args.folds
        results[name] = {"markets": markets, "market_days": days, "folds": folds, **measured(config, folds)}
        print(f"  {name}: {json.dumps(results[name])}", flush=True)
    report(results)


def report(results: dict) -> None:
    print("\n| world | folds | market-days | " + " | ".join(f"{s} s (ms per market-day)" for s in STAGES)
          + " | evaluate s (ms per market-day) | peak RSS GiB (largest process) |")
    print("|---|---|---|" + "---|" * (len(STAGES) + 2))
    for name, result in results.items():
        per = lambda seconds: f"{seconds:.1f} ({1000 * seconds / result['market_days']:.2f})"  # noqa: E731
        print(f"| {name} | {result['folds']} | {result['market_days']:,} | " + " | ".join(per(result["stages"][s]) for s in STAGES)
              + f" | {per(result['seconds'])} | {result['peak_rss_gib']:.2f} ({result['largest_gib']:.2f}) |")
    synthetic = [name for name in results if not name.startswith("real")]
    if len(synthetic) > 1:
        small, large = results[synthetic[0]], results[synthetic[-1]]
        ratio = lambda pick: (pick(large) / large["market_days"]) / (pick(small) / small["market_days"])  # noqa: E731
        print(f"\nseconds per market-day, {synthetic[-1]} / {synthetic[0]} (goal <= 1.2): "
              + ", ".join(f"{s} {ratio(lambda r, s=s: r['stages'][s]):.2f}" for s in STAGES)
              + f", evaluate {ratio(lambda r: r['seconds']):.2f}")


if __name__ == "__main__":
    main()
