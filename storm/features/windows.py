"""Windows of past evidence gathered from the panel at batch time (pure numpy).

A sample for (market, D) sees the ``window_days`` panel rows of its market up to
and including D (fewer at the start of a market's history: those days are
masked), D's chart, and the most recent conferences inside the window with
their age. Only indices are computed per sample; the tensors stay in the panel.
"""

from __future__ import annotations

import numpy as np

from storm.features.evidence_panel import EvidencePanel
from storm.schema import FWD_VOL, storm_column

WINDOW_INPUT_KEYS = ("text_days", "text_day_count", "wire_days", "wire_day_count", "price_days", "day_valid", "image", "audio_stats", "audio_age",
                     "audio_valid", "call_features", "call_age", "call_valid", "modality_mask")


def gather_windows(panel: EvidencePanel, rows: np.ndarray, with_labels: bool = True) -> dict[str, np.ndarray]:
    """Model inputs (WINDOW_INPUT_KEYS) for the samples ending on ``rows``; plus labels and keys if asked.

    text_days [B, W, D], text_day_count [B, W], wire_days [B, W, D], wire_day_count [B, W] (the market-wide wire
    read on each day: storm.features.wire), price_days [B, W, F], day_valid [B, W] (oldest day first);
    image [B, 1, S, S] in [-1, 1]; audio_stats [B, K, 3 * n_mels] (each recent call's log-mel statistics,
    storm.features.audio.call_statistics), audio_age [B, K] (days / window), audio_valid [B, K];
    call_features [B, K, call_vector_dim] (per-sentence call tables pooled per call, storm.features.calls), call_age
    [B, K], call_valid [B, K]: the same for the calls read from tables (most recent first; empty slots all 0);
    modality_mask [B, 3]: news = any headline of the market's or of the wire in the window, prices = D's chart or prices, calls = any conference
    (recording or call table) in the window.
    """
    rows = np.asarray(rows, dtype=np.int64)
    window = panel.window_days
    days = rows[:, None] - np.arange(window - 1, -1, -1)[None, :]
    day_valid = days >= panel.market_start[rows][:, None]
    days = np.where(day_valid, days, rows[:, None])
    valid = day_valid.astype(np.float32)
    text_day_count = panel.text_count[days] * valid
    wire_day_count = panel.wire_count[days] * valid
    conferences = panel.recent_conferences[rows]
    audio_valid = conferences >= 0
    safe = np.maximum(conferences, 0)
    if len(panel.conference_stats):
        audio_stats = panel.conference_stats[safe]
        audio_stats[~audio_valid] = 0
        audio_age = np.where(audio_valid, (rows[:, None] - panel.conference_row[safe]) / window, 0.0)
    else:
        audio_stats = np.zeros((len(rows), conferences.shape[1], panel.conference_stats.shape[1]), dtype=np.float32)
        audio_age = np.zeros(conferences.shape)
    call_features, call_age, call_valid = _calls(panel, rows)
    mask = np.stack([(text_day_count.sum(axis=1) > 0) | (wire_day_count.sum(axis=1) > 0), panel.has_chart[rows],
                     audio_valid.any(axis=1) | (call_valid > 0).any(axis=1)], axis=1)
    text_days, price_days = panel.text_day[days], panel.price[days]  # fresh gathers: masked in place, no copies
    wire_days = panel.wire_day[days]
    text_days *= valid[..., None]
    wire_days *= valid[..., None]
    price_days *= valid[..., None]
    image = panel.chart[rows].astype(np.float32)[:, None, :, :]
    image /= 127.5
    image -= 1.0
    inputs = {
        "text_days": text_days,
        "text_day_count": text_day_count.astype(np.float32, copy=False),
        "wire_days": wire_days,
        "wire_day_count": wire_day_count.astype(np.float32, copy=False),
        "price_days": price_days,
        "day_valid": valid,
        "image": image,
        "audio_stats": audio_stats,
        "audio_age": audio_age.astype(np.float32),
        "audio_valid": audio_valid.astype(np.float32),
        "call_features": call_features,
        "call_age": call_age,
        "call_valid": call_valid,
        "modality_mask": mask.astype(np.float32),
    }
    if with_labels:
        for index, horizon in enumerate(panel.horizons):
            inputs[storm_column(horizon)] = panel.labels[rows, index]
        inputs[FWD_VOL] = panel.fwd_log_vol[rows]
        inputs["market"] = panel.market[rows]
        inputs["date"] = panel.date[rows]
    return inputs


def _calls(panel: EvidencePanel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """call_features [B, K, dim] (0 in empty slots), call_age [B, K] (days / window), call_valid [B, K] (float32)."""
    calls = panel.recent_calls[rows]
    valid = calls >= 0
    if not len(panel.call_vector):
        zeros = np.zeros(calls.shape, dtype=np.float32)
        return np.zeros((*calls.shape, panel.call_vector.shape[1]), dtype=np.float32), zeros, zeros
    safe = np.maximum(calls, 0)
    features = panel.call_vector[safe]
    features[~valid] = 0
    age = np.where(valid, (rows[:, None] - panel.call_row[safe]) / panel.window_days, 0.0).astype(np.float32)
    return features, age, valid.astype(np.float32)


def batches_of_rows(panel: EvidencePanel, rows: np.ndarray, batch_size: int, with_labels: bool = True):
    """Gathered windows in consecutive chunks of ``rows`` (the order given)."""
    for offset in range(0, len(rows), batch_size):
        yield gather_windows(panel, rows[offset:offset + batch_size], with_labels)
