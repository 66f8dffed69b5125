"""Training samples/s of each model the evaluation trains, on one thread: the plain PyTorch epoch (storm.training.loop,
what every Ray Train worker runs), on a planted-signal panel at the default feature sizes. No Ray: the figure is
storm's own per-sample cost, apart from Ray Train's fixed start-up per training.

    .venv/bin/python benchmarks/bench_training_throughput.py --markets 12 --days 300 --rows 2048
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import offline

offline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=12)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from storm.config import FeatureConfig, ModelConfig
    from storm.features.planted import HORIZONS, planted_panel
    from storm.features.windows import batches_of_rows
    from storm.model import build_model
    from storm.training.loop import train_epoch
    from storm.training.losses import StormLoss

    torch.set_num_threads(args.threads)
    features = FeatureConfig()
    panel = planted_panel(args.markets, args.days, features, seed=1)
    rows = np.flatnonzero(~np.isnan(panel.labels[:, -1]))[: args.rows]
    print(f"{len(rows)} windows of {features.window_days} days, {args.threads} thread(s)")
    for name, settings in [("fused (anchored)", {}), ("prices only", {"modalities": ["prices"]}),
                           ("news only", {"modalities": ["news"]}), ("calls only", {"modalities": ["calls"]})]:
        torch.manual_seed(0)
        model = build_model(ModelConfig(**settings), features, list(HORIZONS))
        optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
        began = time.perf_counter()
        batches = list(batches_of_rows(panel, rows, 64))
        gathered = time.perf_counter() - began
        stats = train_epoch(model, iter(batches), optimizer, StormLoss([1.0] * len(HORIZONS)), list(HORIZONS), None,
                            torch.device("cpu"))
        total = time.perf_counter() - began
        print(f"{name:17} {len(rows) / total:7.0f} samples/s with the window gathers ({gathered:.2f} s of them), "
              f"{stats.samples_per_second:7.0f} samples/s training alone")


if __name__ == "__main__":
    main()
