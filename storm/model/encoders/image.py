"""Image encoder: the day's chart through a timm CNN, beside the window's daily price history through a GRU.

The chart is what an analyst looks at; the price history is the same information over the
whole window as numbers (storm.features.price_history). Both are the "chart" modality.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from storm.features.price_history import PRICE_FEATURES
from storm.model.encoders.temporal import MaskedDayGru
from storm.model.registry import register_image_encoder


@register_image_encoder("timm")
class TimmImageEncoder(nn.Module):
    """``timm.create_model(model_name, pretrained=False, in_chans=1, num_classes=0)`` + a linear projection.

    Never downloads weights: pretrained=False (charts are not ImageNet photos).
    """

    input_keys = ("image",)

    def __init__(self, hidden_dim: int, dropout: float = 0.1, model_name: str = "mobilenetv3_small_050") -> None:
        super().__init__()
        import timm

        self.backbone = timm.create_model(model_name, pretrained=False, in_chans=1, num_classes=0)
        # models with a pre-logits conv head (mobilenetv3, lcnet, ...) pool to head_hidden_size, not num_features
        pooled_dim = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        self.project = nn.Sequential(nn.Dropout(dropout), nn.Linear(pooled_dim, hidden_dim), nn.LayerNorm(hidden_dim))

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        return self.project(self.backbone(inputs["image"].float()))


@register_image_encoder("chart_price")
class ChartPriceEncoder(nn.Module):
    """[chart CNN embedding, price-history GRU embedding] -> hidden_dim."""

    input_keys = ("image", "price_days", "day_valid")

    def __init__(self, hidden_dim: int, dropout: float = 0.1, model_name: str = "mobilenetv3_small_050") -> None:
        super().__init__()
        self.chart = TimmImageEncoder(hidden_dim, dropout, model_name)
        self.prices = MaskedDayGru(len(PRICE_FEATURES), hidden_dim, hidden_dim, dropout)
        self.merge = nn.Sequential(nn.Linear(2 * hidden_dim, hidden_dim), nn.GELU(), nn.LayerNorm(hidden_dim))

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        chart = self.chart(inputs)
        prices = self.prices(inputs["price_days"].float(), inputs["day_valid"])
        return self.merge(torch.cat([chart, prices], dim=1))
