"""Per-sentence voice features from a recording: pause-based segmentation, then Praat's voice report per segment.

praat-parselmouth runs Praat's own algorithms, so the 29 values of a segment are what MAEC's vendor computed
with Praat for a sentence (storm.features.calls.PRAAT_COLUMNS; undefined -> NaN), and a call recorded by a
user and a call bought as a table land on the same scale.

Two streaming passes over the recording, block by block, never the whole waveform: the first keeps only a
frame energy per 10 ms (2 MB for 90 minutes) and finds the pauses; the second cuts each sounding stretch out of
the blocks as they pass and hands it to Praat, so memory is bounded by the longest segment
(``MAX_SEGMENT_SECONDS``; longer stretches are cut into equal parts).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from storm.schema import N_PRAAT, PRAAT_COLUMNS

FRAME_SECONDS = 0.010
MAX_SEGMENT_SECONDS = 30.0
MAX_TIMED_SECONDS = 600.0  # a transcript's sentence longer than this is a timing error, not a sentence
PITCH_FLOOR, PITCH_CEILING = 75.0, 600.0  # Praat's voice-report defaults for speech; MAEC's maxima stop at 600 Hz

# MAEC column -> the label of Praat's voice report (intensity and length come from elsewhere)
REPORT_LABELS = {
    "Mean pitch": "Mean pitch", "Standard deviation": "Standard deviation", "Minimum pitch": "Minimum pitch",
    "Maximum pitch": "Maximum pitch", "Number of pulses": "Number of pulses", "Number of periods": "Number of periods",
    "Mean period": "Mean period", "Standard deviation of period": "Standard deviation of period",
    "Fraction of unvoiced": "Fraction of locally unvoiced frames", "Number of voice breaks": "Number of voice breaks",
    "Degree of voice breaks": "Degree of voice breaks", "Jitter local": "Jitter (local)",
    "Jitter local absolute": "Jitter (local, absolute)", "Jitter rap": "Jitter (rap)", "Jitter ppq5": "Jitter (ppq5)",
    "Jitter ddp": "Jitter (ddp)", "Shimmer local": "Shimmer (local)", "Shimmer local dB": "Shimmer (local, dB)",
    "Shimmer apq3": "Shimmer (apq3)", "Shimmer apq5": "Shimmer (apq5)", "Shimmer apq11": "Shimmer (apq11)",
    "Shimmer dda": "Shimmer (dda)", "Mean autocorrelation": "Mean autocorrelation",
    "Mean NHR": "Mean noise-to-harmonics ratio", "Mean HNR": "Mean harmonics-to-noise ratio",
}
_NUMBER = r"(--undefined--|[-+]?[0-9]*\.?[0-9]+(?:[Ee][-+]?[0-9]+)?)"


@dataclass(frozen=True)
class Pauses:
    """Pause-based segmentation: quieter than ``silence_db`` below the call's loud level for ``min_pause`` seconds."""

    silence_db: float = 25.0      # as Praat's "To TextGrid (silences)" default, below the 99th percentile frame
    floor_db: float = -50.0       # dB full scale: quieter is silence however quiet the whole call is (line noise)
    min_pause: float = 0.25       # seconds: shorter gaps are inside a sentence
    min_sounding: float = 0.15    # seconds: shorter sounds are clicks, not sentences


def segment_sentences(blocks: Iterable[np.ndarray], rate: int, pauses: Pauses = Pauses()) -> list[tuple[int, int]]:
    """[start, end) sample spans of the sounding stretches between pauses; one streaming pass over the blocks."""
    frame = max(1, int(round(FRAME_SECONDS * rate)))
    energies, carry = [], np.zeros(0, dtype=np.float32)
    for block in blocks:
        samples = np.concatenate([carry, np.asarray(block, dtype=np.float32).reshape(-1)])
        whole = len(samples) // frame * frame
        if whole:
            frames = samples[:whole].reshape(-1, frame).astype(np.float64)
            energies.append(10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12))
        carry = samples[whole:]
    if not energies:
        return []
    db = np.concatenate(energies)
    loud = np.percentile(db, 99)
    sounding = db > max(loud - pauses.silence_db, pauses.floor_db)
    spans = _runs(sounding)
    spans = _bridge(spans, int(round(pauses.min_pause / FRAME_SECONDS)))
    shortest = int(round(pauses.min_sounding / FRAME_SECONDS))
    longest = int(round(MAX_SEGMENT_SECONDS / FRAME_SECONDS))
    kept = []
    for begin, end in spans:
        if end - begin < shortest:
            continue
        parts = math.ceil((end - begin) / longest)
        edges = np.linspace(begin, end, parts + 1).round().astype(int)
        kept.extend((int(a) * frame, int(b) * frame) for a, b in zip(edges[:-1], edges[1:]))
    return kept


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    change = np.flatnonzero(np.diff(padded))
    return list(zip(change[::2].tolist(), change[1::2].tolist()))


def _bridge(spans: list[tuple[int, int]], min_gap: int) -> list[tuple[int, int]]:
    """Join sounding runs separated by less than a pause."""
    joined: list[tuple[int, int]] = []
    for begin, end in spans:
        if joined and begin - joined[-1][1] < min_gap:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((begin, end))
    return joined


