"""Scan scaling: a one-day scan of 24, 240 and 2,400 synthetic markets, a 10x-days backfill, and the plain loop.

Self-contained, public API only (generate_world, train, scan, build_panel, load_predictor):
- worlds under --workdir: synthetic, --days trading days, prices and charts; headlines only with
  --with-text; no audio (generating 2,400 markets' conference audio would dominate the run);
- one small model trained on the smallest world and copied into the others (the model is
  market-agnostic: shared encoders, no per-market parameters);
- per size: the first scan of the last day (features computed, "cold") and a rerun ("warm"),
  markets per second and peak RSS of this process plus its Ray processes;
- at --backfill-markets: one earlier day against the next --backfill-factor days in one scan (peak RSS ratio);
- the same day scored by the plain single-process loop a user would write (load the model in the
  driver, build the day's window panel, predict batch by batch), against the warm scan, with and without
  the scan's explanations (the plain loop computes none).

    .venv/bin/python benchmarks/bench_scan.py --markets 24 240 2400
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from common import PeakRss, offline  # noqa: E402

offline()


RUN = "bench"


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_gib: float   # this process + its Ray processes, at the highest point of the run
    added_rss_gib: float  # that peak less the same sum just before the run (Ray's idle processes excluded)


def measure(action) -> Measured:
    with PeakRss() as rss:
        began = time.perf_counter()
        action()
        seconds = time.perf_counter() - began
    return Measured(seconds, rss.peak / 2**30, (rss.peak - rss.before) / 2**30)


def world_config(workdir: Path, markets: int, args):
    from storm.config import load_config

    root = workdir / f"w{markets}"
    return load_config(environ={}, overrides={
        "storage.root": str(root / "store"), "metrics.textfile": str(root / "storm.prom"),
        "world.n_markets": markets, "world.n_days": args.days, "world.with_audio": False,
        "world.with_text": args.with_text,
        "train.run_name": RUN, "train.epochs": 1, "train.num_workers": 1,
    })


def prepare(config, trained_root: Path | None) -> tuple[str, list[str]]:
    """Generate the world (and train, or copy the trained model in); the last day and all trading days."""
    from storm.scan import trading_days
    from storm.store import Layout, open_store
    from storm.training import train
    from storm.worlds import generate_world

    store = open_store(config.storage)
    began = time.perf_counter()
    world = generate_world(config, store, progress=False)
    print(f"  generated {config.world.n_markets} markets x {world.trading_days} days "
          f"in {time.perf_counter() - began:.0f} s: {world.counts}", flush=True)
    here = Path(Layout(store).model_dir(RUN))
    if trained_root is None:
        train(config)
    else:
        shutil.copytree(trained_root, here, dirs_exist_ok=True)
    days, _ = trading_days(store, Layout(store), "0000-01-01", "9999-12-31")
    return world.end, days


def plain_loop(config, day: str) -> None:
    """What a user writes without the scan: the model in this process, the day's windows, predict batch by batch."""
    from storm.features.panel import build_panel
    from storm.features.windows import batches_of_rows
    from storm.store import Layout, open_store
    from storm.training import load_predictor

    store = open_store(config.storage)
    predictor = load_predictor(store, Layout(store), RUN)
    panel = build_panel(config, day, day).panel
    for batch in batches_of_rows(panel, panel.rows_on([day]), config.train.batch_size):
        predictor.predict(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("bench-scan"))
    parser.add_argument("--markets", type=int, nargs="+", default=[24, 240, 2400])
    parser.add_argument("--days", type=int, default=60, help="trading days per world (the minimum a world allows)")
    parser.add_argument("--with-text", action="store_true", help="also generate headlines (and embed them)")
    parser.add_argument("--backfill-markets", type=int, default=240)
    parser.add_argument("--backfill-factor", type=int, default=10)
    args = parser.parse_args()

    from storm.ray_runtime import ensure_ray
    from storm.scan import scan
    from storm.store import Layout, open_store

    sizes = sorted(args.markets)
    configs = {n: world_config(args.workdir, n, args) for n in sizes}
    ensure_ray(configs[sizes[0]].ray)
    print(f"machine: {os.cpu_count()} CPUs; worlds: {args.days} days, prices + charts"
          f"{' + headlines' if args.with_text else ''}, no audio", flush=True)
    trained_root = None
    results: dict[int, dict[str, Measured]] = {}
    days_of: dict[int, list[str]] = {}
    for n in sizes:
        config = configs[n]
        last, days_of[n] = prepare(config, trained_root)
        if trained_root is None:
            store = open_store(config.storage)
            trained_root = Path(Layout(store).model_dir(RUN))
            scan(config, publish=False)  # warm-up: Ray Data and model load paths, on the smallest world
        results[n] = {"cold": measure(lambda: scan(config, last, last, publish=False)),
                      "warm": measure(lambda: scan(config, last, last, publish=False))}
        if n == args.backfill_markets:
            results[n]["plain"] = measure(lambda: plain_loop(config, last))
            results[n]["warm-unexplained"] = measure(lambda: scan(config, last, last, publish=False, explain=False))
            one_day, backfill = days_of[n][-2 - args.backfill_factor], days_of[n][-1 - args.backfill_factor:-1]
            results[n]["1x"] = measure(lambda: scan(config, one_day, one_day, publish=False))
            results[n][f"{args.backfill_factor}x"] = measure(lambda: scan(config, backfill[0], backfill[-1], publish=False))
        print(f"  {n} markets: " + ", ".join(f"{k} {m.seconds:.1f} s / {m.peak_rss_gib:.2f} GiB (+{m.added_rss_gib:.2f})"
                                              for k, m in results[n].items()), flush=True)
    report(results, sizes, args)


