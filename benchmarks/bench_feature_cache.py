"""Feature cache: building samples for a date range with an empty cache vs with the cache warm.

The plain alternative embeds every headline and recomputes every log-mel on each run;
storm's cache (features/<modality>/<spec>/date=D, keyed by content hash) computes only new items.
Copies raw/ of --root into a temporary store so the cold run really starts empty.

    .venv/bin/python benchmarks/bench_feature_cache.py --root storm-data --days 60
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from common import offline  # noqa: E402

offline()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="storm-data")
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()

    from storm.config import load_config
    from storm.features.panel import build_panel
    from storm.ray_runtime import ensure_ray
    from storm.scan import trading_days
    from storm.store import Layout, open_store

    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(os.path.join(args.root, "raw"), os.path.join(scratch, "raw"))
        config = load_config(overrides={"storage.root": scratch})
        ensure_ray(config.ray)
        store = open_store(config.storage)
        days, markets = trading_days(store, Layout(store), "0000-01-01", "9999-12-31")
        start, end = days[-args.days], days[-1]
        print(f"{len(markets)} markets x {args.days} trading days ({start} .. {end}), {os.cpu_count()} CPUs")
        timings = {}
        for label in ("cold (empty cache: every item computed)", "warm (cache hit: nothing computed)"):
            began = time.perf_counter()
            samples = build_panel(config, start, end)
            timings[label] = time.perf_counter() - began
            print(f"{label:<44} {timings[label]:7.1f} s   computed items: {samples.computed}", flush=True)
        cold, warm = timings.values()
        print(f"ratio cold / warm: {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
