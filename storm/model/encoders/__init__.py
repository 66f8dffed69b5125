"""Per-modality encoders: each maps its batch keys (``input_keys``) to a [B, hidden_dim] embedding.

Every windowed modality reads the past ``features.window_days`` days (storm.features.windows).
Importing this package registers every encoder in ``storm.model.registry``: news ``daily_evidence``;
prices ``price_evidence`` (the default) and ``chart_evidence`` (adds a CNN over the chart's pixels);
calls ``conference_evidence`` (log-mel slices), ``call_evidence`` (per-sentence call tables, plus log-mel) and
``call_sentences`` (call tables only); ``model.calls_encoder: auto`` picks by what the panel holds.
"""

from storm.model.encoders.calls import CallEvidenceEncoder, CallSentencesEncoder
from storm.model.encoders.evidence import (
    ChartEvidenceEncoder,
    ConferenceEvidenceEncoder,
    DailyTextEvidenceEncoder,
    PriceEvidenceEncoder,
)
from storm.model.encoders.image import ChartCnn

__all__ = ["CallEvidenceEncoder", "CallSentencesEncoder", "ChartCnn", "ChartEvidenceEncoder", "ConferenceEvidenceEncoder",
           "DailyTextEvidenceEncoder", "PriceEvidenceEncoder"]
