"""Features: text embeddings, chart tensors and log-mel cached by content hash, the per-day evidence panel, windows."""

from storm.features.cache import FeatureCache, feature_spec_id

__all__ = ["FeatureCache", "feature_spec_id"]