def cut_segments(blocks: Iterable[np.ndarray], spans: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """Each span's samples, in order, cut from the blocks as they pass (holds at most one segment and one block)."""
    position, pending = 0, np.zeros(0, dtype=np.float32)
    index = 0
    for block in blocks:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        block_end = position + len(block)
        while index < len(spans):
            begin, end = spans[index]
            if begin >= block_end:
                break
            piece = block[max(begin - position, 0):min(end - position, len(block))]
            pending = np.concatenate([pending, piece])
            if end > block_end:
                break
            yield pending
            pending = np.zeros(0, dtype=np.float32)
            index += 1
        position = block_end
    if index < len(spans) and len(pending):
        yield pending  # the recording ended inside the last span


def voice_report(samples: np.ndarray, rate: int) -> np.ndarray:
    """float64 [29] in PRAAT_COLUMNS order for one segment; NaN where Praat says --undefined--."""
    import parselmouth
    from parselmouth.praat import call

    values = np.full(N_PRAAT, np.nan)
    sound = parselmouth.Sound(np.asarray(samples, dtype=np.float64), sampling_frequency=float(rate))
    values[PRAAT_COLUMNS.index("Audio Length")] = sound.duration
    try:
        intensity = sound.to_intensity(minimum_pitch=PITCH_FLOOR)
        for name, query in (("Mean intensity", ("Get mean", 0, 0, "energy")),
                            ("Minimum intensity", ("Get minimum", 0, 0, "parabolic")),
                            ("Maximum intensity", ("Get maximum", 0, 0, "parabolic"))):
            values[PRAAT_COLUMNS.index(name)] = _number(call(intensity, *query))
    except parselmouth.PraatError:
        pass  # too short for an intensity analysis: undefined
    try:
        pitch = sound.to_pitch_cc(pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
        pulses = call([sound, pitch], "To PointProcess (cc)")
        report = call([sound, pitch, pulses], "Voice report", 0, 0, PITCH_FLOOR, PITCH_CEILING, 1.3, 1.6, 0.03, 0.45)
    except parselmouth.PraatError:
        return values
    for name, label in REPORT_LABELS.items():
        found = re.search(rf"^\s*{re.escape(label)}:\s*{_NUMBER}", report, flags=re.MULTILINE)
        if found:
            values[PRAAT_COLUMNS.index(name)] = _number(found.group(1))
    return values


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def recording_voice(blocks: Callable[[], Iterable[np.ndarray]], rate: int, pauses: Pauses = Pauses(),
                    times: list[tuple[float, float]] | None = None) -> np.ndarray:
    """float64 [sentences, 29]: the voice report of every sentence; ``blocks()`` is read twice.

    Sentences are cut at the pauses, or, with ``times`` (a transcript's [start, end) seconds, ascending and not
    overlapping), exactly there: one row per timed sentence, all undefined where the recording ends before it."""
    if times is None:
        spans = segment_sentences(blocks(), rate, pauses)
    else:
        spans = timed_spans(times, rate)
    if not spans:
        return np.zeros((0, N_PRAAT))
    reports = [voice_report(segment, rate) for segment in cut_segments(blocks(), spans)]
    reports += [np.full(N_PRAAT, np.nan)] * (len(spans) - len(reports))  # timed past the recording's end
    return np.stack(reports)


def timed_spans(times: list[tuple[float, float]], rate: int) -> list[tuple[int, int]]:
    """[start, end) seconds -> sample spans; a ValueError names the first sentence whose times cannot be cut."""
    spans, previous_end = [], 0
    for index, (start, end) in enumerate(times):
        begin, finish = int(round(start * rate)), int(round(end * rate))
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or finish <= begin:
            raise ValueError(f"sentence {index + 1}: times {start}..{end} s are not a span")
        if begin < previous_end:
            raise ValueError(f"sentence {index + 1}: starts at {start} s, before the previous sentence ends")
        if end - start > MAX_TIMED_SECONDS:
            raise ValueError(f"sentence {index + 1}: {end - start:.0f} s long, over {MAX_TIMED_SECONDS:.0f} s")
        spans.append((begin, finish))
        previous_end = finish
    return spans


def recording_voice_of(payload: bytes | Path, suffix: str, times: list[tuple[float, float]] | None = None) -> np.ndarray:
    """float64 [sentences, 29]: Praat's voice report per sentence (cut at pauses, or at ``times``), decoded block by
    block (twice); ``payload`` is the recording's bytes or a local file's path (then never read whole)."""
    rate, mono_blocks = _mono(payload, suffix)
    return recording_voice(mono_blocks, rate, times=times)


def voiced_segments_of(payload: bytes | Path, suffix: str, pauses: Pauses = Pauses()) -> list[tuple[float, float]]:
    """[start, end) seconds of the recording's sounding stretches between pauses, the segments its voice is read on
    without a transcript's times (one streaming pass); an untimed transcript is aligned to them."""
    rate, mono_blocks = _mono(payload, suffix)
    return [(begin / rate, end / rate) for begin, end in segment_sentences(mono_blocks(), rate, pauses)]


def _mono(payload: bytes | Path, suffix: str) -> tuple[int, Callable[[], Iterator[np.ndarray]]]:
    """The recording's sample rate, and a function giving its mono blocks afresh on each call."""
    from storm.ingest.audio import open_audio

    def mono_blocks():
        with open_audio(payload, suffix) as (_, blocks):
            for block in blocks:
                yield block.mean(axis=1)

    with open_audio(payload, suffix) as (header, _):
        return header.rate, mono_blocks
