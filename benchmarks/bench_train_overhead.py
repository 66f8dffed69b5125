"""Training through Ray Train against the plain PyTorch loop on the same panel, in one run: samples/s and ratios.

    .venv/bin/python benchmarks/bench_train_overhead.py [--markets 12 --days 300 --epochs 4 --models 3]

A planted-signal panel at the default feature sizes (no I/O: the panel is the same object for both). The plain loop
is what a user would write: build the model, then per epoch a seeded shuffle of the training rows through
storm.training.loop.train_epoch and a validation pass (the same work a Ray Train worker does per epoch). The Ray
side is storm.training.train_models with one worker of --threads CPUs: first one model (Ray Train's start-up paid
for it alone), then --models models in one worker group (what an evaluation does: one start-up for all of them).
Both run every epoch (early stopping is given no chance to end one sooner). Printed: wall seconds, training
samples/s over the wall time (epochs x training rows / seconds) and Ray ÷ plain; the per-epoch samples/s the
workers report, apart from start-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from common import offline

offline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=12)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--modalities", nargs="+", default=["prices"], help="model.modalities of every model trained")
    args = parser.parse_args()

    import numpy as np
    import torch

    from storm.config import load_config
    from storm.features.planted import planted_panel
    from storm.features.panel import IngestedEvidence
    from storm.features.windows import batches_of_rows
    from storm.ingest import IngestReport
    from storm.model import build_model
    from storm.ray_runtime import ensure_ray
    from storm.training.trainer import TrainingRequest, train_models
    from storm.published.inference import predict
    from storm.training.loop import train_epoch
    from storm.training.losses import StormLoss
    from storm.training.sampling import epoch_rows
    from storm.splits import final_split

    workdir = tempfile.mkdtemp(prefix="storm-train-overhead-")
    config = load_config(environ={}, overrides={
        "storage.root": f"{workdir}/store", "model.modalities": args.modalities, "train.epochs": args.epochs,
        "train.early_stopping_patience": args.epochs, "train.num_workers": 1, "train.cpus_per_worker": args.threads,
        "ray.num_cpus": max(args.threads, 2)})
    features, horizons = config.features, list(config.labels.horizons)
    panel = planted_panel(args.markets, args.days, features, seed=1, horizons=tuple(horizons))
    dates = sorted(set(panel.date[~np.isnan(panel.labels[:, -1])]))
    split = final_split(dates, config.train, config.labels)
    train_rows, validation_rows = panel.rows_on(split.train), panel.rows_on(split.validation)
    evidence = IngestedEvidence(panel=panel, report=IngestReport(start=dates[0], end=dates[-1], counts={}),
                                markets=sorted(set(panel.market)), dates=dates)
    samples = args.epochs * len(train_rows)
    print(f"{args.markets} markets x {args.days} days; {len(train_rows)} training and {len(validation_rows)} "
          f"validation windows; {args.epochs} epochs; model.modalities={','.join(args.modalities)}; {args.threads} thread(s)")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    began = time.perf_counter()
    model = build_model(config.model, features, horizons)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.learning_rate,
                                  weight_decay=config.train.weight_decay)
    loss = StormLoss([1.0] * len(horizons), config.train.storm_loss_weight, config.train.volatility_loss_weight)
    for epoch in range(args.epochs):
        drawn = epoch_rows(train_rows, None, 1.0, config.train.seed, epoch)
        train_epoch(model, batches_of_rows(panel, drawn.rows, config.train.batch_size), optimizer, loss, horizons)
        predict(model, batches_of_rows(panel, validation_rows, config.train.batch_size), horizons)
    plain = time.perf_counter() - began
    print(f"plain loop, 1 model:        {plain:7.1f} s  {samples / plain:7.0f} samples/s")

    ensure_ray(config.ray)  # a cluster already up, as under `storm evaluate` (its start is not training's cost)
    for count in (1, args.models):
        requests = [TrainingRequest(config.with_overrides({"train.run_name": f"overhead-{count}-{index}"}), split)
                    for index in range(count)]
        began = time.perf_counter()
        results = train_models(requests, evidence, fresh=True)
        seconds = time.perf_counter() - began
        per_epoch = np.mean([entry["samples_per_second"] for result in results for entry in result.history])
        print(f"Ray Train, {count} model(s) in one group: {seconds:7.1f} s  {count * samples / seconds:7.0f} "
              f"samples/s  Ray ÷ plain {count * samples / seconds / (samples / plain):.2f}  "
              f"(workers' own per-epoch figure {per_epoch:.0f} samples/s)")


if __name__ == "__main__":
    main()
