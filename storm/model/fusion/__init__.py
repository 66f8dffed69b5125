"""Fusion variants: (embeddings [B, 3, H], mask [B, 3]) -> (fused [B, H], modality_weights [B, 3]).

Importing this package registers ``concat``, ``gated`` and ``attention`` in ``storm.model.registry.FUSIONS``.
"""

from storm.model.fusion.attention import AttentionFusion
from storm.model.fusion.base import Fusion
from storm.model.fusion.concat import ConcatFusion
from storm.model.fusion.gated import GatedFusion

__all__ = ["Fusion", "ConcatFusion", "GatedFusion", "AttentionFusion"]
