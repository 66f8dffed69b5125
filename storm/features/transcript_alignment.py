"""Which stretch of a recording each transcript sentence was spoken in, when the transcript carries no times.

Praat's pauses cut a call into voiced segments that rarely match the transcript's sentences (190, 324 and 512
segments against 57, 113 and 179 lines on three real calls): speakers pause inside sentences and run sentences
together. Speaking time grows with the text spoken, so each sentence is expected to take the recording's voiced
time in proportion to its length in characters. With a pause for every boundary, each sentence takes a run of
whole segments (never cut mid-word), the runs chosen so that each sentence's time is as near its expected time as
the pauses allow, sentence by sentence (pause_grouping): a sentence spoken slower than its length suggests does
not push the ones after it off their pauses, as cutting at the cumulative proportions would. With fewer pauses
than boundaries, the boundaries are cut at the proportions, and each pause moves the boundary nearest it into
itself. Pure numpy; times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_SEGMENTS_PER_SENTENCE = 8  # times the call's average: a longer run of segments is never one sentence

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
    boundaries, at_pause = _to_pauses(allotted, edges, total * weights / weights.sum())
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


def _to_pauses(allotted: np.ndarray, edges: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries in voiced time and which of them lie in a pause. With a pause for every boundary, each sentence
    takes whole segments (pause_grouping); with fewer, each pause goes to the boundary nearest it and the others
    stay where the proportions put them."""
    pauses = edges[1:-1]
    boundaries, at_pause = allotted.copy(), np.zeros(allotted.size, dtype=bool)
    if allotted.size == 0 or pauses.size == 0:
        return boundaries, at_pause
    if allotted.size <= pauses.size:
        return edges[pause_grouping(expected, edges)[1:-1]], np.ones(allotted.size, dtype=bool)
    distance = np.abs(allotted[None, :] - pauses[:, None])
    nearest = distance.argmin(axis=1)  # ascending with the pauses; two pauses may claim one boundary: the nearer wins
    order = np.lexsort((distance[np.arange(pauses.size), nearest], nearest))
    winners = order[np.concatenate([[True], nearest[order][1:] != nearest[order][:-1]])]
    boundaries[nearest[winners]] = pauses[winners]
    at_pause[nearest[winners]] = True
    return np.maximum.accumulate(boundaries), at_pause  # no boundary passes another: none lies between a pause and
                                                        # the boundary nearest it; the guard is for rounding


def pause_grouping(expected: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Edge indices 0 = k_0 < k_1 < … < k_n = m: sentence i takes segments [k_(i-1), k_i). Chosen to minimise
    the sum over sentences of log(voiced time taken / time expected)², so one sentence spoken slower than its
    length suggests costs that sentence alone, and the ones after it keep their own pauses (an error in position
    never carries on down the call). A dynamic programme over (sentence, edge), a sentence taking at most
    MAX_SEGMENTS_PER_SENTENCE times the average number of segments per sentence."""
    count, segments = expected.size, edges.size - 1
    band = min(segments - count + 1, max(16, MAX_SEGMENTS_PER_SENTENCE * -(-segments // count)))
    cost = np.full((count + 1, segments + 1), np.inf)
    cost[0, 0] = 0.0
    taken = np.zeros((count + 1, segments + 1), dtype=np.int64)  # segments the sentence ending at k takes
    for sentence in range(1, count + 1):
        for size in range(1, band + 1):
            ends = np.arange(size, segments + 1)
            total = cost[sentence - 1, ends - size] + np.log((edges[ends] - edges[ends - size])
                                                                / expected[sentence - 1]) ** 2
            better = total < cost[sentence, ends]
            cost[sentence, ends[better]] = total[better]
            taken[sentence, ends[better]] = size
    grouping = np.empty(count + 1, dtype=np.int64)
    grouping[count] = segments
    for sentence in range(count, 0, -1):
        grouping[sentence - 1] = grouping[sentence] - taken[sentence, grouping[sentence]]
    return grouping


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