def report(results: dict[int, dict[str, Measured]], sizes: list[int], args) -> None:
    print("\n| markets | cold scan s | markets/s | added by the cold scan GiB | warm scan s | markets/s "
          "| peak RSS GiB (warm) | added by the warm scan GiB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        cold, warm = results[n]["cold"], results[n]["warm"]
        print(f"| {n:,} | {cold.seconds:.1f} | {n / cold.seconds:.1f} | {cold.added_rss_gib:.2f} | {warm.seconds:.1f} "
              f"| {n / warm.seconds:.1f} | {warm.peak_rss_gib:.2f} | {warm.added_rss_gib:.2f} |")
    smallest, largest = sizes[0], sizes[-1]
    print(f"\nwarm scan time {largest:,} / {smallest:,} markets: "
          f"{results[largest]['warm'].seconds / results[smallest]['warm'].seconds:.1f}x for "
          f"{largest / smallest:.0f}x the markets (goal <= 5x); memory added by the cold scan at {largest:,} markets: "
          f"{results[largest]['cold'].added_rss_gib:.2f} GiB (goal <= 2)")
    at = results.get(args.backfill_markets, {})
    if "plain" in at:
        factor = f"{args.backfill_factor}x"
        print(f"at {args.backfill_markets:,} markets: plain loop {at['plain'].seconds:.1f} s vs warm scan "
              f"{at['warm'].seconds:.1f} s: scan / plain = {at['warm'].seconds / at['plain'].seconds:.2f} (goal <= 1.0); "
              f"without explanations (the plain loop explains nothing) {at['warm-unexplained'].seconds:.1f} s: "
              f"{at['warm-unexplained'].seconds / at['plain'].seconds:.2f}")
        many, one = at[factor], at["1x"]
        print(f"backfill of {args.backfill_factor} days: {many.seconds:.1f} s, peak RSS {many.peak_rss_gib:.2f} GiB "
              f"(+{many.added_rss_gib:.2f}) vs one day {one.seconds:.1f} s, {one.peak_rss_gib:.2f} GiB "
              f"(+{one.added_rss_gib:.2f}): peak RSS ratio {many.peak_rss_gib / one.peak_rss_gib:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
