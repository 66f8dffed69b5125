"""A conference call heard whole, from its per-sentence table: one fixed-size call vector (pure numpy).

Each sentence carries Praat's 29-value voice report (MAEC's columns; praat-parselmouth computes the same
from a recording) and its transcript text. The call vector pools over every sentence:

    [0, 29)            masked mean of the standardised voice features
    [29, 58)           their masked spread (std over the sentences that have the value)
    [58, 87)           fraction of sentences where each feature is undefined (Praat's --undefined--)
    [87, 87 + D)       mean of the sentences' unit-length text embeddings (0 without any transcript)
    87 + D             fraction of sentences with text
    88 + D             log1p(sentences) / 5 (about 1 for a 150-sentence call)

A missing value is a mask, never a 0 that could pass for a reading, and never NaN: a call whose every
feature is undefined gives means and spreads of 0 with missing fractions of 1.

Standardisation uses fixed constants (below), not statistics fitted on a split, so nothing leaks across
time: a log for pitch, periods, jitter and counts (their spread scales with their level), then the median
and IQR/1.349 of each feature, rounded, from MAEC's 234k sentences pooled (no labels, no dates; a choice
of units), and a clip at +-5 for Praat's floors (-300 dB intensities).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from storm.config import FeatureConfig
from storm.schema import N_PRAAT, PRAAT_COLUMNS

# (MAEC column, transform, centre, scale) in MAEC's column order
PRAAT_FEATURES = (
    ("Mean pitch", "log", 4.969, 0.22),
    ("Standard deviation", "log", 4.16, 0.721),
    ("Minimum pitch", "log", 4.411, 0.164),
    ("Maximum pitch", "log", 6.304, 0.302),
    ("Mean intensity", "id", 50.37, 11.5),
    ("Minimum intensity", "id", 67.78, 12.0),
    ("Maximum intensity", "id", 14.43, 15.0),
    ("Number of pulses", "log1p", 6.269, 0.826),
    ("Number of periods", "log1p", 6.213, 0.833),
    ("Mean period", "log", -4.956, 0.216),
    ("Standard deviation of period", "log", -6.198, 0.563),
    ("Fraction of unvoiced", "id", 39.17, 12.6),
    ("Number of voice breaks", "log1p", 2.996, 0.792),
    ("Degree of voice breaks", "id", 37.62, 13.6),
    ("Jitter local", "log", 0.9278, 0.286),
    ("Jitter local absolute", "log", -8.615, 0.287),
    ("Jitter rap", "log", 0.1881, 0.374),
    ("Jitter ppq5", "log", 0.3365, 0.358),
    ("Jitter ddp", "log", 1.286, 0.374),
    ("Shimmer local", "id", 15.91, 3.29),
    ("Shimmer local dB", "id", 1.417, 0.239),
    ("Shimmer apq3", "id", 7.316, 1.86),
    ("Shimmer apq5", "id", 10.08, 2.48),
    ("Shimmer apq11", "id", 14.84, 3.81),
    ("Shimmer dda", "id", 21.95, 5.57),
    ("Mean autocorrelation", "id", 0.7742, 0.065),
    ("Mean NHR", "log", -1.057, 0.342),
    ("Mean HNR", "id", 6.372, 2.22),
    ("Audio Length", "log", 1.963, 0.754),
)
assert tuple(name for name, *_ in PRAAT_FEATURES) == PRAAT_COLUMNS, "the call table's columns and their scales disagree"
CLIP = 5.0
SUMMARY_SLOTS = 2  # fraction of sentences with text, log1p(sentences) / 5
CALL_FEATURE_VERSION = 1
_FLOOR = 1e-9


AUTO_CALLS_ENCODER = "auto"
# Calls encoders by what they read: recordings' log-mel slices, per-sentence call tables. (The features layer sits
# below the model; tests/model/test_registry.py checks these against every registered encoder's input keys.)
RECORDING_READING_CALL_ENCODERS = frozenset({"conference_evidence", "call_evidence"})
TABLE_READING_CALL_ENCODERS = frozenset({"call_evidence", "call_sentences"})


def resolved_calls_encoder(name: str, holds_call_tables: bool) -> str:
    """``model.calls_encoder`` as a run uses it: ``auto`` is ``call_evidence`` where there are per-sentence call
    tables (which the log-mel encoder cannot read), else ``conference_evidence``; a named encoder stays as named."""
    if name != AUTO_CALLS_ENCODER:
        return name
    return "call_evidence" if holds_call_tables else "conference_evidence"


def call_vector_dim(text_dim: int) -> int:
    return 3 * N_PRAAT + text_dim + SUMMARY_SLOTS


def text_slice(text_dim: int) -> slice:
    return slice(3 * N_PRAAT, 3 * N_PRAAT + text_dim)


def call_feature_spec_id(features: FeatureConfig) -> str:
    """Short hash of what changes a call vector: the text encoder's settings, the constants, this code's version."""
    settings = {name: getattr(features, name) for name in ("text_model", "text_dim", "max_text_tokens", "mask_market_names")}
    payload = json.dumps({"modality": "calls", "version": CALL_FEATURE_VERSION, "praat": PRAAT_FEATURES, **settings},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def standardise_acoustics(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[n, 29] raw Praat values (NaN = undefined) -> (standardised, 0 where undefined; present mask bool)."""
    raw = np.asarray(values, dtype=np.float64).reshape(-1, N_PRAAT)
    present = np.isfinite(raw)
    scaled = np.zeros_like(raw)
    for column, (_, transform, centre, scale) in enumerate(PRAAT_FEATURES):
        value = raw[:, column]
        if transform == "log":
            value = np.log(np.maximum(value, _FLOOR))
        elif transform == "log1p":
            value = np.log1p(np.maximum(value, 0.0))
        scaled[:, column] = (value - centre) / scale
    scaled = np.clip(np.where(present, scaled, 0.0), -CLIP, CLIP)
    return scaled.astype(np.float32), present


def call_vector(acoustics: np.ndarray, sentence_embeddings: np.ndarray, n_with_text: int, text_dim: int) -> np.ndarray:
    """float32 [call_vector_dim(text_dim)] of one call; finite whatever is undefined.

    ``acoustics``: [n, 29] raw Praat values per sentence (NaN undefined); ``sentence_embeddings``: [n_with_text, D]
    unit embeddings of the sentences that have text.
    """
    scaled, present = standardise_acoustics(acoustics)
    n_sentences = len(scaled)
    count = present.sum(axis=0).astype(np.float64)
    mean = scaled.sum(axis=0) / np.maximum(count, 1.0)
    squares = (np.where(present, scaled - mean, 0.0) ** 2).sum(axis=0)
    spread = np.sqrt(squares / np.maximum(count, 1.0))
    missing = 1.0 - count / max(n_sentences, 1)
    text = np.zeros(text_dim, dtype=np.float64)
    if n_with_text:
        text = np.asarray(sentence_embeddings, dtype=np.float64).reshape(-1, text_dim).mean(axis=0)
    summary = [n_with_text / max(n_sentences, 1), np.log1p(n_sentences) / 5.0]
    vector = np.concatenate([mean, spread, missing, text, summary]).astype(np.float32)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
