"""Per-modality encoders: each maps its batch keys (``input_keys``) to a [B, hidden_dim] embedding.

Importing this package registers every encoder in ``storm.model.registry``.
"""

from storm.model.encoders.audio import ConvGruAudioEncoder
from storm.model.encoders.image import TimmImageEncoder
from storm.model.encoders.text import AttentionPoolTextEncoder, HeadlineAttentionPool

__all__ = ["AttentionPoolTextEncoder", "HeadlineAttentionPool", "TimmImageEncoder", "ConvGruAudioEncoder"]
