"""StormModel: per-modality encoders -> fusion -> multi-task heads, plain PyTorch.

Batch contract (docs/INTERFACES.md "Model"): windows of past evidence from storm.features.windows —
``modality_mask`` [B, 3] float in MODALITIES order, plus each built encoder's ``input_keys`` (text_days,
text_day_count, price_days, day_valid, image, audio_stats, audio_age, audio_valid).
Inputs of missing or disabled modalities are never read into the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch import Tensor, nn

from storm.config import FeatureConfig, ModelConfig
from storm.model.heads import StormHeads
from storm.model.modality_mask import drop_modalities, present_modalities
from storm.model.registry import create_encoder, create_fusion
from storm.schema import MODALITIES


ANCHOR_MODALITY = "prices"  # fused scores are anchored on the model reading prices alone
EVIDENCE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the blends of anchor and full logits a validation block chooses from


@dataclass
class ModelOutput:
    storm_logits: Tensor      # [B, n_horizons], pre-sigmoid
    log_vol: Tensor           # [B], forward log realised volatility
    modality_weights: Tensor  # [B, 3], 0 on missing, sums to 1 over present (all 0 if none present)
    modality_mask: Tensor     # [B, 3] float, the modalities actually used (after masking and dropout)
    anchor_logits: Tensor | None = None  # [B, n_horizons]: the same model reading its anchor (prices) alone
    full_logits: Tensor | None = None    # [B, n_horizons]: every present modality, before the evidence weight


class StormModel(nn.Module):
    def __init__(self, encoders: Mapping[str, nn.Module], fusion: nn.Module, heads: StormHeads, modality_dropout: float = 0.0,
                 anchor: str | None = None) -> None:
        super().__init__()
        unknown = set(encoders) - set(MODALITIES)
        if unknown:
            raise ValueError(f"encoders for unknown modalities {sorted(unknown)}; expected some of {MODALITIES}")
        self.encoders = nn.ModuleDict(encoders)
        self.fusion = fusion
        self.heads = heads
        self.modality_dropout = modality_dropout
        self.frozen_encoders: set[str] = set()  # set by storm.model.transfer; kept in eval mode
        self.register_buffer("enabled", torch.tensor([m in encoders for m in MODALITIES]), persistent=False)
        # Fusion must never do worse than prices alone. With an anchor, the same fusion and heads also score the
        # anchor alone (trained beside the full input: StormLoss's anchor term), and the published score is
        # anchor + evidence_weight * (full - anchor) in logits, the weight chosen on the validation block
        # (storm.training.worker): where news and calls add nothing there, the model reads prices alone.
        self.anchor_index = MODALITIES.index(anchor) if anchor is not None and anchor in encoders and len(encoders) > 1 else None
        self.register_buffer("evidence_weight", torch.tensor(1.0))

    def forward(self, batch: Mapping[str, Tensor]) -> ModelOutput:
        present = present_modalities(batch["modality_mask"], self.enabled)
        if self.training:
            present = drop_modalities(present, self.modality_dropout)
        return self.fuse(self.encode(batch, present), present)

    def fuse(self, embeddings: Tensor, present: Tensor) -> ModelOutput:
        """Fusion and heads on encoded modalities; a modality absent from ``present`` is ignored (ablations re-fuse).

        With an anchor: storm_logits = anchor + evidence_weight * (full - anchor), where "anchor" fuses the
        anchor modality alone (when the sample has it; else the full input). Training uses weight 1.
        """
        fused, weights = self.fusion(embeddings, present.float())
        storm_logits, log_vol = self.heads(fused)
        if self.anchor_index is None:
            return ModelOutput(storm_logits, log_vol, weights, present.float())
        anchored = torch.zeros_like(present)
        anchored[:, self.anchor_index] = present[:, self.anchor_index]
        anchored = torch.where(anchored.any(dim=1, keepdim=True), anchored, present)
        anchor_logits, _ = self.heads(self.fusion(embeddings, anchored.float())[0])
        weight = 1.0 if self.training else self.evidence_weight.to(storm_logits.dtype)
        blended = storm_logits if self.training else anchor_logits + weight * (storm_logits - anchor_logits)
        return ModelOutput(blended, log_vol, weights, present.float(), anchor_logits=anchor_logits, full_logits=storm_logits)

    def encode(self, batch: Mapping[str, Tensor], present: Tensor) -> Tensor:
        """[B, 3, hidden]: each built encoder runs on its present samples only; the rest stay zero (and masked)."""
        hidden = self.fusion.hidden_dim
        columns = []
        for index, modality in enumerate(MODALITIES):
            if modality in self.encoders:
                columns.append(_encode_present(self.encoders[modality], batch, present[:, index], hidden))
            else:
                columns.append(present.new_zeros(present.shape[0], hidden, dtype=self.fusion.nothing.dtype))
        return torch.stack(columns, dim=1)

    def train(self, mode: bool = True) -> "StormModel":
        super().train(mode)
        for name in self.frozen_encoders:  # frozen BatchNorm statistics must not drift either
            self.encoders[name].eval()
        return self


def _encode_present(encoder: nn.Module, batch: Mapping[str, Tensor], present: Tensor, hidden: int) -> Tensor:
    """Run ``encoder`` on the rows where its modality is present and scatter into [B, hidden].

    Missing rows never reach the encoder (so neither their inputs nor BatchNorm statistics leak in).
    With no present row the encoder still runs on row 0, multiplied by 0, so every parameter gets a
    (zero) gradient and DDP does not stall on unused parameters.
    """
    rows = present.nonzero().squeeze(1)
    if rows.numel() == 0 and not torch.is_grad_enabled():
        return present.new_zeros(present.shape[0], hidden, dtype=torch.float32)
    embedded = encoder({key: batch[key][rows if rows.numel() else slice(0, 1)] for key in encoder.input_keys})
    out = embedded.new_zeros(present.shape[0], hidden)
    if rows.numel() == 0:
        return out + 0.0 * embedded.sum()
    return out.index_copy(0, rows, embedded)


def build_model(model: ModelConfig, features: FeatureConfig, horizons: list[int]) -> StormModel:
    """The StormModel a config describes; encoders only for ``model.modalities``."""
    common = {"hidden_dim": model.hidden_dim, "dropout": model.dropout}
    encoders: dict[str, nn.Module] = {}
    if "news" in model.modalities:
        encoders["news"] = create_encoder("news", model.news_encoder, text_dim=features.text_dim, **common)
    if "prices" in model.modalities:
        encoders["prices"] = create_encoder("prices", model.prices_encoder, {"model_name": model.chart_backbone}, **common)
    if "calls" in model.modalities:
        encoders["calls"] = create_encoder("calls", model.calls_encoder, {"window_days": features.window_days},
                                           n_mels=features.n_mels, **common)
    fusion = create_fusion(model.fusion, n_modalities=len(MODALITIES), **common)
    heads = StormHeads(model.hidden_dim, len(horizons), model.dropout)
    return StormModel(encoders, fusion, heads, model.modality_dropout,
                      anchor=ANCHOR_MODALITY if model.anchored_fusion else None)
