"""Seconds to explain one scan batch (storm.explain.explain_windows) with items, on an untrained model of the default
size: 64 windows of 60 days, about 40 headlines and 2 call tables a window, every fusion's shape the same.

No store, no Ray: the model passes alone, so the figure is the explanation's own cost per batch (the scan explains
``train.batch_size`` windows at a time). An untrained model costs what a trained one does.

    .venv/bin/python benchmarks/bench_explain_batch.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import offline  # noqa: E402

offline()


def synthetic_batch(features, batch: int, seed: int):
    """Windows with headlines on a third of the days (1-3 a day), a price history and two call tables each."""
    import numpy as np
    import torch

    from storm.explain.attribution import WindowHeadlines
    from storm.features.calls import call_vector_dim
    from storm.features.price_history import PRICE_INPUTS

    rng = np.random.default_rng(seed)
    window, slots, dim = features.window_days, features.max_conferences, features.text_dim
    count = np.where(rng.random((batch, window)) < 1 / 3, rng.integers(1, 4, (batch, window)), 0).astype(np.float32)
    count[:, -1] = np.maximum(count[:, -1], 1)
    sample, position = np.nonzero(count)
    sample, position = np.repeat(sample, count[sample, position].astype(int)), np.repeat(position, count[sample, position].astype(int))
    embedding = rng.normal(size=(len(sample), dim)).astype(np.float32)
    embedding /= np.linalg.norm(embedding, axis=1, keepdims=True)
    text_days = np.zeros((batch, window, dim), np.float32)
    np.add.at(text_days, (sample, position), embedding)
    text_days /= np.maximum(count, 1)[..., None]
    call_valid = np.zeros((batch, slots), np.float32)
    call_valid[:, :2] = 1.0
    inputs = {
        "text_days": text_days, "text_day_count": count,
        "wire_days": np.zeros_like(text_days), "wire_day_count": np.zeros_like(count),  # no market-wide wire
        "price_days": rng.normal(size=(batch, window, len(PRICE_INPUTS))).astype(np.float32),
        "day_valid": np.ones((batch, window), np.float32),
        "audio_stats": np.zeros((batch, slots, 3 * features.n_mels), np.float32),
        "audio_age": np.zeros((batch, slots), np.float32), "audio_valid": np.zeros((batch, slots), np.float32),
        "call_features": rng.normal(size=(batch, slots, call_vector_dim(dim))).astype(np.float32) * call_valid[..., None],
        "call_age": call_valid * np.array([0.1, 0.5, 0, 0][:slots], np.float32), "call_valid": call_valid,
        "modality_mask": np.ones((batch, 3), np.float32),
    }
    headlines = WindowHeadlines(sample=sample.astype(np.int64), position=position.astype(np.int64), embedding=embedding,
                                headline=np.array([f"headline {i}" for i in range(len(sample))], dtype=object),
                                date=np.array(["2024-01-02"] * len(sample), dtype=object))
    calm = rng.normal(size=(batch, len(PRICE_INPUTS))).astype(np.float32) * 0.3
    return {key: torch.as_tensor(value) for key, value in inputs.items()}, headlines, calm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fusion", default="concat")
    args = parser.parse_args()

    import torch

    from storm.config import FeatureConfig, ModelConfig
    from storm.explain.attribution import explain_windows
    from storm.model import build_model

    try:
        from storm.published.calibration import Calibration
    except ImportError:  # before storm.published
        from storm.training.calibration import Calibration

    torch.manual_seed(0)
    torch.set_num_threads(1)
    features = FeatureConfig()
    model = build_model(ModelConfig(fusion=args.fusion, calls_encoder="call_evidence"), features, [5, 10, 20]).eval()
    calibration = Calibration(method="hazard", horizons=[5, 10, 20], threshold={5: 0.5, 10: 0.5, 20: 0.5},
                              false_alarm_rate=0.05, slope=0.8, intercept={5: -0.3, 10: -0.1, 20: 0.2})
    inputs, headlines, calm = synthetic_batch(features, args.batch, seed=1)
    for key in ("wire_days", "wire_day_count"):  # the market-wide wire, where the news encoder reads one: none here
        inputs.setdefault(key, torch.zeros_like(inputs[key.replace("wire", "text")]))
    from storm.explain.items import ItemSources
    seconds = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        explanation = explain_windows(model, calibration, inputs, ItemSources(headlines=headlines, price_calm=calm))
        seconds.append(time.perf_counter() - began)
    print(f"{args.batch} windows ({len(headlines.sample)} headlines, {len(explanation.items)} items), fusion "
          f"{args.fusion}, one thread: median {statistics.median(seconds):.2f} s per batch "
          f"({', '.join(f'{s:.2f}' for s in seconds)})")


if __name__ == "__main__":
    main()
