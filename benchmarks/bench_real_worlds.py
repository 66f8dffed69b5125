"""The real benchmark worlds: `storm import` from public data, then `storm evaluate`, with seconds and peak RSS.

    .venv/bin/python benchmarks/bench_real_worlds.py [--data ../shared/realdata] [--root /tmp/storm-real] \
        [--worlds stocknet reuters-sp500 maec reuters-full] [--steps import evaluate] [--set key=value ...]

Each world is a store under ROOT/<world> built only with the documented `storm import` commands printed
below (so a user can run them by hand); `evaluate` is `storm evaluate` with the world's modalities. Prints
per step the wall seconds and the child's peak RSS, and per horizon the report's fused, prices-only and
baseline AUROCs with their intervals. Sources (public, see README "Public data sources"):
  stocknet       StockNet (Xu & Cohen, ACL 2018): tweets + Yahoo prices of 87 US large caps, 2014-2016
  maec           MAEC (Li et al., CIKM 2020): earnings calls, per-sentence text + Praat features, 2015-2018
  reuters-sp500  Reuters editorial headlines 2007-2016 with the S&P 500 index (arch.data.sp500): the headlines
                 that name markets or the economy, the latest 16 a day
  reuters-full   the same with every one of the 2,187,952 headlines (not in the default list: the whole run took
                 2 h 37 min on 2 cores, 2 h 34 min of it embedding; BENCHMARKS.md)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import add_data_argument

STORM = [str(Path(sys.executable).with_name("storm"))]
REUTERS_KEEP = (r"stock|shares|wall st|market|dow |s&p|nasdaq|econom|recession|\bfed\b|federal reserve|"
                r"rate (cut|hike)|bank|credit|crisis|bond|yield|treasur|inflation|jobless|payroll|default|debt|"
                r"earnings|profit|slump|rally|sell-?off|plunge|tumble|fear|volatil|bailout|gdp|downgrade")


def world_commands(world: str, data: Path, root: Path, scratch: Path) -> list[list[str]]:
    """The `storm import` commands that build a world (documented in README)."""
    at = ["--root", str(root)]
    if world == "stocknet":
        maec_tickers = ",".join(sorted(p.stem for p in (data / "stocknet" / "prices").glob("*.csv")))
        return [
            ["import", "prices", str(data / "stocknet" / "prices"), "--adjust", "--start", "2014-01-01",
             "--end", "2016-04-29", *at],
            ["import", "news", str(data / "stocknet" / "tweets.csv.gz"), "--time-column", "created_at_utc", "--naive-tz", "UTC",
             "--text-column", "text", "--market-column", "ticker", "--id-column", "tweet_id", "--name", "tweets", *at],
            ["import", "calls", str(data / "maec" / "maec_sentences.csv.gz"), "--tickers", maec_tickers, *at],
        ]
    if world == "maec":
        return [
            ["import", "prices", str(data / "maec" / "prices_2014_2017.parquet"), *at],
            ["import", "calls", str(data / "maec" / "maec_sentences.csv.gz"), *at],
        ]
    if world in ("reuters-sp500", "reuters-full"):
        relevant = ["--keep", REUTERS_KEEP, "--max-per-day", "16"] if world == "reuters-sp500" else []
        return [
            ["import", "prices", str(sp500_csv(scratch)), "--start", "2006-06-01", "--end", "2016-09-30", *at],
            ["import", "news", str(data / "reuters" / "reuters_editorial_2007_2016.csv.gz"), "--time-column", "ts",
             "--text-column", "headline", "--market", "^GSPC", "--naive-tz", "America/New_York", *relevant,
             "--name", "reuters", *at],
        ]
    raise SystemExit(f"unknown world {world!r}")


WORLD_MODALITIES = {"stocknet": "[news,prices,calls]", "maec": "[prices,calls]", "reuters-sp500": "[news,prices]",
                    "reuters-full": "[news,prices]"}


def sp500_csv(scratch: Path) -> Path:
    """arch's S&P 500 (Yahoo's ^GSPC, 1999-2018) as the Yahoo-style CSV a user would download."""
    from arch.data import sp500

    path = scratch / "^GSPC.csv"
    sp500.load().reset_index().to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def timed(command: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS of the child in MiB, exit code); the child's output goes to this console."""
    print("$ storm " + " ".join(command), flush=True)
    began = time.perf_counter()
    code = subprocess.call(STORM + command)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    return seconds, peak, code


