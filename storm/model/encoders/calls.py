"""Calls heard whole: each recent call's sentence-pooled voice and words -> a few linear readings -> decayed means.

In the style of the evidence accumulators (storm.model.encoders.evidence): a call is one faint reading of a
slowly moving fragility, so the encoder learns only what to read from one call and averages the readings over
the calls' ages with fixed half-lives. A call from a per-sentence table (storm.features.calls) is read through
three linear probes that add up: its voice (masked means and spreads of the standardised Praat features, with
the fraction of each that Praat left undefined, so a missing value is a mask, not a 0 reading), its words (the
mean sentence embedding) and how much of it there was. Recordings (log-mel windows) are read as
``conference_evidence`` reads them, on their own decayed means, so a panel holding both kinds reads both.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from storm.features.calls import SUMMARY_SLOTS, call_vector_dim, resolved_calls_encoder
from storm.model.encoders.evidence import CALL_HALF_LIVES, DecayedMeans
from storm.model.registry import register_calls_encoder
from storm.schema import N_PRAAT

DEFAULT_TEXT_DIM = 384  # the panel's sentence embeddings (features.text_dim); the audio registry is not told it


class CallReadings(nn.Module):
    """[N, call_vector_dim] call vectors -> [N, readings]: voice + words + amount, each its own linear probe."""

    def __init__(self, text_dim: int, readings: int, dropout: float) -> None:
        super().__init__()
        self.text_dim = text_dim
        self.text_scale = math.sqrt(text_dim)  # a mean of unit embeddings: each coordinate ~ 1/sqrt(dim)
        self.voice = nn.Sequential(nn.Dropout(dropout), nn.Linear(3 * N_PRAAT, readings))
        self.words = nn.Sequential(nn.Dropout(dropout), nn.Linear(text_dim, readings, bias=False))
        self.amount = nn.Linear(SUMMARY_SLOTS, readings, bias=False)

    def forward(self, vectors: Tensor) -> Tensor:
        if vectors.shape[-1] != call_vector_dim(self.text_dim):
            raise ValueError(f"call vectors have {vectors.shape[-1]} values, the call encoder expects "
                             f"{call_vector_dim(self.text_dim)} (text_dim {self.text_dim}): features.text_dim must be "
                             f"{self.text_dim} for model.calls_encoder=call_evidence")
        voice, words, amount = vectors.float().split([3 * N_PRAAT, self.text_dim, SUMMARY_SLOTS], dim=-1)
        return self.voice(voice) + self.words(words * self.text_scale) + self.amount(amount)


@register_calls_encoder("call_evidence")
class CallEvidenceEncoder(nn.Module):
    """Recent calls from per-sentence tables (and recordings' log-mels, if any) -> decayed means of their readings."""

    input_keys = ("call_features", "call_age", "call_valid", "audio_stats", "audio_age", "audio_valid")

    def __init__(self, n_mels: int, hidden_dim: int, dropout: float = 0.1, readings: int = 4,
                 half_lives: Sequence[float] = CALL_HALF_LIVES, window_days: int = 60,
                 text_dim: int = DEFAULT_TEXT_DIM) -> None:
        super().__init__()
        self.window_days = window_days  # ages are fractions of the window
        self.reads_recordings = "audio_valid" in self.input_keys  # the recordings' log-mels, on their own means
        self.read_call = CallReadings(text_dim, readings, dropout)
        if self.reads_recordings:
            self.read_mel = nn.Sequential(nn.LayerNorm(3 * n_mels), nn.Dropout(dropout),
                                          nn.Linear(3 * n_mels, readings))
        self.means = DecayedMeans(half_lives)
        sources = 2 if self.reads_recordings else 1
        self.project = nn.Sequential(nn.Linear(sources * len(half_lives) * (readings + 1), hidden_dim), nn.GELU())

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        calls, call_valid = inputs["call_features"], inputs["call_valid"].float()
        read = [*self.means(self.read_call(calls), call_valid, inputs["call_age"].float() * self.window_days)]
        if self.reads_recordings:
            mel_readings = self.read_mel(inputs["audio_stats"].float())
            read += self.means(mel_readings, inputs["audio_valid"].float(), inputs["audio_age"].float() * self.window_days)
        return self.project(torch.cat(read, dim=1))


@register_calls_encoder("call_sentences")
class CallSentencesEncoder(CallEvidenceEncoder):
    """Per-sentence call tables only (voice and words); the recordings' log-mel slices are not read."""

    input_keys = ("call_features", "call_age", "call_valid")
    reads_recordings = False


def calls_encoder_for_panel(calls_encoder: str, panel) -> str:
    """The calls encoder a run uses on ``panel`` (None: no panel, so no call tables): see resolved_calls_encoder."""
    holds_calls = panel is not None and panel.call_vector is not None and len(panel.call_vector) > 0
    return resolved_calls_encoder(calls_encoder, holds_calls)


def config_for_panel(config, panel):
    """``config`` (a StormConfig) with the calls encoder ``calls_encoder_for_panel`` chooses; the same object if unchanged."""
    chosen = calls_encoder_for_panel(config.model.calls_encoder, panel)
    return config if chosen == config.model.calls_encoder else config.with_overrides({"model.calls_encoder": chosen})
