"""Scan speed: a one-day scan, a backfill in one Ray pass, and the plain alternative (one scan per day).

Needs a world and a trained model in --root (run `make demo` first). Prints seconds and the ratio.

    .venv/bin/python benchmarks/bench_scan.py --root storm-data --days 30 --loop-days 10
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def timed(label: str, action) -> float:
    began = time.perf_counter()
    action()
    seconds = time.perf_counter() - began
    print(f"{label:<44} {seconds:8.1f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="storm-data")
    parser.add_argument("--run", default="demo")
    parser.add_argument("--days", type=int, default=30, help="backfill length in trading days")
    parser.add_argument("--loop-days", type=int, default=10, help="days for the batched-vs-per-day comparison")
    args = parser.parse_args()

    from storm.config import load_config
    from storm.ray_runtime import ensure_ray
    from storm.scan import scan, trading_days
    from storm.store import Layout, open_store

    config = load_config(overrides={"storage.root": args.root, "train.run_name": args.run,
                                    "metrics.textfile": os.path.join(args.root, "bench.prom")})
    ensure_ray(config.ray)
    store = open_store(config.storage)
    days, markets = trading_days(store, Layout(store), "0000-01-01", "9999-12-31")
    print(f"world: {len(markets)} markets, {len(days)} trading days; machine: {os.cpu_count()} CPUs")
    backfill, compared = days[-args.days:], days[-args.loop_days:]
    timed("warm-up scan (Ray start, model load)", lambda: scan(config, publish=False))
    one = timed("one-day scan (last day, publish to textfile)", lambda: scan(config))
    full = timed(f"backfill of {len(backfill)} days in one scan", lambda: scan(config, backfill[0], backfill[-1], publish=False))
    batched = timed(f"{len(compared)} days in one scan", lambda: scan(config, compared[0], compared[-1], publish=False))
    looped = timed(f"{len(compared)} days, one scan per day (plain loop)",
                   lambda: [scan(config, day, day, publish=False) for day in compared])
    print(f"per day: one-day scan {one:.1f} s, backfill {full / len(backfill):.2f} s/day")
    print(f"ratio per-day loop / one batched scan over {len(compared)} days: {looped / batched:.1f}x")


if __name__ == "__main__":
    main()
