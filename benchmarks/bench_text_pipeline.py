"""storm's headline-embedding stage against the bare encoder, on real feeds, in one run: headlines/s and the ratio.

    .venv/bin/python benchmarks/bench_text_pipeline.py [--data ../shared/realdata] [--items 8192] [--set k=v] \
        [--feeds reuters stocknet maec]

For each real feed (StockNet tweets, Reuters headlines, MAEC call sentences; in file order), the first --items:
- bare encoder: MiniLM's forward pass, mean pooling and normalisation alone, on batches of 64 tokenised before the
  clock starts, in file order, on the same threads the embedding actor gets (the floor of what any pipeline pays),
  in float32 and, where storm's `features.embed_precision` resolves to bfloat16 on this CPU, in bfloat16 too;
- storm: the items as ingest hands them over (market, date, headline, source path, content hash) through
  storm.features.featurize (storm's own Ray embedding actors: model load, market-name masking, length-sorted batches, the
  actor's memo of repeated texts, the feature cache written), with Ray already up.
Prints the rates, storm ÷ bare at storm's precision (above 1 where repeated texts are not embedded again), storm ÷
bare float32, and each feed's repeat rate (the share of items whose masked text came earlier in the feed).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time

from common import FEED_NAMES, add_data_argument, feed_items, offline

offline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser)
    parser.add_argument("--items", type=int, default=8192)
    parser.add_argument("--feeds", nargs="*", choices=list(FEED_NAMES), default=list(FEED_NAMES),
                        help="the feeds to measure")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a storm config override, e.g. --set features.embed_threads=1 (repeatable)")
    args = parser.parse_args()

    import pandas as pd
    import ray
    import torch

    from storm.cli.common import build_config
    from storm.features.cache import FeatureCache, feature_spec_id
    from storm.features.featurize import featurize
    from storm.features.text import (cpu_has_native_bf16, embedding_dtype, embedding_threads, load_text_model,
                                     mask_market_name, mean_pool)
    from storm.ray_runtime import ensure_ray
    from storm.store import Layout, open_store

    workdir = tempfile.mkdtemp(prefix="storm-text-pipeline-")
    config = build_config(None, [*args.overrides, f"storage.root={workdir}/store"])
    features = config.features
    threads = embedding_threads(features)
    ensure_ray(config.ray)
    storm_dtype = embedding_dtype(features.embed_precision, "cpu", cpu_has_native_bf16())
    models = {dtype: load_text_model(features, "cpu", dtype) for dtype in dict.fromkeys(["float32", storm_dtype])}
    tokenizer = models["float32"][1]
    torch.set_num_threads(threads)
    print(f"{args.items} items per feed; {threads} thread(s) for the encoder; batches of {features.embed_batch_size}; "
          f"storm embeds in {storm_dtype} here (bf16 in hardware: {cpu_has_native_bf16()})")
    for feed in (FEED_NAMES[name] for name in args.feeds):
        rows = feed_items(args.data, feed, args.items)
        texts = [mask_market_name(text, market) for market, _, text in rows]
        repeat_rate = 1 - len(set(texts)) / len(texts)
        batches = [tokenizer(texts[i:i + features.embed_batch_size], padding=True, truncation=True,
                             max_length=features.max_text_tokens, return_tensors="pt")
                   for i in range(0, len(texts), features.embed_batch_size)]
        bare = {}
        for dtype, (model, _) in models.items():
            began = time.perf_counter()
            with torch.inference_mode():
                for encoded in batches:
                    pooled = mean_pool(model(**encoded).last_hidden_state.float(), encoded["attention_mask"])
                    torch.nn.functional.normalize(pooled, p=2, dim=1)
            bare[dtype] = len(texts) / (time.perf_counter() - began)

        store = open_store(config.with_overrides({"storage.root": f"{workdir}/{feed.split()[0]}"}).storage)
        cache = FeatureCache(store, Layout(store), "news", feature_spec_id(features, "news"))
        items = pd.DataFrame({"market": [m for m, _, _ in rows], "date": [d for _, d, _ in rows],
                              "headline": [t for _, _, t in rows],
                              "source_path": [f"raw/news/{feed}.jsonl"] * len(rows),
                              "content_hash": [hashlib.sha256(f"{i}:{t}".encode()).hexdigest()
                                               for i, (_, _, t) in enumerate(rows)]})
        began = time.perf_counter()
        result = featurize(ray.data.from_pandas(items), "news", cache, sorted(set(items["date"])), features,
                           config.ingest)
        pipeline = len(rows) / (time.perf_counter() - began)
        print(f"{feed:19}: repeat rate {repeat_rate:.1%}; bare encoder "
              + "; ".join(f"{dtype} {rate:6.0f}/s" for dtype, rate in bare.items())
              + f"; storm {pipeline:6.0f}/s ({result.computed} features written); storm ÷ bare {storm_dtype} "
              f"{pipeline / bare[storm_dtype]:.2f}; storm ÷ bare float32 {pipeline / bare['float32']:.2f}")


if __name__ == "__main__":
    main()
