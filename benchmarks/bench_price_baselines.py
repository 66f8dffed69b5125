"""Price baselines on the S&P 500 (arch's bundled daily closes): GARCH seconds with 1 vs 2 worker processes,
and each baseline's test AUROC / Brier per horizon on one train / validation / test split.

    .venv/bin/python benchmarks/bench_price_baselines.py
"""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    import pandas as pd
    from arch.data import sp500
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from storm.config import LabelConfig, TrainConfig
    from storm.evaluation.baselines import price_baselines, price_features
    from storm.labels import label_table
    from storm.splits import walk_forward_folds

    closes = sp500.load()["Adj Close"]
    prices = pd.DataFrame({"market": "SPX", "date": closes.index.strftime("%Y-%m-%d"), "close": closes.to_numpy()})
    horizons, vol_window = [5, 10, 20], 20
    labels = label_table(prices, LabelConfig(horizons=horizons))
    timings = {}
    for workers in (1, 2):
        start = time.perf_counter()
        features = price_features(prices, horizons, vol_window, workers=workers)
        timings[workers] = time.perf_counter() - start
    print(f"S&P 500 {prices['date'].iloc[0]}..{prices['date'].iloc[-1]} ({len(prices)} days): GARCH features "
          f"{timings[1]:.1f} s with 1 worker, {timings[2]:.1f} s with 2 (one market: refit blocks run in parallel)")
    split = walk_forward_folds(prices["date"].tolist(), TrainConfig(validation_fraction=0.2, folds=1, warmup_fraction=0.75),
                               LabelConfig(horizons=horizons))[0]
    print(f"train {split.train[0]}..{split.train[-1]}, validation {split.validation[0]}..{split.validation[-1]}, "
          f"test {split.test[0]}..{split.test[-1]}")
    for model in price_baselines(prices, labels, split, horizons, vol_window, 0.10, features=features):
        figures = []
        for h in horizons:
            rows = model.predictions.dropna(subset=[f"storm_{h}d", f"score_{h}d"])
            y, p = rows[f"storm_{h}d"].to_numpy(int), rows[f"score_{h}d"].to_numpy(float)
            brier = brier_score_loss(y, np.clip(p, 0, 1)) if model.probabilistic[h] else float("nan")
            figures.append(f"{h}d AUROC {roc_auc_score(y, p):.3f} Brier {brier:.4f} ({y.sum()} storm days)")
        print(f"{model.name:<12} " + "; ".join(figures))


if __name__ == "__main__":
    main()
