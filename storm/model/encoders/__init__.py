"""Per-modality encoders: each maps its batch keys (``input_keys``) to a [B, hidden_dim] embedding.

Every windowed modality reads the past ``features.window_days`` days (storm.features.windows).
Importing this package registers every encoder in ``storm.model.registry``.
"""

from storm.model.encoders.audio import ConferencePoolEncoder, ConvGruMelEncoder
from storm.model.encoders.calls import CallEvidenceEncoder
from storm.model.encoders.image import ChartPriceEncoder, TimmImageEncoder
from storm.model.encoders.evidence import ChartEvidenceEncoder, ConferenceEvidenceEncoder, DailyTextEvidenceEncoder
from storm.model.encoders.text import DailyTextGruEncoder

__all__ = ["CallEvidenceEncoder", "ChartEvidenceEncoder", "ChartPriceEncoder", "ConferenceEvidenceEncoder", "ConferencePoolEncoder",
           "ConvGruMelEncoder", "DailyTextEvidenceEncoder", "DailyTextGruEncoder", "TimmImageEncoder"]
