"""The chart's pixels through a timm CNN: the part of ``chart_evidence`` that looks at the picture.

Not registered on its own: a CNN from scratch on a few thousand charts memorises them, so it only
ever reads beside the window's prices (storm.model.encoders.evidence.ChartEvidenceEncoder).
"""

from __future__ import annotations

from typing import Mapping

from torch import Tensor, nn


class ChartCnn(nn.Module):
    """``timm.create_model(model_name, pretrained=False, in_chans=1, num_classes=0)`` + a linear projection.

    Never downloads weights: pretrained=False (charts are not ImageNet photos).
    """

    input_keys = ("image",)

    def __init__(self, hidden_dim: int, dropout: float = 0.1, model_name: str = "mobilenetv3_small_050") -> None:
        super().__init__()
        import timm

        if not timm.is_model(model_name):
            raise KeyError(f"model.chart_backbone {model_name!r} is not a timm model name; see timm.list_models()")
        self.backbone = timm.create_model(model_name, pretrained=False, in_chans=1, num_classes=0)
        # models with a pre-logits conv head (mobilenetv3, lcnet, ...) pool to head_hidden_size, not num_features
        pooled_dim = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        self.project = nn.Sequential(nn.Dropout(dropout), nn.Linear(pooled_dim, hidden_dim), nn.LayerNorm(hidden_dim))

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        return self.project(self.backbone(inputs["image"].float()))
