"""StormModel: per-modality encoders -> fusion -> multi-task heads, plain PyTorch.

Batch contract (docs/INTERFACES.md "Model"): windows of past evidence from storm.features.windows —
``modality_mask`` [B, 3] float in MODALITIES order, plus each built encoder's ``input_keys`` (text_days,
text_day_count, wire_days, wire_day_count, price_days, day_valid, image, audio_stats, audio_age, audio_valid).
Inputs of missing or disabled modalities are never read into the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch import Tensor, nn

from storm.config import FeatureConfig, ModelConfig
from storm.features.calls import resolved_calls_encoder
from storm.features.price_history import PRICE_FEATURES, PRICE_INPUTS
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
                 anchor: str | None = None, anchor_model: "StormModel | None" = None) -> None:
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
        # With ``anchor_model`` the anchor is that model instead: the prices-only model, trained first on the same
        # days and frozen here, so w = 0 scores exactly as it does (load_anchor_weights).
        self.anchor_index = MODALITIES.index(anchor) if anchor is not None and anchor in encoders and len(encoders) > 1 else None
        self.register_buffer("evidence_weight", torch.tensor(1.0))
        self.anchor_model = anchor_model if self.anchor_index is not None else None
        if self.anchor_model is not None:
            self.anchor_model.requires_grad_(False)

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
        if self.anchor_model is not None:
            return self._fuse_on_anchor_model(embeddings, present)
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

    def _fuse_on_anchor_model(self, embeddings: Tensor, present: Tensor) -> ModelOutput:
        """The fused score over the frozen prices-only model: its score where the sample has prices (blended with
        the full input's by the evidence weight), the full input's where it has none. Training fits the full input
        alone (weight 1): the anchor is already trained."""
        fused, weights = self.fusion(embeddings[:, :len(MODALITIES)], present.float())
        storm_logits, log_vol = self.heads(fused)
        if self.training:
            return ModelOutput(storm_logits, log_vol, weights, present.float())
        anchored = torch.zeros_like(present, dtype=torch.float32)
        anchored[:, self.anchor_index] = 1.0
        anchor_embeddings = torch.zeros_like(embeddings[:, :len(MODALITIES)])
        anchor_embeddings[:, self.anchor_index] = embeddings[:, len(MODALITIES)]
        anchor_logits, _ = self.anchor_model.heads(self.anchor_model.fusion(anchor_embeddings, anchored)[0])
        has_anchor = present[:, self.anchor_index].bool().unsqueeze(1)
        anchor_logits = torch.where(has_anchor, anchor_logits, storm_logits)
        weight = self.evidence_weight.to(storm_logits.dtype)
        blended = anchor_logits + weight * (storm_logits - anchor_logits)
        return ModelOutput(blended, log_vol, weights, present.float(), anchor_logits=anchor_logits, full_logits=storm_logits)

    def empty_anchor_logits(self) -> Tensor:
        """[n_horizons]: the prices-only anchor's score with nothing to read (explanations' coalitions without prices)."""
        nothing = self.evidence_weight.new_zeros(1, len(MODALITIES), self.fusion.hidden_dim)
        return self.anchor_model.heads(self.anchor_model.fusion(nothing, nothing[:, :, 0])[0])[0][0]

    def encode(self, batch: Mapping[str, Tensor], present: Tensor) -> Tensor:
        """[B, 3, hidden]: each built encoder runs on its present samples only; the rest stay zero (and masked).

        With an anchor model, [B, 4, hidden]: the fourth is the anchor model's reading of the prices.
        """
        hidden = self.fusion.hidden_dim
        columns = []
        for index, modality in enumerate(MODALITIES):
            if modality in self.encoders:
                columns.append(_encode_present(self.encoders[modality], batch, present[:, index], hidden))
            else:
                columns.append(present.new_zeros(present.shape[0], hidden, dtype=self.fusion.nothing.dtype))
        if self.anchor_model is not None and not self.training:
            anchor_encoder = self.anchor_model.encoders[MODALITIES[self.anchor_index]]
            columns.append(_encode_present(anchor_encoder, batch, present[:, self.anchor_index], hidden))
        return torch.stack(columns, dim=1)

    def train(self, mode: bool = True) -> "StormModel":
        super().train(mode)
        for name in self.frozen_encoders:  # frozen BatchNorm statistics must not drift either
            self.encoders[name].eval()
        if self.anchor_model is not None:  # frozen: its dropout and BatchNorm stay as the prices model scores
            self.anchor_model.eval()
        return self


def load_anchor_weights(model: StormModel, prices_model_weights: Mapping[str, Tensor]) -> None:
    """The trained prices-only model's weights into ``model``'s frozen anchor (every key must match)."""
    if model.anchor_model is None:
        raise ValueError("this model has no prices-model anchor (model.anchored_fusion is not prices_model, or it "
                         "reads prices alone)")
    model.anchor_model.load_state_dict(dict(prices_model_weights))


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
        encoders["news"] = create_encoder("news", model.news_encoder, {"wire": model.news_wire},
                                          text_dim=features.text_dim, **common)
    if "prices" in model.modalities:
        encoders["prices"] = create_encoder("prices", model.prices_encoder,
                                            {"model_name": model.chart_backbone,
                                             "price_inputs": len(PRICE_INPUTS if model.price_inputs == "engineered"
                                                                 else PRICE_FEATURES)}, **common)
    if "calls" in model.modalities:
        name = resolved_calls_encoder(model.calls_encoder, holds_call_tables=False)  # auto, no panel: log-mel
        encoders["calls"] = create_encoder("calls", name, {"window_days": features.window_days,
                                                           "text_dim": features.text_dim},
                                           n_mels=features.n_mels, **common)
    fusion = create_fusion(model.fusion, n_modalities=len(MODALITIES), **common)
    heads = StormHeads(model.hidden_dim, len(horizons), model.dropout)
    anchor_model = (build_model(prices_model_config(model), features, horizons)  # after the rest: same initial weights
                    if needs_prices_model(model) else None)
    return StormModel(encoders, fusion, heads, model.modality_dropout,
                      anchor=ANCHOR_MODALITY if model.anchored_fusion != "off" else None, anchor_model=anchor_model)


def needs_prices_model(model: ModelConfig) -> bool:
    """Whether this model's anchor is a separately trained prices-only model (see StormModel)."""
    return model.anchored_fusion == "prices_model" and ANCHOR_MODALITY in model.modalities and len(model.modalities) > 1


def prices_model_config(model: ModelConfig) -> ModelConfig:
    """The model section of the prices-only model that anchors ``model``."""
    return model.model_copy(update={"modalities": [ANCHOR_MODALITY]})
