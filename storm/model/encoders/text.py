"""Text encoder: one market-day's headlines pooled with learned attention.

Two input paths feed the same pooling:
- cached (default): ``text_emb`` [B, M, D] float (MiniLM sentence embeddings, zeros past
  ``text_count``) + ``text_count`` [B] int;
- fine-tuned (``model.fine_tune_text``): ``text_input_ids`` [B, M, L] int64 +
  ``text_attention_mask`` [B, M, L] int64 (L = ``features.max_text_tokens``, headline i of a
  sample in row i, rows past ``text_count`` ignored) + ``text_count`` [B]; the MiniLM transformer
  runs inside the model and its weights train with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor, nn

from storm.model.registry import register_text_encoder


class HeadlineAttentionPool(nn.Module):
    """Attention pooling over the real headlines of each sample; padding never gets weight."""

    def __init__(self, text_dim: int, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout))
        self.score = nn.Linear(hidden_dim, 1)
        self.norm = nn.LayerNorm(hidden_dim)

    def forward(self, headlines: Tensor, count: Tensor) -> Tensor:
        """[B, M, D] x [B] -> [B, hidden]. A row with no headline stays finite (the caller masks it)."""
        n_slots = headlines.shape[1]
        real = torch.arange(n_slots, device=headlines.device)[None, :] < count.clamp(max=n_slots)[:, None]
        real = real | ~real.any(dim=1, keepdim=True)  # all-padding rows: attend everywhere instead of NaN
        projected = self.project(headlines)
        logits = self.score(projected).squeeze(-1).masked_fill(~real, float("-inf"))
        attention = torch.softmax(logits, dim=1)
        return self.norm((attention.unsqueeze(-1) * projected).sum(dim=1))


@register_text_encoder("attention_pool")
class AttentionPoolTextEncoder(nn.Module):
    """Headline attention pooling over cached embeddings, or over a fine-tuned MiniLM when ``transformer_dir`` is given."""

    def __init__(self, text_dim: int, hidden_dim: int, dropout: float = 0.1, transformer_dir: str | Path | None = None) -> None:
        super().__init__()
        self.transformer = _load_transformer(transformer_dir, text_dim) if transformer_dir is not None else None
        self.pool = HeadlineAttentionPool(text_dim, hidden_dim, dropout)
        cached_keys = ("text_emb", "text_count")
        self.input_keys = ("text_input_ids", "text_attention_mask", "text_count") if self.transformer is not None else cached_keys

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        count = inputs["text_count"].long()
        headlines = self._embed_headlines(inputs, count) if self.transformer is not None else inputs["text_emb"].float()
        return self.pool(headlines, count)

    def _embed_headlines(self, inputs: Mapping[str, Tensor], count: Tensor) -> Tensor:
        """Run MiniLM on the real headlines only; [B, M, L] tokens -> [B, M, D] unit-length embeddings."""
        from storm.features.text import mean_pool

        input_ids, attention_mask = inputs["text_input_ids"].long(), inputs["text_attention_mask"].long()
        batch, n_slots, n_tokens = input_ids.shape
        real = torch.arange(n_slots, device=input_ids.device)[None, :] < count.clamp(max=n_slots)[:, None]
        if not real.any():  # keep MiniLM in the graph (DDP expects every parameter to get a gradient)
            real = real.clone()
            real[0, 0] = True
        flat_real = real.reshape(-1)
        ids = input_ids.reshape(-1, n_tokens)[flat_real]
        mask = attention_mask.reshape(-1, n_tokens)[flat_real]
        tokens = self.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = nn.functional.normalize(mean_pool(tokens, mask), p=2, dim=1)  # same recipe as the cached embeddings
        headlines = pooled.new_zeros(batch * n_slots, pooled.shape[1])
        headlines = headlines.index_copy(0, flat_real.nonzero().squeeze(1), pooled)
        return headlines.reshape(batch, n_slots, -1)


def _load_transformer(transformer_dir: str | Path, text_dim: int) -> nn.Module:
    """MiniLM from local files only (no download), trainable."""
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(transformer_dir, local_files_only=True, use_safetensors=True)
    if transformer.config.hidden_size != text_dim:
        raise ValueError(
            f"features.text_dim is {text_dim} but the text model in {transformer_dir} gives "
            f"{transformer.config.hidden_size}-dim embeddings; set features.text_dim={transformer.config.hidden_size}"
        )
    return transformer
