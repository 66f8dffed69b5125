"""The GPU path of training on one CUDA device: bf16 autocast against fp32, two data-parallel ranks, throughput.

    python benchmarks/bench_gpu_training.py [--markets 64 --days 500 --epochs 3 --out results.json]

Runs storm's plain-PyTorch loop (storm.training.loop: what every Ray Train worker runs
per epoch; Ray itself is not needed) at the default feature and model sizes on the
planted-signal panel the training tests use (storm.features.planted), so
there is something to learn and a held-out AUROC to compare. Prints, in one run:

- per precision and device (CPU fp32, GPU fp32, GPU bf16 autocast, as the Ray worker
  picks on CUDA): held-out AUROC per horizon after the same epochs from the same
  initial weights, training samples/s, and the ratios to the CPU;
- the same weights' logits in bf16 against fp32: the largest difference and the AUROCs;
- what the window gathers (numpy, on the CPU) cost per epoch beside the whole epoch;
- two DistributedDataParallel ranks on the one GPU (gloo; NCCL wants a GPU per rank):
  after an epoch their weights must be equal, else the gradient all-reduce is broken.
Without CUDA the GPU rows are left out and the DDP ranks run on the CPU.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


from storm.config import FeatureConfig, ModelConfig  # noqa: E402
from storm.features.windows import batches_of_rows  # noqa: E402
from storm.model import build_model  # noqa: E402
from storm.published.inference import predict  # noqa: E402
from storm.training.loop import horizon_aurocs, train_epoch  # noqa: E402
from storm.training.losses import StormLoss  # noqa: E402
from storm.features.planted import HORIZONS, planted_panel  # noqa: E402

EMBARGO_DAYS = 20
LEARNING_RATE, WEIGHT_DECAY = 1e-3, 1e-2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markets", type=int, default=64)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default=None, help="write the figures as JSON here too")
    args = parser.parse_args()

    features, model_config = FeatureConfig(), ModelConfig()
    panel = planted_panel(args.markets, args.days, features, seed=7, unknown_tail=EMBARGO_DAYS)
    train_rows, held_out = split_rows(args.days, args.markets)
    has_cuda = torch.cuda.is_available()
    print(f"panel: {args.markets} markets x {args.days} days, {len(train_rows)} training rows, {len(held_out)} held out; "
          f"window {features.window_days} days, text dim {features.text_dim}, {len(panel.conference_row)} conferences")
    print(f"torch {torch.__version__}; CUDA: {torch.cuda.get_device_name(0) if has_cuda else 'none'}; "
          f"CPU threads {torch.get_num_threads()}")

    settings = [("cpu fp32", torch.device("cpu"), None)]
    if has_cuda:
        settings += [("gpu fp32", torch.device("cuda"), None), ("gpu bf16", torch.device("cuda"), torch.bfloat16)]
    results, trained = {}, {}
    for name, device, dtype in settings:
        results[name], trained[name] = train_and_score(panel, train_rows, held_out, features, model_config, device, dtype,
                                                       args.epochs, args.batch_size)
        print_run(name, results[name], results["cpu fp32"])

    figures = {"runs": results, "gather_seconds_per_epoch": gather_seconds(panel, train_rows, args.batch_size)}
    print(f"window gathers alone: {figures['gather_seconds_per_epoch']:.2f} s per epoch (numpy, CPU)")
    if has_cuda:
        figures["bf16_vs_fp32"] = precision_agreement(trained["gpu fp32"], panel, held_out, args.batch_size)
        agreement = figures["bf16_vs_fp32"]
        print(f"same weights, bf16 vs fp32 forward: max |logit difference| {agreement['max_abs_logit_difference']:.4f}; "
              f"AUROC 20d {agreement['auroc_fp32'][-1]:.4f} (fp32) vs {agreement['auroc_bf16'][-1]:.4f} (bf16)")
    figures["ddp"] = ddp_check(args, features, model_config, train_rows, has_cuda)
    ddp = figures["ddp"]
    print(f"DDP, 2 ranks on {ddp['device']} ({ddp['backend']}): max weight difference between ranks after an epoch "
          f"{ddp['max_weight_difference_between_ranks']:.3g}; moved from the start by {ddp['max_weight_change']:.3g}; "
          f"loss {ddp['loss']:.4f}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(figures, handle, indent=2)


def split_rows(n_days: int, n_markets: int) -> tuple[np.ndarray, np.ndarray]:
    """Per market: the first 70% of days train; the held-out days start an embargo later (labels look 20 days ahead)."""
    day = np.tile(np.arange(n_days), n_markets)
    cut = int(0.7 * n_days)
    known = day < n_days - EMBARGO_DAYS
    return np.flatnonzero(day < cut - EMBARGO_DAYS), np.flatnonzero((day >= cut) & known)


def train_and_score(panel, train_rows, held_out, features, model_config, device, dtype, epochs, batch_size):
    torch.manual_seed(0)
    model = build_model(model_config, features, HORIZONS).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    loss_fn = StormLoss([1.0] * len(HORIZONS))
    epoch_seconds, losses = [], []
    for epoch in range(epochs):
        order = np.random.default_rng([0, epoch]).permutation(train_rows)
        if device.type == "cuda":
            torch.cuda.synchronize()
        stats = train_epoch(model, batches_of_rows(panel, order, batch_size), optimizer, loss_fn, HORIZONS, dtype, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_seconds.append(stats.seconds)
        losses.append(stats.loss)
    outputs = predict(model, batches_of_rows(panel, held_out, 256), HORIZONS, dtype, device)
    steady = epoch_seconds[1:] or epoch_seconds  # the first epoch carries kernel selection and allocator warm-up
    result = {"losses": losses, "epoch_seconds": epoch_seconds,
              "samples_per_second": len(train_rows) / statistics.median(steady),
              "held_out_auroc": horizon_aurocs(outputs), "all_finite": bool(np.isfinite(outputs["storm_logits"]).all()),
              "weights_dtype": str(next(model.parameters()).dtype)}
    if device.type == "cuda":
        result["peak_gpu_memory_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result, model


def print_run(name: str, result: dict, cpu: dict) -> None:
    aurocs = " / ".join(f"{value:.3f}" for value in result["held_out_auroc"])
    losses = " → ".join(f"{value:.3f}" for value in result["losses"])
    memory = f", peak GPU memory {result['peak_gpu_memory_mib']:.0f} MiB" if "peak_gpu_memory_mib" in result else ""
    print(f"{name:9} held-out AUROC {'/'.join(map(str, HORIZONS))}d {aurocs}; loss {losses}; "
          f"{result['samples_per_second']:.0f} samples/s ({result['samples_per_second'] / cpu['samples_per_second']:.2f}x CPU)"
          f"; weights {result['weights_dtype']}; finite {result['all_finite']}{memory}")


def gather_seconds(panel, train_rows, batch_size) -> float:
    began = time.perf_counter()
    for _ in batches_of_rows(panel, train_rows, batch_size):
        pass
    return time.perf_counter() - began


def precision_agreement(model, panel, held_out, batch_size) -> dict:
    device = next(model.parameters()).device
    exact = predict(model, batches_of_rows(panel, held_out, 256), HORIZONS, None, device)
    halved = predict(model, batches_of_rows(panel, held_out, 256), HORIZONS, torch.bfloat16, device)
    return {"max_abs_logit_difference": float(np.abs(exact["storm_logits"] - halved["storm_logits"]).max()),
            "auroc_fp32": horizon_aurocs(exact), "auroc_bf16": horizon_aurocs(halved)}


def ddp_check(args, features, model_config, train_rows, has_cuda) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(ddp_rank, args=(2, port, args, features.model_dump(), model_config.model_dump(), train_rows, has_cuda, queue),
             nprocs=2, join=True)
    return queue.get()


def ddp_rank(rank, world, port, args, feature_settings, model_settings, train_rows, has_cuda, queue) -> None:
    """One rank: the same panel, an equal share of the rows, bf16 on the GPU; rank 0 reports how far the ranks drifted."""
    device = torch.device("cuda", 0) if has_cuda else torch.device("cpu")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    features, model_config = FeatureConfig(**feature_settings), ModelConfig(**model_settings)
    panel = planted_panel(args.markets, args.days, features, seed=7, unknown_tail=EMBARGO_DAYS)
    torch.manual_seed(rank)  # different initial weights per rank: DDP must broadcast rank 0's
    model = build_model(model_config, features, HORIZONS).to(device)
    wrapped = torch.nn.parallel.DistributedDataParallel(model, device_ids=[0] if has_cuda else None)
    start = torch.cat([p.detach().float().flatten() for p in model.parameters()])
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    order = np.random.default_rng(0).permutation(train_rows)
    share = len(order) // world
    mine = order[rank * share:(rank + 1) * share]
    stats = train_epoch(wrapped, batches_of_rows(panel, mine, args.batch_size), optimizer,
                        StormLoss([1.0] * len(HORIZONS)), HORIZONS, torch.bfloat16 if has_cuda else None, device)
    weights = torch.cat([p.detach().float().flatten() for p in model.parameters()])
    gathered = [torch.zeros_like(weights) for _ in range(world)]
    dist.all_gather(gathered, weights)
    if rank == 0:
        queue.put({"device": str(device), "backend": "gloo", "loss": stats.loss,
                   "max_weight_difference_between_ranks": float((gathered[0] - gathered[1]).abs().max()),
                   "max_weight_change": float((weights - start).abs().max())})
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