def print_report(root: Path, run: str) -> None:
    """Per horizon: the storm episodes in the test blocks, then every model's within-fold AUROC (and cross-sectional
    AUROC where the world has several markets) with its interval and fused − model with the verdict."""
    report = json.loads((root / "reports" / run / "report.json").read_text())
    print(json.dumps({"stage_seconds": report.get("stage_seconds")}))
    for horizon, rows in report.get("headline", {}).items():
        storms = report["storms"][horizon]
        print(f"horizon {horizon}d: {storms['n_episodes']} test episodes {storms['per_fold']}"
              + ("" if storms["judged"] else f" -> {storms['verdict']}"))
        reference = report.get("reference")
        for name, figures in rows.items():
            versus = report["versus_reference"][horizon].get(name, {}).get("auroc")
            print(f"  {name:<16} AUROC {_interval(figures['intervals']['auroc'])}"
                  f"  x-sect {_interval(figures['intervals']['cross_sectional_auroc'])}"
                  f"  Brier {_number(figures['brier'])} (base {_number(figures['brier_base_rate'])})"
                  + (f"  {reference} − it {_interval(versus, '{:+.3f}')} {versus['verdict']}" if versus else ""))
        evidence = report.get("evidence_gain", {}).get(horizon, {}).get("auroc")
        if evidence:
            print(f"  fused − only-prices (what news and calls add): {_interval(evidence, '{:+.3f}')} "
                  f"{evidence['verdict']}")
    for fold, by_horizon in report.get("stack", {}).items():
        for horizon, fit in by_horizon.items():
            print(f"stack {fold} {horizon}d: {fit['reason']}")
    for horizon, advice in report.get("placement", {}).items():
        if advice.get("advice"):
            print(f"placement {horizon}d: {advice['advice']}")


def _number(value, fmt: str = "{:.3f}") -> str:
    return "–" if value is None else fmt.format(value)


def _interval(figure: dict | None, fmt: str = "{:.3f}") -> str:
    if not figure or figure.get("estimate") is None:
        return "–"
    bounds = "" if figure.get("low") is None else f" [{fmt.format(figure['low'])}, {fmt.format(figure['high'])}]"
    return fmt.format(figure["estimate"]) + bounds


def main() -> None:
    parser = argparse.ArgumentParser()
    add_data_argument(parser)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "storm-real")
    parser.add_argument("--worlds", nargs="*", default=["stocknet", "reuters-sp500", "maec"])
    parser.add_argument("--steps", nargs="*", default=["import", "evaluate"])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--run-suffix", default="", help="the run is the world's name plus this (e.g. '-vol_scaled' "
                        "with --set labels.kind=vol_scaled), so runs of one world under other settings keep their reports")
    args = parser.parse_args()
    for world in args.worlds:
        root = args.root / world
        with tempfile.TemporaryDirectory() as scratch:
            if "import" in args.steps:
                for command in world_commands(world, args.data.resolve(), root, Path(scratch)):
                    seconds, peak, code = timed(command)
                    print(f"[{world}] {command[1]}: {seconds:.1f} s, peak RSS so far {peak:.0f} MiB, exit {code}")
                    if code:
                        raise SystemExit(code)
        if "evaluate" in args.steps:
            sets = [item for value in [f"model.modalities={WORLD_MODALITIES[world]}", *args.overrides]
                    for item in ("--set", value)]
            run = world + args.run_suffix
            seconds, _, code = timed(["evaluate", "--root", str(root), "--run", run, *sets])
            print(f"[{run}] evaluate: {seconds:.1f} s, exit {code}")
            if code:
                raise SystemExit(code)
            print_report(root, run)


if __name__ == "__main__":
    main()
