"""Time per stored object when `storm import prices` writes many markets, against the plain write of the same bytes.

A long prices table of --markets markets x --days days is written as one CSV, then imported with `storm import
prices --ticker-column ticker` into a fresh local store (a subprocess, as a user runs it): one Parquet object per
market, each written durably (a temporary sibling, fsync, atomic rename, the folder synced). The plain alternative
writes the same per-market tables with pyarrow straight to a folder, once without and once with an fsync per file.
Prints seconds per object for each and the ratios.

    .venv/bin/python benchmarks/bench_import_objects.py --markets 2000 --days 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import offline

offline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("bench-import-objects"))
    parser.add_argument("--markets", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    dates = pd.bdate_range("2024-01-02", periods=args.days).strftime("%Y-%m-%d")
    tickers = [f"M{i:05d}" for i in range(args.markets)]
    close = 100 + np.random.default_rng(0).standard_normal(args.markets * args.days).cumsum() * 0.01
    table = pd.DataFrame({"ticker": np.repeat(tickers, args.days), "date": np.tile(dates, args.markets),
                          "open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1e6})
    source = args.workdir / "prices.csv"
    table.to_csv(source, index=False)

    began = time.perf_counter()
    storm = Path(sys.executable).with_name("storm")
    done = subprocess.run([str(storm), "import", "prices", str(source), "--ticker-column", "ticker",
                           "--root", str(args.workdir / "store")], capture_output=True, text=True)
    storm_seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"storm import prices failed ({done.returncode}): {done.stderr[-2000:]}")
    written = len(list((args.workdir / "store").rglob("raw/prices/*.parquet")))

    plain = {}
    for durable in (False, True):
        folder = args.workdir / f"plain-{'fsync' if durable else 'nosync'}"
        folder.mkdir()
        began = time.perf_counter()
        for ticker, rows in table.groupby("ticker", sort=False):
            path = folder / f"{ticker}.parquet"
            pq.write_table(pa.Table.from_pandas(rows.drop(columns="ticker"), preserve_index=False), path)
            if durable:
                with open(path, "rb+") as handle:
                    os.fsync(handle.fileno())
        plain[durable] = time.perf_counter() - began

    per = {name: seconds / args.markets * 1000 for name, seconds in
           (("storm import", storm_seconds), ("plain write", plain[False]), ("plain write + fsync", plain[True]))}
    print(f"{args.markets} markets x {args.days} days ({written} objects stored by storm import)")
    for name, ms in per.items():
        print(f"  {name:<22} {ms:7.2f} ms per object")
    print(f"  storm import / plain write: {per['storm import'] / per['plain write']:.1f}x; "
          f"/ plain write + fsync: {per['storm import'] / per['plain write + fsync']:.1f}x "
          f"(storm's whole command: process start, reading and checking the CSV, the manifest)")


if __name__ == "__main__":
    main()
