"""Which stretch of a recording each transcript sentence was spoken in, when the transcript carries no times.

Praat's pauses cut a call into voiced segments that rarely match the transcript's sentences (190, 324 and 512
segments against 57, 113 and 179 lines on three real calls): speakers pause inside sentences and run sentences
together. Speaking time grows with the text spoken, so the recording's voiced time is allotted to the sentences
in order, in proportion to their length in characters; each boundary between two sentences then moves to a pause
(a gap between segments), the nearest ones that keep the order, so a sentence is heard whole and never cut
mid-word. Where there are fewer pauses than sentence boundaries, the pauses go to the boundaries nearest them and
the other boundaries stay where the proportions put them, inside a segment. Pure numpy; times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class SentenceAlignment:
    """Per sentence, in transcript order: its [start, end) span in the recording (contiguous, ordered, never
    overlapping; together they cover every voiced segment), the voiced segments it overlaps (indices), and the
    seconds of voiced time within its span."""

    spans: list[tuple[float, float]]
    segments: list[range]
    voiced_seconds: list[float]
    boundaries_at_pauses: int  # of the len(spans) - 1 boundaries between sentences, how many lie in a pause


def align_sentences(lengths: Sequence[float], segments: Sequence[tuple[float, float]]) -> SentenceAlignment:
    """Align sentences of the given ``lengths`` (characters, > 0) to the voiced ``segments`` ([start, end) seconds,
    ascending, not overlapping). Without segments every sentence gets an empty span at 0 and no voiced time."""
    weights = np.asarray(lengths, dtype=np.float64)
    if weights.size and not (np.all(np.isfinite(weights)) and np.all(weights > 0)):
        raise ValueError("sentence lengths must be positive and finite")
    starts, ends = _checked(segments)
    if weights.size == 0:
        return SentenceAlignment([], [], [], 0)
    if starts.size == 0:
        return SentenceAlignment([(0.0, 0.0)] * weights.size, [range(0)] * weights.size, [0.0] * weights.size, 0)
    edges = np.concatenate([[0.0], np.cumsum(ends - starts)])  # voiced time at each segment's start, then the total
    total = edges[-1]
    allotted = total * np.cumsum(weights)[:-1] / weights.sum()  # boundaries in voiced time, by length
    boundaries, at_pause = _to_pauses(allotted, edges[1:-1])
    cuts = np.concatenate([[0.0], boundaries, [total]])
    return SentenceAlignment(spans=_spans(cuts, at_pause, starts, ends, edges),
                             segments=[_overlapped(edges, a, b) for a, b in zip(cuts[:-1], cuts[1:])],
                             voiced_seconds=np.diff(cuts).tolist(), boundaries_at_pauses=int(at_pause.sum()))


def _checked(segments: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    spans = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    starts, ends = spans[:, 0], spans[:, 1]
    if not (np.all(np.isfinite(spans)) and np.all(starts >= 0) and np.all(ends > starts)
            and np.all(starts[1:] >= ends[:-1])):
        raise ValueError("voiced segments must be ascending [start, end) spans of positive length, not overlapping")
    return starts, ends


def _to_pauses(allotted: np.ndarray, pauses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries moved to pauses (positions in voiced time) by the order-keeping matching of least total
    movement; returns the boundaries and which of them lie in a pause."""
    boundaries, at_pause = allotted.copy(), np.zeros(allotted.size, dtype=bool)
    if allotted.size == 0 or pauses.size == 0:
        return boundaries, at_pause
    if allotted.size <= pauses.size:
        boundaries[:] = pauses[monotone_matching(allotted, pauses)]
        at_pause[:] = True
    else:
        nearest = monotone_matching(pauses, allotted)
        boundaries[nearest] = pauses
        at_pause[nearest] = True
    if np.any(np.diff(boundaries) < 0):  # cannot happen for an optimal matching; kept as a guard on rounding
        return allotted.copy(), np.zeros(allotted.size, dtype=bool)
    return boundaries, at_pause


def monotone_matching(few: np.ndarray, many: np.ndarray) -> np.ndarray:
    """Indices into ``many`` (ascending, distinct) for each of ``few`` (ascending, len(few) <= len(many)) that
    minimise the total |few - many[index]|: a dynamic programme over (item, candidate), O(len(few) * len(many))."""
    count, options = few.size, many.size
    cost = np.full((count, options), np.inf)
    cost[0] = np.abs(few[0] - many)
    for item in range(1, count):
        best_before = np.concatenate([[np.inf], np.minimum.accumulate(cost[item - 1])[:-1]])
        cost[item] = np.abs(few[item] - many) + best_before
    chosen = np.empty(count, dtype=np.int64)
    limit = options  # the last item may take any candidate; each earlier one, one before the next one's
    for item in range(count - 1, -1, -1):
        chosen[item] = int(np.argmin(cost[item, :limit]))
        limit = chosen[item]
    return chosen


def _spans(cuts: np.ndarray, at_pause: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           edges: np.ndarray) -> list[tuple[float, float]]:
    """Voiced-time cuts -> recording times: a cut in a pause ends one sentence where its last segment ends and
    starts the next where its first segment starts (the pause is nobody's); a cut inside a segment is one instant."""
    spans = []
    begin = float(starts[0])
    for index in range(1, cuts.size):
        if index == cuts.size - 1:
            spans.append((begin, float(ends[-1])))
        elif at_pause[index - 1]:
            segment = int(np.searchsorted(edges, cuts[index], side="left"))  # the segment starting at this pause
            spans.append((begin, float(ends[segment - 1])))
            begin = float(starts[segment])
        else:
            segment = int(np.clip(np.searchsorted(edges, cuts[index], side="right") - 1, 0, starts.size - 1))
            instant = float(min(starts[segment] + (cuts[index] - edges[segment]), ends[segment]))
            spans.append((begin, max(instant, begin)))
            begin = max(instant, begin)
    return spans


def _overlapped(edges: np.ndarray, first: float, last: float) -> range:
    """Segments whose voiced time overlaps (first, last) by a positive amount."""
    if last <= first:
        return range(0)
    return range(int(np.searchsorted(edges, first, side="right")) - 1, int(np.searchsorted(edges, last, side="left")))
