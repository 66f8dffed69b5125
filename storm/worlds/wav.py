"""WAV bytes in the raw layout's format: 16-bit PCM, mono, at ingest.audio_sample_rate."""

from __future__ import annotations

import io
from math import gcd

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly


def decode_wav(payload: bytes) -> tuple[int, np.ndarray]:
    """(sample rate, float32 mono samples in [-1, 1])."""
    rate, samples = wavfile.read(io.BytesIO(payload))
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples.mean(axis=1).astype(samples.dtype)
    if samples.dtype == np.uint8:
        return int(rate), ((samples.astype(np.float32) - 128.0) / 128.0)
    if np.issubdtype(samples.dtype, np.integer):
        return int(rate), (samples / float(-np.iinfo(samples.dtype).min)).astype(np.float32)
    return int(rate), samples.astype(np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling (e.g. espeak's 22050 Hz to 16000 Hz)."""
    if from_rate == to_rate:
        return np.asarray(samples, dtype=np.float32)
    common = gcd(from_rate, to_rate)
    return resample_poly(samples, to_rate // common, from_rate // common).astype(np.float32)


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV bytes of float samples in [-1, 1] (clipped)."""
    pcm = np.clip(np.rint(np.asarray(samples, dtype=np.float64) * 32767.0), -32768, 32767).astype("<i2")
    sink = io.BytesIO()
    wavfile.write(sink, sample_rate, pcm)
    return sink.getvalue()
