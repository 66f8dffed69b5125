"""A night with every hostile object of issue 21 in its window, against the same night without them (one run).

Generates a small synthetic world under --workdir, trains one small model (1 epoch), runs `storm scan` of the
last day twice as a user would (a subprocess each, the feature cache warm from a first scan): once clean,
once after planting in the scan's window: crafted date keys, a JSONL flood, a /dev/zero link, a FIFO, a
symlinked date folder, a forged M4A (a memory bomb inside FFmpeg), a 5,000-scan progressive JPEG (a CPU
bomb), a prices parquet bomb, a 4 KB dictionary-encoded prices file that decodes to 1 GB, a call table of 20k
identical 50 KB sentences, a 9999-12-31 price row, and news feeds of one 200 MB line, of 4,000-field lines and of a
busy date (100,000 headlines) (issue 38). Prints each night's exit code, wall time, the ratio
(goal: at most 2x), the peak RSS of any process of the scan's tree (sampled every 50 ms), how many markets
were scored, and the quarantine reason of every planted object.

    .venv/bin/python benchmarks/bench_hostile_night.py --markets 12 --days 120
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import PeakRss, offline

offline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("bench-hostile"))
    parser.add_argument("--markets", type=int, default=12)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()

    import pandas as pd

    from storm.config import load_config
    from storm.ray_runtime import ensure_ray
    from storm.store import Layout, open_store
    from storm.training.trainer import train
    from storm.worlds import generate_world

    shutil.rmtree(args.workdir, ignore_errors=True)
    overrides = {"storage.root": str((args.workdir / "store").resolve()), "world.n_markets": args.markets,
                 "world.n_days": args.days, "train.run_name": "bench-hostile", "train.epochs": 1,
                 "train.num_workers": 1}
    config = load_config(environ={}, overrides=overrides)
    ensure_ray(config.ray)
    store = open_store(config.storage)
    layout = Layout(store)
    world = generate_world(config, store, progress=False)
    train(config)
    import ray
    ray.shutdown()  # each night below is its own `storm scan`, with its own local Ray
    night = world.end
    # no --date: the scan's default day is the last stored trading day, which a planted 9999-12-31 row must not move
    command = [str(Path(sys.executable).with_name("storm")), "scan", "--no-publish", "--no-explain",
               *[arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]]
    run_night(command, args.workdir / "warm.log")  # fills the feature cache: both nights below read it alike
    forget_night_news(store, layout, night)  # but the night's own headlines are new on both nights, as on a real one
    clean = run_night(command, args.workdir / "clean.log")

    planted = plant(layout, store, night, args.workdir.resolve() / "outside", pd)
    forget_night_news(store, layout, night)
    hostile = run_night(command, args.workdir / "hostile.log")
    scored = store.read_table(layout.scores(night)).to_pandas()
    hijacked = store.exists(layout.scores("9999-12-31"))
    print(f"night {night}, {args.markets} markets (scan of the last day; feature cache warm)")
    for name, result in (("clean", clean), ("hostile", hostile)):
        print(f"  {name:<8} exit {result['code']}  {result['seconds']:.1f} s  peak RSS of one process "
              f"{result['peak_rss'] / 2 ** 20:.0f} MiB")
    print(f"  ratio hostile / clean: {hostile['seconds'] / clean['seconds']:.2f}x (goal <= 1.2x; peak <= 1.5 GiB)")
    print(f"  the hostile night scored {night}, the real last day: {scored['date'].eq(night).all()}; "
          f"scores for 9999-12-31 written: {hijacked}")
    print(f"  markets scored on the hostile night: {scored['market'].nunique()} of {args.markets} "
          f"(one market's prices replaced by the parquet bomb)")
    print("  quarantined:")
    log = (args.workdir / "hostile.log").read_text(errors="replace")
    for line in quarantine_lines(store, layout, night, planted, log):
        print("   ", line)


def plant(layout, store, night: str, outside: Path, pd) -> list[str]:
    """Every hostile object in the night's window; returns the names to look for in quarantine."""
    from storm.worlds.hostile import forged_m4a, jpeg_scan_bomb

    markets = sorted(path.rsplit("/", 1)[-1].removesuffix(".parquet") for path in store.list_files(layout.prices_dir()))
    victim, crashing = markets[0], markets[1]
    news, charts, calls = (layout.raw_dir(s) for s in ("news", "charts", "audio"))
    store.write_bytes(f"{news}/date={night}x/evil.jsonl", b"not json\n")
    store.write_bytes(f"{news}/xdate={night}/e.jsonl", b"not json\n")
    store.write_bytes(f"{layout.raw_partition('news', night)}/flood.jsonl", b"x\n" * 500_000)
    partition = layout.raw_partition("charts", night)
    os.symlink("/dev/zero", f"{partition}/ZERO.png")
    os.mkfifo(f"{partition}/FIFO.png")
    outside.mkdir(exist_ok=True)
    (outside / "OUT.png").write_bytes(b"\x89PNG outside")
    os.symlink(outside, f"{charts}/date={night}".replace(night, _next_day(night)))
    os.remove(layout.chart(night, victim))
    store.write_bytes(f"{partition}/{victim}.jpg", jpeg_scan_bomb(5000))
    store.write_bytes(f"{layout.raw_partition('audio', night)}/{crashing}-forged.m4a", forged_m4a(250_000_000))
    bomb_market = markets[-1]
    prices = store.read_table(layout.prices(bomb_market)).to_pandas()
    store.write_table(layout.prices(bomb_market),
                      pd.concat([prices] * (250_000 // len(prices) + 1), ignore_index=True))
    # issue 38: a 4 KB prices file whose dictionary-encoded dates decode to 1 GB, a call table of 20k identical
    # 50 KB sentences (68 KB on disk), and a 9999-12-31 row that would become the scan's default day
    store.write_bytes(f"{layout.prices_dir()}/EVIL.parquet", dictionary_bomb(pd, ["date", "close"], 100_000, 10_000))
    store.write_bytes(f"{layout.raw_partition('calls', night)}/{victim}-bomb.sentences.parquet",
                      dictionary_bomb(pd, ["text"], 20_000, 50_000, sent_idx=True, praat=True))
    dated = markets[2]
    rows = store.read_table(layout.prices(dated)).to_pandas()
    far = rows.iloc[[-1]].assign(date="9999-12-31")
    store.write_table(layout.prices(dated), pd.concat([rows, far], ignore_index=True))
    # the news feeds of finding 6 as a night meets them: one 200 MB line, lines of 4,000 fields each, and a busy
    # date of 100,000 well-formed headlines for the night's markets (only the last features.max_headlines of a
    # market's day can reach the model)
    partition = layout.raw_partition("news", night)
    store.write_bytes(f"{partition}/longline.jsonl", b'{"market": "%s", "headline": "' % victim.encode()
                      + b"a" * 200_000_000 + b'"}\n')
    wide = "{" + ", ".join(f'"f{i}": {i}' for i in range(4_000)) + "}\n"
    store.write_bytes(f"{partition}/wide.jsonl", wide.encode() * 2_000)
    busy = "".join(f'{{"market": "{markets[i % len(markets)]}", "headline": "Busy wire item {i} on the desk"}}\n'
                   for i in range(100_000))
    store.write_bytes(f"{partition}/busy.jsonl", busy.encode())
    return ["longline.jsonl", "wide.jsonl", "evil.jsonl", "e.jsonl", "flood.jsonl", "ZERO.png", "FIFO.png", f"date={_next_day(night)}",
            f"{victim}.jpg", f"{crashing}-forged.m4a", f"{bomb_market}.parquet", "EVIL.parquet",
            f"{victim}-bomb.sentences.parquet", "9999-12-31"]


def forget_night_news(store, layout, night: str) -> None:
    """Drop the night's cached headline embeddings: the scan then embeds that day's headlines, as each real night."""
    for spec in {path.split("/features/news/", 1)[1].split("/", 1)[0]
                 for path in store.list_files(layout.features_dir("news", "x").rsplit("/", 1)[0])}:
        target = layout.features_partition("news", spec, night)
        if store.exists(target):
            store.delete([target])


def dictionary_bomb(pd, text_columns: list[str], rows: int, chars: int, sent_idx: bool = False,
                    praat: bool = False) -> bytes:
    """A tiny Parquet whose string columns repeat one huge value: dictionary encoding stores it once, so the footer's
    sizes are small and the decoded table is rows x chars bytes."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    huge = pa.array(["2020-01-01" + "9" * (chars - 10)] * 1, pa.string())
    columns = {name: pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), huge) for name in text_columns}
    if "close" in text_columns:
        columns["close"] = pa.array([1.0] * rows)
    if sent_idx:
        columns["sent_idx"] = pa.array(range(rows), pa.int64())
    if praat:  # a well-formed call table but for its size: the budget, not the schema, must refuse it
        from storm.schema import PRAAT_COLUMNS
        columns.update({name: pa.array([0.0] * rows) for name in PRAAT_COLUMNS})
    buffer = io.BytesIO()
    # no Arrow schema stored: a reader sees plain strings, dictionary-encoded in the pages (as pandas writes them)
    pq.write_table(pa.table(columns), buffer, compression="zstd", store_schema=False)
    return buffer.getvalue()


def _next_day(date: str) -> str:
    import datetime
    return (datetime.date.fromisoformat(date) + datetime.timedelta(days=1)).isoformat()


def run_night(command: list[str], log: Path) -> dict:
    began = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        with PeakRss(process.pid, every=0.05) as rss:
            process.wait()
    return {"code": process.returncode, "seconds": time.perf_counter() - began, "peak_rss": rss.largest}


def quarantine_lines(store, layout, night: str, planted: list[str], log: str = "") -> list[str]:
    """Each planted object's quarantine reason, else the scan's own log line about it (prices a scan reads are
    skipped with a logged reason; `storm ingest` quarantines them), else NOT FOUND."""
    import json

    records = []
    for path in store.list_files(layout.quarantine_dir(), ".jsonl"):
        records += [json.loads(line) for line in store.read_text(path).splitlines() if line.strip()]
    lines = []
    for name in planted:
        found = [r for r in records if r.get("source_path", "").endswith(name) or name in r.get("reason", "")]
        logged = [line for line in log.splitlines() if name in line and "skipping" in line]
        lines.append(f"{name}: " + (found[-1]["reason"][:160] if found else
                                    f"skipped, logged: {logged[-1][-160:]}" if logged else "NOT FOUND in quarantine"))
    return lines


if __name__ == "__main__":
    main()
