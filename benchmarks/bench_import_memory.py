"""`storm import news` on feeds shaped to blow up memory, and on a real feed: exit code, seconds and peak RSS each.

    .venv/bin/python benchmarks/bench_import_memory.py [--data ../shared/realdata] [--workdir bench-import-memory] \
        [--busy-mb 200] [--cases long-line many-fields parquet-strings busy-dates reuters]

Issue 38, finding 6. Each case is written under --workdir, then imported by `storm import news` in a subprocess
whose peak RSS is sampled every 50 ms (the goal: below 512 MiB for the busy dates, below 1.5 GiB for any case):
  long-line        a .gz of one good item, a 400 MB line, one good item (about 400 KB on disk)
  many-fields      a .gz of one good item and a line of 42 M empty fields (about 40 KB on disk)
  parquet-strings  a Parquet of 50k dictionary-encoded 10 KB texts (about 1 KB on disk; 500 MB decoded)
  busy-dates       --busy-mb MB of distinct items of one market over 4 dates (a market-wide feed)
  reuters          the real Reuters headlines (--data; skipped when absent), for what a clean feed costs
Prints per case what the manifest says of rows, items written and the reasons rows were rejected.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

from common import PeakRss, add_data_argument, offline

offline()
STORM = str(Path(sys.executable).with_name("storm"))
CASES = ("long-line", "many-fields", "parquet-strings", "busy-dates", "reuters")
GOOD = "2020-01-02T15:00:00Z,Fed holds rates\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser)
    parser.add_argument("--workdir", type=Path, default=Path("bench-import-memory"))
    parser.add_argument("--busy-mb", type=int, default=200)
    parser.add_argument("--cases", nargs="*", choices=CASES, default=list(CASES))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{'case':<16} {'input':>10} {'exit':>4} {'seconds':>8} {'peak RSS':>9}  manifest")
    for case in args.cases:
        feed = make_feed(case, args.workdir, args.busy_mb, args.data)
        if feed is None:
            print(f"{case:<16} skipped: no {args.data / 'reuters'}")
            continue
        path, options = feed
        result = run_import(path, options, args.workdir / "store", case)
        print(f"{case:<16} {path.stat().st_size / 2 ** 20:>8.1f}MB {result['code']:>4} {result['seconds']:>8.1f} "
              f"{result['peak_rss'] / 2 ** 20:>6.0f}MiB  {result['summary']}")


def make_feed(case: str, workdir: Path, busy_mb: int, data: Path) -> tuple[Path, list[str]] | None:
    """The case's input file (written once, kept between runs) and its `storm import news` options."""
    columns = ["--time-column", "date", "--text-column", "headline"]
    if case == "reuters":
        path = data / "reuters" / "reuters_editorial_2007_2016.csv.gz"
        return (path, ["--market", "gspc", *columns]) if path.is_file() else None
    suffix = ".parquet" if case == "parquet-strings" else (".csv" if case == "busy-dates" else ".csv.gz")
    path = workdir / f"{case}{suffix}"
    if not path.is_file():
        {"long-line": long_line, "many-fields": many_fields, "parquet-strings": parquet_strings,
         "busy-dates": lambda p: busy_dates(p, busy_mb)}[case](path)
    return path, ["--market", "SPX", *columns]


def long_line(path: Path, line_mb: int = 400) -> None:
    with gzip.open(path, "wt", compresslevel=9) as out:
        out.write("date,headline\n" + GOOD + "2020-01-02T15:00:00Z,")
        for _ in range(line_mb):
            out.write("x" * 2 ** 20)
        out.write("\n" + GOOD)


def many_fields(path: Path, fields: int = 42_000_000) -> None:
    with gzip.open(path, "wt", compresslevel=9) as out:
        out.write("date,headline\n" + GOOD)
        for _ in range(fields // 2 ** 20):
            out.write("," * 2 ** 20)
        out.write("\n" + GOOD)


def parquet_strings(path: Path, rows: int = 50_000, chars: int = 10_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["y" * chars]))
    dates = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["2020-01-02T15:00:00Z"]))
    pq.write_table(pa.table({"date": dates, "headline": text}), path, compression="zstd")


def busy_dates(path: Path, megabytes: int, dates: int = 4) -> None:
    """Distinct ~250-byte items, a quarter of them on each of ``dates`` days, in time order."""
    item = 0
    written = 0
    with path.open("w") as out:
        out.write("date,headline\n")
        per_date = megabytes * 2 ** 20 // dates
        for day in range(dates):
            written = 0
            while written < per_date:
                line = (f"2020-01-{day + 2:02d}T{9 + item % 6:02d}:{item % 60:02d}:00Z,"
                        f"Item {item}: markets weigh {'the outlook for rates and earnings ' * 6}\n")
                out.write(line)
                written += len(line)
                item += 1


def run_import(path: Path, options: list[str], root: Path, name: str) -> dict:
    command = [STORM, "import", "news", str(path), *options, "--name", name.replace("-", "_"), "--root", str(root)]
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with PeakRss(process.pid, every=0.05) as rss:
        _, errors = process.communicate()
    seconds = time.perf_counter() - began
    manifest = root / "raw" / "imports" / f"news-{name.replace('-', '_')}.json"
    summary = errors.decode(errors="replace").strip().splitlines()[-1:] if process.returncode else []
    if not process.returncode and manifest.is_file():
        report = json.loads(manifest.read_text())
        counts = report["counts"]
        summary = [f"rows {counts.get('rows', 0):,}, items {counts.get('items_written', 0):,}, rejected "
                   f"{report['rejected']:,} {json.dumps(report['rejected_by_reason'])[:160]}"]
    return {"code": process.returncode, "seconds": seconds, "peak_rss": rss.largest, "summary": " ".join(summary)}


if __name__ == "__main__":
    main()
