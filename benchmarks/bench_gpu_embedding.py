"""Headline embedding on a GPU against the same code on the CPU: headlines/s, bare floor, agreement, in one run.

    python benchmarks/bench_gpu_embedding.py [--data ../shared/realdata] [--every 8] [--text-model FOLDER] \
        [--batch-sizes 64 256 1024] [--dtypes float32 bfloat16 float16] [--processes 1 2 4 8] [--out results.json]

Runs storm's embedding actor (storm.features.batch_features.HeadlineEmbedder: what each Ray Data embedding actor
runs per batch: market-name masking, the memo of repeated texts, length-sorted encoder batches, float32 bytes
out) on batches shaped as Ray Data hands them over, on the CPU and on CUDA. Ray itself is not needed, so this
runs on a GPU machine without Ray: each actor is a process of its own, as under Ray, all sharing the one GPU
(Ray's transport of batches to the actors is not in the figures). On the Reuters feed (every --every-th headline,
in file order), it prints:

- the feed's repeat rate (the share of masked headlines that came earlier);
- storm on the CPU in float32 (all of the machine's cores) on the first --reference headlines: the reference vectors;
- per precision and batch size, the bare encoder on the GPU: forward pass, pooling and normalisation on batches
  tokenised and moved to the GPU before the clock starts (the floor any pipeline pays), with its cosine to the
  CPU reference; storm keeps float32 unless another precision is both faster and within cosine 0.99;
- the tokeniser alone in one process (what one actor's CPU side can feed a GPU);
- per batch size (from --storm-min-batch) and number of actor processes, storm's actors end to end on the GPU over
  every headline, ÷ the bare float32 encoder at that batch size, and their cosine to the CPU reference;
- what the whole feed (1,987,983 headlines once same-day duplicates are dropped) would take at that rate.
Without CUDA only the CPU figures are printed (--device cpu runs every row on the CPU, to try the script).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time

from common import FEED_NAMES, add_data_argument, feed_items, offline

offline()

WHOLE_FEED = 1_987_983  # Reuters headlines after same-day duplicates (BENCHMARKS: the whole feed through storm)


def ray_batches(rows: list[tuple[str, str, str]], size: int) -> list[dict]:
    """The items as ingest hands them to the embedding actor, in Ray Data's numpy batches of ``size``."""
    import numpy as np

    batches = []
    for begin in range(0, len(rows), size):
        chunk = rows[begin:begin + size]
        column = (lambda values: np.array(values, dtype=object))
        batches.append({"market": column([m for m, _, _ in chunk]), "date": column([d for _, d, _ in chunk]),
                        "headline": column([t for _, _, t in chunk]),
                        "content_hash": column([hashlib.sha256(f"{begin + i}:{t}".encode()).hexdigest()
                                                for i, (_, _, t) in enumerate(chunk)]),
                        "source_path": column(["raw/news/reuters.jsonl"] * len(chunk))})
    return batches


def warmed(embedder):
    """The embedder with its model loaded and kernels chosen on one text, its memo empty again."""
    import numpy as np

    embedder.embed({"headline": np.array(["warm up"], dtype=object), "market": np.array(["gspc"], dtype=object)})
    embedder.memo = type(embedder.memo)(embedder.memo.capacity)
    return embedder


