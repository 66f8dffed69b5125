"""What a market-wide wire costs the evidence panel's build on a real world (issue 36: at most 1.10x).

    .venv/bin/python benchmarks/bench_market_wide_news.py [--root /work/worlds/stocknet] \
        [--wire ../shared/realdata/reuters/reuters_editorial_2007_2016.csv.gz] [--start 2014-01-01 --end 2016-04-29] \
        [--repeats 3] [--max-per-day N] [--scratch DIR]

Copies the world's raw inputs and feature cache to a scratch folder (the world itself is never written), imports the
Reuters editorial feed there as a market-wide wire (storm import news --market-wide, its rows within the dates),
builds the panel once with the wire to embed its headlines (a one-off cost: the cache keys them by content hash),
then times the panel build (storm.features.panel.ingested_evidence: ingest, features from the warm cache, placement)
without the wire (model.news_wire=false: the wire is not read) and with it, alternating, ``--repeats`` times each.
Prints the import, the embedding, each build's seconds, the medians and their ratio. ``--max-per-day N`` imports
the latest N items of each date only (the model reads the last features.max_headlines, 16, of a day): every build
parses the stored wire's lines, so a full firehose costs its parsing on every build.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REAL_DATA, offline

GOAL = 1.10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path("/work/worlds/stocknet"))
    parser.add_argument("--wire", type=Path, default=REAL_DATA / "reuters/reuters_editorial_2007_2016.csv.gz")
    parser.add_argument("--start", default="2014-01-01", help="the wire's first day (and the panel's)")
    parser.add_argument("--end", default="2016-04-29", help="the wire's last day (and the panel's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-per-day", type=int, default=None, help="import at most N wire items a date (latest)")
    parser.add_argument("--scratch", type=Path, default=None, help="where the world is copied (default: a temp dir)")
    args = parser.parse_args()
    offline()
    print("$ " + " ".join([sys.executable, *sys.argv]))

    from storm.config import load_config
    from storm.features.panel import ingested_evidence
    from storm.importing.news import NewsColumns, NewsImport, import_news
    from storm.ingest import read_prices
    from storm.store import Layout, open_store

    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="storm-wire-bench-"))
    root = scratch / "store"
    began = time.perf_counter()
    for part in ("raw", "features"):
        shutil.copytree(args.root / part, root / part, dirs_exist_ok=True)
    print(f"copied {args.root}/raw and features to {root} in {time.perf_counter() - began:.1f} s")

    config = load_config(None, environ={}, overrides={"storage.root": str(root)})
    store = open_store(config.storage)
    layout = Layout(store)
    began = time.perf_counter()
    spec = NewsImport(name="reuters", columns=NewsColumns(time="ts"), market_wide=True, start=args.start, end=args.end,
                      max_per_day=args.max_per_day)
    report = import_news([args.wire], spec, store, layout)
    print(f"import --market-wide: {report.counts['rows']:,} rows read, {report.counts['items_written']:,} items on "
          f"{report.counts['dates']:,} dates, {time.perf_counter() - began:.1f} s")

    prices = read_prices(store, layout)
    start, end = max(args.start, str(prices["date"].min())), min(args.end, str(prices["date"].max()))
    without = config.with_overrides({"model.news_wire": False})
    began = time.perf_counter()
    cold = ingested_evidence(config, start, end, store=store)
    cold_seconds = time.perf_counter() - began
    panel = cold.panel
    print(f"panel {start} .. {end}: {len(panel):,} rows of {len(cold.markets)} markets; rows reading the wire "
          f"{int((panel.wire_count > 0).sum()):,}, wire headlines read {int(panel.wire_count.sum()):,}")

    seconds = {"without the wire": [], "with the wire": []}
    for _ in range(args.repeats):
        for name, settings in (("without the wire", without), ("with the wire", config)):
            began = time.perf_counter()
            evidence = ingested_evidence(settings, start, end, store=store)
            seconds[name].append(time.perf_counter() - began)
            assert evidence.computed.get("wire", 0) == 0, "a warm build embedded wire headlines"
    warm = statistics.median(seconds["with the wire"])
    print(f"embedding the wire (one-off): {cold.computed.get('wire', 0):,} headlines, "
          f"{cold_seconds - warm:.1f} s (the cold build {cold_seconds:.1f} s less a warm one)")
    for name, runs in seconds.items():
        print(f"panel build {name}: " + ", ".join(f"{s:.1f}" for s in runs) + f" s (median {statistics.median(runs):.1f})")
    ratio = warm / statistics.median(seconds["without the wire"])
    print(f"ratio with / without: {ratio:.3f}x (goal <= {GOAL:.2f}x): {'met' if ratio <= GOAL else 'NOT met'}")
    if args.scratch is None:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
