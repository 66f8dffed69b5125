"""Conference audio as a fixed-size, per-clip normalised log-mel spectrogram (transformers.audio_utils).

25 ms Hann window, 10 ms hop, ``features.n_mels`` mel bands; the time axis is
cropped around the centre or zero-padded to ``features.audio_frames``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.010


@lru_cache(maxsize=8)
def _mel_setup(sample_rate: int, n_mels: int) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    frame_length = int(round(WINDOW_SECONDS * sample_rate))
    hop_length = int(round(HOP_SECONDS * sample_rate))
    fft_length = 1 << (frame_length - 1).bit_length()
    window = window_function(frame_length, "hann")
    filters = mel_filter_bank(
        num_frequency_bins=fft_length // 2 + 1, num_mel_filters=n_mels, min_frequency=20.0,
        max_frequency=sample_rate / 2, sampling_rate=sample_rate, norm="slaney", mel_scale="slaney",
    )
    return window, filters, frame_length, hop_length, fft_length


def log_mel(waveform: np.ndarray, sample_rate: int, n_mels: int) -> np.ndarray:
    """Natural-log mel power spectrogram, float32 [n_mels, frames] (10 ms a frame)."""
    window, filters, frame_length, hop_length, fft_length = _mel_setup(sample_rate, n_mels)
    signal = np.asarray(waveform, dtype=np.float64).reshape(-1)
    if signal.size < frame_length:
        signal = np.pad(signal, (0, frame_length - signal.size))
    mel = spectrogram(
        signal, window, frame_length=frame_length, hop_length=hop_length, fft_length=fft_length,
        power=2.0, mel_filters=filters, mel_floor=1e-10, log_mel="log",
    )
    return mel.astype(np.float32)


def fit_frames(mel: np.ndarray, frames: int) -> np.ndarray:
    """Crop the centre ``frames`` columns, or zero-pad on the right to ``frames``."""
    length = mel.shape[1]
    if length >= frames:
        begin = (length - frames) // 2
        return mel[:, begin:begin + frames]
    return np.pad(mel, ((0, 0), (0, frames - length)))


def normalise_clip(mel: np.ndarray) -> np.ndarray:
    """Zero mean, unit std over the whole clip, so loudness and recording level do not dominate."""
    std = float(mel.std())
    return ((mel - mel.mean()) / (std if std > 1e-6 else 1.0)).astype(np.float32)


def audio_features(waveform: np.ndarray, sample_rate: int, n_mels: int, frames: int) -> np.ndarray:
    """A conference clip as the model sees it: float32 [n_mels, frames], normalised per clip.

    Normalised before padding, so silence added to short clips stays exactly zero.
    """
    return fit_frames(normalise_clip(log_mel(waveform, sample_rate, n_mels)), frames).astype(np.float32)