def run_actor(embedder, batches: list[dict]):
    """(seconds, [N, D] vectors) of the actor over every batch; seconds include nothing but the calls."""
    import numpy as np

    began = time.perf_counter()
    outputs = [embedder(batch) for batch in batches]
    seconds = time.perf_counter() - began
    vectors = np.stack([np.frombuffer(f, dtype=np.float32) for out in outputs for f in out["feature"]])
    return seconds, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser)
    parser.add_argument("--items", type=int, default=0, help="headlines to read (0: the whole file)")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th headline of those read")
    parser.add_argument("--text-model", default=None, help="model folder (default: features.text_model)")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[64, 256, 1024])
    parser.add_argument("--bare-items", type=int, default=65_536, help="headlines for each bare-encoder run")
    parser.add_argument("--reference", type=int, default=4096, help="headlines embedded on the CPU as reference")
    parser.add_argument("--dtypes", nargs="*", default=["float32", "bfloat16", "float16"],
                        help="precisions of the bare encoder (float32 always: storm's)")
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2, 4],
                        help="embedding actors sharing the GPU, each its own process as under Ray")
    parser.add_argument("--storm-min-batch", type=int, default=256, help="smallest batch size run through storm")
    parser.add_argument("--device", default="cuda", help="the accelerator's torch device (cpu: try the script here)")
    parser.add_argument("--out", default=None, help="write the figures as JSON here too")
    args = parser.parse_args()

    import torch

    from storm.config import FeatureConfig
    from storm.features.batch_features import NEWS_BATCHES_PER_CALL, HeadlineEmbedder
    from storm.features.text import load_text_model, mask_market_name, mean_pool

    features = FeatureConfig(**({"text_model": args.text_model} if args.text_model else {}))
    rows = feed_items(args.data, FEED_NAMES["reuters"], args.items)[::args.every]
    texts = [mask_market_name(text, market) for market, _, text in rows]
    figures: dict = {"headlines": len(rows), "repeat_rate": 1 - len(set(texts)) / len(texts),
                     "cpu_threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    print(f"{len(rows)} Reuters headlines (every {args.every}th), repeat rate {figures['repeat_rate']:.1%}; "
          f"torch {torch.__version__}, {figures['cpu_threads']} CPU threads")

    reference_rows = rows[:args.reference]
    cpu = warmed(HeadlineEmbedder(features.model_copy(update={"embed_precision": "float32"}), frozenset(), "cpu"))
    seconds, reference = run_actor(cpu, ray_batches(reference_rows, cpu.encoder_batch_size * NEWS_BATCHES_PER_CALL))
    figures["cpu_storm_per_s"] = len(reference_rows) / seconds
    print(f"storm on the CPU, {len(reference_rows)} headlines, batches of {features.embed_batch_size}: "
          f"{figures['cpu_storm_per_s']:,.0f}/s")
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: the GPU rows are left out")
        return _write(figures, args.out)

    def synchronize() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    figures["gpu"] = torch.cuda.get_device_name(0) if device == "cuda" else device
    bare_texts = texts[:args.bare_items]
    figures["bare"] = {}
    for dtype in dict.fromkeys(["float32", *args.dtypes]):
        model, tokenizer = load_text_model(features, device, dtype)
        for size in args.batch_sizes:
            encoded = [tokenizer(bare_texts[i:i + size], padding=True, truncation=True,
                                 max_length=features.max_text_tokens, return_tensors="pt").to(device)
                       for i in range(0, len(bare_texts), size)]
            with torch.inference_mode():
                for batch in encoded[:3]:  # warm-up: kernels chosen, memory taken
                    model(**batch)
                synchronize()
                began = time.perf_counter()
                for batch in encoded:
                    pooled = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
                    torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
                synchronize()
                rate = len(bare_texts) / (time.perf_counter() - began)
                check = [tokenizer(texts[i:i + size], padding=True, truncation=True,
                                   max_length=features.max_text_tokens, return_tensors="pt").to(device)
                         for i in range(0, len(reference_rows), size)]
                vectors = torch.cat([torch.nn.functional.normalize(
                    mean_pool(model(**b).last_hidden_state, b["attention_mask"]).float(), p=2, dim=1) for b in check])
            cosine = (vectors.cpu().numpy() * reference).sum(axis=1)
            name = f"{dtype} batch {size}"
            figures["bare"][name] = {"per_s": rate, "cosine_min": float(cosine.min()), "cosine_mean": float(cosine.mean())}
            print(f"bare encoder on the GPU, {name:<17}: {rate:10,.0f}/s  cosine to CPU min {cosine.min():.5f} "
                  f"mean {cosine.mean():.5f}")
        del model
    if device == "cuda":
        torch.cuda.empty_cache()

    figures["tokenise_alone"] = {}
    sorted_texts = sorted(texts, key=len)
    for size in args.batch_sizes:
        began = time.perf_counter()
        for begin in range(0, len(sorted_texts), size):
            tokenizer(sorted_texts[begin:begin + size], padding=True, truncation=True,
                      max_length=features.max_text_tokens, return_tensors="pt")
        figures["tokenise_alone"][size] = len(texts) / (time.perf_counter() - began)
        print(f"tokenising alone, one process, batches of {size:>4}: {figures['tokenise_alone'][size]:10,.0f}/s")

    figures["storm_gpu"] = {}
    context = torch.multiprocessing.get_context("spawn")
    for size in args.batch_sizes:
        if size < args.storm_min_batch:
            continue
        for processes in args.processes:
            barrier, queue = context.Barrier(processes), context.Queue()
            share = -(-len(rows) // processes)
            workers = [context.Process(target=actor_process, args=(rank, rows[rank * share:(rank + 1) * share],
                                                                    features.model_copy(
                                                                        update={"gpu_embed_batch_size": size}),
                                                                    device, barrier, queue))
                       for rank in range(processes)]
            for worker in workers:
                worker.start()
            results = sorted(queue.get() for _ in workers)
            for worker in workers:
                worker.join()
            seconds = max(r[2] for r in results) - min(r[1] for r in results)
            vectors, hits = results[0][3], sum(r[4] for r in results)
            cosine = (vectors[:len(reference_rows)] * reference).sum(axis=1)
            rate = len(rows) / seconds
            bare = figures["bare"][f"float32 batch {size}"]["per_s"]
            figures["storm_gpu"][f"batch {size}, {processes} actor(s)"] = {
                "per_s": rate, "over_bare_fp32": rate / bare, "cosine_min": float(cosine.min()), "memo_hits": hits,
                "whole_feed_minutes": WHOLE_FEED / rate / 60}
            print(f"storm on the GPU, batches of {size:>4}, {processes} actor process(es): {rate:8,.0f}/s over "
                  f"{len(rows):,} headlines ({hits:,} memo hits); ÷ bare fp32 {rate / bare:.2f}; "
                  f"÷ storm on this CPU {rate / figures['cpu_storm_per_s']:.1f}x; cosine to CPU min {cosine.min():.5f}; "
                  f"whole feed {WHOLE_FEED / rate / 60:.1f} min")
    _write(figures, args.out)


def actor_process(rank: int, rows: list, features, device: str, barrier, queue) -> None:
    """One embedding actor in its own process, as Ray runs each: model loaded and warm before the common start."""
    from storm.features.batch_features import NEWS_BATCHES_PER_CALL, HeadlineEmbedder

    embedder = warmed(HeadlineEmbedder(features, frozenset(), device))
    batches = ray_batches(rows, embedder.encoder_batch_size * NEWS_BATCHES_PER_CALL)
    barrier.wait()
    began = time.time()
    _, vectors = run_actor(embedder, batches)
    queue.put((rank, began, time.time(), vectors if rank == 0 else None, embedder.memo.hits))


def _write(figures: dict, out: str | None) -> None:
    if out:
        with open(out, "w") as handle:
            json.dump(figures, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
