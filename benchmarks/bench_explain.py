"""The scan's time per market with explanations against without, in one run on one small synthetic world.

Generates a world (news, charts, calls) under --workdir, trains one small model (1 epoch), scans the
last day once to fill the feature cache, then times --repeats scans of that day without and with
explanations, interleaved (so a busy machine weighs on both alike), and prints seconds per market and
the ratio (the goal: at most 1.5x).

    .venv/bin/python benchmarks/bench_explain.py --markets 12 --days 120
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import offline  # noqa: E402

offline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("bench-explain"))
    parser.add_argument("--markets", type=int, default=12)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from storm.config import load_config
    from storm.ray_runtime import ensure_ray
    from storm.scan import scan
    from storm.store import open_store
    from storm.training.trainer import train
    from storm.worlds import generate_world

    config = load_config(environ={}, overrides={
        "storage.root": str(args.workdir / "store"), "metrics.textfile": str(args.workdir / "storm.prom"),
        "world.n_markets": args.markets, "world.n_days": args.days,
        "train.run_name": "bench-explain", "train.epochs": 1, "train.num_workers": 1,
    })
    ensure_ray(config.ray)
    began = time.perf_counter()
    world = generate_world(config, open_store(config.storage), progress=False)
    train(config)
    print(f"world {args.markets} markets x {world.trading_days} days generated and trained in "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    scan(config, publish=False)  # features computed once: both timings below read the cache
    seconds = {False: [], True: []}
    for _ in range(args.repeats):
        for explain in (False, True):
            began = time.perf_counter()
            outcome = scan(config, publish=False, explain=explain)
            seconds[explain].append(time.perf_counter() - began)
    rows = len(outcome.explanations[world.end])
    per_market = {k: statistics.median(v) / args.markets for k, v in seconds.items()}
    print(f"scan of {world.end}, {args.markets} markets, median of {args.repeats}:")
    print(f"  without explanations {per_market[False]:.3f} s per market ({seconds[False]})")
    print(f"  with explanations    {per_market[True]:.3f} s per market ({seconds[True]}); {rows} explanation rows")
    print(f"  ratio {per_market[True] / per_market[False]:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
