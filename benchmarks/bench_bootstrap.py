"""Paired block bootstrap: seconds for the default 1000 resamples on a realistic pooled test table,
and the same figures the slow way (sklearn once per resample) on a few resamples, as a ratio.

    .venv/bin/python benchmarks/bench_bootstrap.py --markets 24 --dates 400 --models 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic_input(n_markets: int, n_dates: int, n_models: int, horizons: list[int], seed: int = 0):
    from storm.evaluation.bootstrap import BootstrapInput

    rng = np.random.default_rng(seed)
    markets = np.repeat([f"M{i:02d}" for i in range(n_markets)], n_dates)
    dates = np.tile([f"d{d:04d}" for d in range(n_dates)], n_markets)
    labels = {h: (rng.random(len(markets)) < 0.03 * np.sqrt(h)).astype(float) for h in horizons}
    scores = {("fused" if k == 0 else f"model-{k}"): {h: 1 / (1 + np.exp(2 - labels[h] * (1 - k / n_models)
                                                                          - rng.standard_normal(len(markets))))
                                                      for h in horizons} for k in range(n_models)}
    return BootstrapInput(markets, dates, labels, scores, {})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markets", type=int, default=24)
    parser.add_argument("--dates", type=int, default=400)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()

    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
    from threadpoolctl import threadpool_limits

    from storm.config import EvaluationConfig
    from storm.evaluation.bootstrap import paired_bootstrap, resample_counts

    horizons = [5, 10, 20]
    data = synthetic_input(args.markets, args.dates, args.models, horizons)
    rows = len(data.markets)
    wall, cpu = time.perf_counter(), time.process_time()
    paired_bootstrap(data, horizons, "fused", EvaluationConfig(bootstrap_resamples=args.resamples))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"paired bootstrap: {args.resamples} resamples, {args.models} models x {len(horizons)} horizons x {rows} rows: "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU (one core)")

    slow_resamples = 5
    market_index = np.unique(data.markets, return_inverse=True)[1]
    date_index = np.unique(data.dates, return_inverse=True)[1]
    start = time.process_time()
    with threadpool_limits(1):
        market_counts, date_counts = next(resample_counts(args.markets, args.dates, slow_resamples, 20, 0))
        for r in range(slow_resamples):
            weights = market_counts[market_index, r] * date_counts[date_index, r]
            for h in horizons:
                for model in data.scores.values():
                    roc_auc_score(data.labels[h], model[h], sample_weight=weights)
                    average_precision_score(data.labels[h], model[h], sample_weight=weights)
                    brier_score_loss(data.labels[h], model[h], sample_weight=weights)
    per_resample = (time.process_time() - start) / slow_resamples
    print(f"sklearn per resample: {per_resample:.2f} s CPU -> {per_resample * args.resamples:.0f} s for "
          f"{args.resamples} (plus fused − model differences); ratio {per_resample * args.resamples / cpu:.0f}x")


if __name__ == "__main__":
    main()
