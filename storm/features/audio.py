"""Conference audio as a fixed-size, per-call normalised log-mel spectrogram (transformers.audio_utils).

A call lasts 10-90 minutes, so it is represented by ``features.call_slices``
short slices spread evenly over its whole length, each giving
``call_mel_frames // call_slices`` log-mel frames (25 ms Hann window, 10 ms
hop), concatenated along time into [n_mels, call_mel_frames]. Ingest keeps only
those slices' samples (``call_slices`` / ``slice_starts`` say which), so
neither a 90-minute waveform nor a 90-minute mel is ever built.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

from storm.ingest.audio import hop_samples, slice_starts  # what ingest keeps of a call

WINDOW_SECONDS = 0.025


@lru_cache(maxsize=8)
def _mel_setup(sample_rate: int, n_mels: int) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    frame_length = int(round(WINDOW_SECONDS * sample_rate))
    hop_length = hop_samples(sample_rate)
    fft_length = 1 << (frame_length - 1).bit_length()
    window = window_function(frame_length, "hann")
    filters = mel_filter_bank(
        num_frequency_bins=fft_length // 2 + 1, num_mel_filters=n_mels, min_frequency=20.0,
        max_frequency=sample_rate / 2, sampling_rate=sample_rate, norm="slaney", mel_scale="slaney",
    )
    return window, filters, frame_length, hop_length, fft_length


def call_slices(waveform: np.ndarray, slices: int, length: int) -> np.ndarray:
    """float32 [slices, length] excerpts of a whole waveform ([1, n] when the call is shorter than one slice)."""
    signal = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if signal.size <= length:
        return signal[None, :]
    return np.stack([signal[start:start + length] for start in slice_starts(signal.size, slices, length)])


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


def audio_features(excerpts: np.ndarray, sample_rate: int, n_mels: int, frames: int) -> np.ndarray:
    """A conference as the model sees it: float32 [n_mels, frames], normalised over the whole call.

    ``excerpts`` is [slices, samples] (what ingest keeps, see ``call_slices``)
    or a 1-D waveform (one slice). Each slice gives ``frames // slices``
    frames, cropped around its centre; slices are joined in call order.
    Normalised before padding, so silence added to short calls stays exactly zero.
    """
    slices = np.asarray(excerpts)
    if slices.dtype == object:  # Ray hands a [slices, samples] column cell over as an array of arrays
        slices = np.stack([np.asarray(piece, dtype=np.float32) for piece in slices])
    slices = slices.astype(np.float32).reshape(1, -1) if slices.ndim == 1 else slices.astype(np.float32)
    per_slice = max(1, frames // len(slices))
    mels = [log_mel(piece, sample_rate, n_mels) for piece in slices]
    mels = [mel[:, :per_slice] if mel.shape[1] <= per_slice else fit_frames(mel, per_slice) for mel in mels]
    joined = normalise_clip(np.concatenate(mels, axis=1))
    lengths = np.cumsum([0] + [mel.shape[1] for mel in mels])
    padded = [fit_frames(joined[:, begin:end], per_slice) for begin, end in zip(lengths[:-1], lengths[1:])]
    return fit_frames(np.concatenate(padded, axis=1), frames).astype(np.float32)


CALL_STATISTICS_CHUNK = 256  # calls per torch pass: bounded memory however many calls a panel holds


def call_statistics(mels: Sequence[np.ndarray], n_mels: int) -> np.ndarray:
    """C log-mels [n_mels, T] (a list or an array) -> float32 [C, 3 * n_mels]: per band its mean, spread and mean
    frame-to-frame change, taken at float16 precision (as the panel held the log-mels) a chunk of calls at a time.

    Pitch and timbre move the band means, pauses the spread, speaking rate the change: what a strained speaker
    alters. Fixed statistics leave a linear reading to learn (a CNN over a few hundred calls memorised them), and
    being fixed they are computed once per call when the panel is built, never per window and epoch. In torch, as
    the model computed them before, so the figures do not move.
    """
    import torch

    out = np.zeros((len(mels), 3 * n_mels), dtype=np.float32)
    for begin in range(0, len(mels), CALL_STATISTICS_CHUNK):
        mel = torch.from_numpy(np.asarray(mels[begin:begin + CALL_STATISTICS_CHUNK], dtype=np.float16)).float()
        change = (mel[..., 1:] - mel[..., :-1]).abs().mean(dim=-1)
        stats = torch.cat([mel.mean(dim=-1), mel.std(dim=-1), change], dim=-1)
        out[begin:begin + len(mel)] = stats.numpy()
    return out
