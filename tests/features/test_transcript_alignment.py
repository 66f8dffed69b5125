"""Transcript sentences aligned to Praat's voiced segments when the transcript carries no times."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storm.features.transcript_alignment import align_sentences, pause_grouping

lengths_st = st.lists(st.integers(1, 400), min_size=1, max_size=40)


@st.composite
def voiced_segments(draw, min_size=1, max_size=60):
    """Ascending, non-overlapping [start, end) spans; pauses may be 0 s (a long stretch cut in equal parts)."""
    durations = draw(st.lists(st.floats(0.05, 30.0), min_size=min_size, max_size=max_size))
    pauses = draw(st.lists(st.sampled_from([0.0, 0.25, 0.4, 1.0, 3.7]), min_size=len(durations),
                           max_size=len(durations)))
    start, segments = draw(st.floats(0.0, 5.0)), []
    for duration, pause in zip(durations, pauses):
        segments.append((start, start + duration))
        start += duration + pause
    return segments


@settings(max_examples=300, deadline=None)
@given(lengths_st, voiced_segments())
def test_every_sentence_gets_one_ordered_span_and_together_they_cover_the_voiced_time(lengths, segments):
    aligned = align_sentences(lengths, segments)
    spans = np.array(aligned.spans)
    assert len(spans) == len(lengths)
    assert np.all(spans[:, 1] >= spans[:, 0])                           # each span one interval
    assert np.all(spans[1:, 0] >= spans[:-1, 1])                        # ordered, never overlapping
    assert spans[0, 0] == segments[0][0] and spans[-1, 1] == segments[-1][1]
    for start, end in segments:                                         # every voiced instant lies in a span
        inside = (spans[:, 0] <= start + 1e-9) & (spans[:, 1] >= end - 1e-9)
        pieces = (spans[:, 0] < end) & (spans[:, 1] > start)
        covered = np.clip(np.minimum(spans[pieces, 1], end) - np.maximum(spans[pieces, 0], start), 0, None).sum()
        assert inside.any() or covered == pytest.approx(end - start, abs=1e-6)
    total = sum(end - start for start, end in segments)
    assert sum(aligned.voiced_seconds) == pytest.approx(total) and min(aligned.voiced_seconds) >= 0


@settings(max_examples=300, deadline=None)
@given(lengths_st, voiced_segments())
def test_each_sentence_pairs_with_a_contiguous_run_of_segments_in_order_and_every_segment_is_paired(lengths, segments):
    aligned = align_sentences(lengths, segments)
    paired = [index for run in aligned.segments for index in run]
    assert sorted(set(paired)) == list(range(len(segments)))
    assert paired == sorted(paired)                                    # in order; a neighbour may share one segment
    for run, (start, end) in zip(aligned.segments, aligned.spans):
        for index in run:                                              # a paired segment meets the sentence's span
            assert segments[index][0] < end + 1e-9 and segments[index][1] > start - 1e-9
    if len(lengths) <= len(segments):                                 # enough pauses: every boundary in one
        assert aligned.boundaries_at_pauses == len(lengths) - 1
        assert all(len(run) >= 1 for run in aligned.segments)
        assert len(paired) == len(segments)                            # and no segment is split between two


@settings(max_examples=200, deadline=None)
@given(lengths_st.flatmap(lambda lengths: st.tuples(st.just(lengths), voiced_segments(len(lengths), len(lengths)))))
def test_as_many_sentences_as_segments_pair_one_to_one_whatever_their_lengths(case):
    lengths, segments = case
    aligned = align_sentences(lengths, segments)
    assert aligned.segments == [range(i, i + 1) for i in range(len(segments))]
    assert aligned.spans == [(float(a), float(b)) for a, b in segments]


@settings(max_examples=200, deadline=None)
@given(voiced_segments(min_size=2), st.data())
def test_sentences_as_long_as_groups_of_segments_are_given_exactly_those_groups(segments, data):
    """Sentences whose lengths are in proportion to the voiced time of consecutive groups of segments (a sentence
    spoken with pauses inside it) are aligned to exactly those groups."""
    cuts = sorted(data.draw(st.sets(st.integers(1, len(segments) - 1), max_size=len(segments) - 1)))
    groups = [range(a, b) for a, b in zip([0, *cuts], [*cuts, len(segments)])]
    lengths = [sum(segments[i][1] - segments[i][0] for i in group) for group in groups]
    aligned = align_sentences(lengths, segments)
    assert aligned.segments == groups
    assert aligned.spans == [(segments[g[0]][0], segments[g[-1]][1]) for g in groups]


def test_a_transcript_longer_than_its_pauses_allow_is_cut_inside_segments_in_proportion_to_length():
    aligned = align_sentences([10, 10, 20], [(0.0, 4.0)])
    assert aligned.spans == [(0.0, 1.0), (1.0, 2.0), (2.0, 4.0)]
    assert aligned.boundaries_at_pauses == 0 and aligned.segments == [range(0, 1)] * 3


def test_boundaries_move_to_the_nearest_pauses_that_keep_the_order():
    # 1 s segments with 0.5 s pauses; by length the boundary falls at 2.2 s of voiced time: the pause after 2 s
    aligned = align_sentences([22, 28], [(0.0, 1.0), (1.5, 2.5), (3.0, 4.0), (4.5, 5.5), (6.0, 7.0)])
    assert aligned.spans == [(0.0, 2.5), (3.0, 7.0)] and aligned.segments == [range(0, 2), range(2, 5)]


def test_a_silent_recording_pairs_no_sentence_and_bad_input_is_refused():
    aligned = align_sentences([3, 4], [])
    assert aligned.voiced_seconds == [0.0, 0.0] and aligned.segments == [range(0), range(0)]
    with pytest.raises(ValueError):
        align_sentences([0, 3], [(0.0, 1.0)])
    with pytest.raises(ValueError):
        align_sentences([3], [(0.0, 1.0), (0.5, 2.0)])


@settings(max_examples=200, deadline=None)
@given(voiced_segments(min_size=1, max_size=9), st.data())
def test_the_grouping_is_the_best_of_all_groupings_of_segments_into_sentences(segments, data):
    from itertools import combinations

    lengths = data.draw(st.lists(st.integers(1, 400), min_size=1, max_size=len(segments)))
    edges = np.concatenate([[0.0], np.cumsum([end - start for start, end in segments])])
    expected = edges[-1] * np.asarray(lengths, float) / sum(lengths)

    def cost(grouping):
        return float(np.sum(np.log(np.diff(edges[list(grouping)]) / expected) ** 2))

    chosen = pause_grouping(expected, edges)
    best = min(cost((0, *inner, len(segments))) for inner in combinations(range(1, len(segments)), len(lengths) - 1))
    assert chosen[0] == 0 and chosen[-1] == len(segments) and np.all(np.diff(chosen) > 0)
    assert cost(chosen) == pytest.approx(best, rel=1e-9, abs=1e-12)


def test_a_sentence_spoken_slower_than_its_length_suggests_does_not_push_the_later_ones_off_their_pauses():
    """Six sentences of equal length, each spoken as two 1 s parts, but the first drawn out over two 1.5 s parts:
    the cumulative proportions put the first boundary (2.17 s of voiced time) nearer the pause inside the first
    sentence (1.5 s) than the one after it (3 s); the grouping keeps every sentence whole."""
    segments, start = [], 0.0
    for sentence in range(6):
        for _ in range(2):
            length = 1.5 if sentence == 0 else 1.0
            segments.append((start, start + length))
            start += length + 0.5
    aligned = align_sentences([40] * 6, segments)
    assert aligned.segments == [range(2 * i, 2 * i + 2) for i in range(6)]
