"""Call vectors from per-sentence tables: undefined values are masks, never zeros or NaN."""

import numpy as np

from storm.features.calls import PRAAT_FEATURES, call_vector, call_vector_dim, standardise_acoustics, text_slice
from storm.schema import N_PRAAT

TEXT_DIM = 8


def typical_sentence() -> np.ndarray:
    """Each feature at its fixed centre (before the log where the transform has one)."""
    values = []
    for _, transform, centre, _ in PRAAT_FEATURES:
        values.append(np.exp(centre) if transform == "log" else np.expm1(centre) if transform == "log1p" else centre)
    return np.array(values)


def test_a_call_with_every_feature_undefined_gives_masks_and_no_nan():
    acoustics = np.full((5, N_PRAAT), np.nan)
    vector = call_vector(acoustics, np.zeros((0, TEXT_DIM)), 0, TEXT_DIM)
    assert vector.shape == (call_vector_dim(TEXT_DIM),) and np.isfinite(vector).all()
    assert (vector[:2 * N_PRAAT] == 0).all() and (vector[2 * N_PRAAT:3 * N_PRAAT] == 1).all()
    assert (vector[text_slice(TEXT_DIM)] == 0).all() and vector[-2] == 0


def test_undefined_is_a_mask_not_a_zero_reading():
    typical = typical_sentence()
    with_gap = np.stack([typical, typical])
    with_gap[1, 0] = np.nan
    scaled, present = standardise_acoustics(with_gap)
    assert np.allclose(scaled[0], 0, atol=1e-5) and not present[1, 0]
    zero_pitch = np.stack([typical, typical])
    zero_pitch[1, 0] = 0.0  # a real 0 Hz would read far below the centre; undefined must not
    assert call_vector(with_gap, np.zeros((0, TEXT_DIM)), 0, TEXT_DIM)[0] == 0.0
    assert call_vector(zero_pitch, np.zeros((0, TEXT_DIM)), 0, TEXT_DIM)[0] < -1.0
    assert call_vector(with_gap, np.zeros((0, TEXT_DIM)), 0, TEXT_DIM)[2 * N_PRAAT] == 0.5


def test_words_are_the_mean_of_the_sentences_with_text():
    embeddings = np.eye(TEXT_DIM)[:2]
    vector = call_vector(np.full((4, N_PRAAT), np.nan), embeddings, 2, TEXT_DIM)
    assert np.allclose(vector[text_slice(TEXT_DIM)], [0.5, 0.5] + [0] * (TEXT_DIM - 2)) and vector[-2] == 0.5
