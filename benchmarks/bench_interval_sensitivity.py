"""How far fused − prices only moves with the bootstrap's block length and with the training seed, on one world.

    .venv/bin/python benchmarks/bench_interval_sensitivity.py --root R/stocknet --run stocknet \
        --set 'model.modalities=[news,prices,calls]' --blocks 20 60 120 --seeds 0 1 2

Every (seed, block length) is `storm evaluate` on the stored world, over one evidence panel built once. A seed's
models are trained once: the bootstrap's block length is not part of a model's fingerprint, so the other block
lengths reuse them (seed 0, the default, also reuses what `bench_real_worlds.py` trained under the same run name).
Other seeds train the fused model and its prices-only anchor only (evaluation.single_modalities=[prices]).
Prints, per horizon, fused − only-prices AUROC with its 95% interval for each seed and block length, each
interval's width (marked + or - where the interval lies entirely above or below 0), and the spread of the estimate
over seeds.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import offline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="the world's object store root")
    parser.add_argument("--run", required=True, help="run name of seed 0 (other seeds: <run>-seed<N>)")
    parser.add_argument("--blocks", type=int, nargs="+", default=[20, 60, 120])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    offline()

    from storm.cli.common import build_config
    from storm.evaluation import evaluate
    from storm.features.panel import build_panel
    from storm.ingest import read_prices
    from storm.store import Layout, open_store

    config = build_config(None, [*args.overrides, f"storage.root={args.root}"])
    store = open_store(config.storage)
    prices = read_prices(store, Layout(store))
    began = time.perf_counter()
    evidence = build_panel(config, str(prices["date"].min()), str(prices["date"].max()), store=store)
    print(f"panel: {time.perf_counter() - began:.0f} s, {len(evidence.markets)} markets x {len(evidence.dates)} days")
    differences: dict[tuple[int, int], dict] = {}
    for seed in args.seeds:
        run = args.run if seed == 0 else f"{args.run}-seed{seed}"
        seeded = config.with_overrides({"train.seed": seed} | ({} if seed == 0 else
                                                               {"evaluation.single_modalities": ["prices"]}))
        for block in args.blocks:
            began = time.perf_counter()
            report = evaluate(seeded.with_overrides({"evaluation.block_days": block}), run, evidence=evidence,
                              log=lambda message: print(f"  {message}", flush=True)).content
            differences[seed, block] = {h: report["versus_reference"][h]["only-prices"]["auroc"]
                                        for h in map(str, report["horizons"])}
            print(f"seed {seed}, blocks of {block} days: {time.perf_counter() - began:.0f} s", flush=True)
    horizons = list(next(iter(differences.values())))
    for horizon in horizons:
        print(f"\n{horizon}d: fused − only-prices AUROC [95%] (width)")
        print("seed" + "".join(f"  {f'blocks of {block} days':>40}" for block in args.blocks))
        for seed in args.seeds:
            cells = [differences[seed, block][horizon] for block in args.blocks]
            print(f"{seed:>4}" + "".join(f"  {_cell(cell):>40}" for cell in cells))
        estimates = [differences[seed, args.blocks[0]][horizon]["estimate"] for seed in args.seeds]
        if len(estimates) > 1:
            print(f"over seeds: mean {statistics.mean(estimates):+.4f}, sd {statistics.stdev(estimates):.4f}, "
                  f"min {min(estimates):+.4f}, max {max(estimates):+.4f}")


def _cell(interval: dict) -> str:
    verdict = {"better": " +", "worse": " -"}.get(interval.get("verdict"), "")  # the interval excludes 0
    return (f"{interval['estimate']:+.4f} [{interval['low']:+.4f}, {interval['high']:+.4f}] "
            f"({interval['high'] - interval['low']:.4f}){verdict}")


if __name__ == "__main__":
    main()
