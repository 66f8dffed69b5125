"""Features: text embeddings, chart tensors and log-mel, cached by content hash, aligned into masked samples."""

from storm.features.cache import FeatureCache, feature_spec_id
from storm.features.samples import SampleSet, assemble_sample, build_samples, tensor_columns

__all__ = ["FeatureCache", "SampleSet", "assemble_sample", "build_samples", "feature_spec_id", "tensor_columns"]
