"""Segments from frame decisions: the rules, and streaming == whole."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remotemedia.errors import KernelInputError
from remotemedia.kernels.segments import Segment, SegmentTracker, speech_segments

# 10-sample frames at 1 kHz: one frame = 10 ms, so the ms parameters read directly in frames.
FL, SR = 10, 1000


def segs(decisions, **kw):
    return [(s.start, s.end) for s in speech_segments(np.array(decisions, np.uint8), FL, SR, **kw)]


NO_ROLL = dict(pre_roll_ms=0, post_roll_ms=0, max_segment_s=0)


def test_short_pauses_stay_inside_and_long_ones_split():
    d = [0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0]
    assert segs(d, min_speech_ms=0, min_silence_ms=20, **NO_ROLL) == [(10, 60), (90, 110)]
    assert segs(d, min_speech_ms=0, min_silence_ms=40, **NO_ROLL) == [(10, 110)]


def test_short_segments_are_dropped():
    d = [1, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert segs(d, min_speech_ms=30, min_silence_ms=20, **NO_ROLL) == [(40, 70)]


def test_rolls_are_added_clipped_and_never_overlap():
    d = [0, 0, 1, 1, 0, 0, 1, 1, 0]
    got = segs(d, min_speech_ms=0, min_silence_ms=20, pre_roll_ms=15, post_roll_ms=15, max_segment_s=0)
    # first: 20-40 -> 5-55; second: 60-80 -> max(45, 55)=55 .. 95 -> clipped to 90 (signal end)
    assert got == [(5, 55), (55, 90)]
    assert segs([1, 1], min_speech_ms=0, pre_roll_ms=50, post_roll_ms=50, max_segment_s=0) == [(0, 20)]


def test_total_samples_clips_the_padded_last_frame():
    out = speech_segments(np.array([0, 1, 1], np.uint8), FL, SR, total_samples=25, min_speech_ms=0, **NO_ROLL)
    assert [(s.start, s.end) for s in out] == [(10, 25)]
    assert out[0] == Segment(10, 25, 0.01, 0.025)


def test_long_speech_is_cut_at_the_quietest_frame():
    d = [1] * 20
    energy = np.ones(20)
    energy[7] = 0.1  # quietest within [start + 5, start + 10]
    out = speech_segments(np.array(d, np.uint8), FL, SR, energy=energy, min_speech_ms=0, min_silence_ms=30,
                          pre_roll_ms=0, post_roll_ms=0, max_segment_s=0.1)
    assert [(s.start, s.end) for s in out] == [(0, 70), (70, 170), (170, 200)]
    # without energies, cuts fall at exactly max_segment_s
    out = speech_segments(np.array(d, np.uint8), FL, SR, min_speech_ms=0, min_silence_ms=30, pre_roll_ms=0,
                          post_roll_ms=0, max_segment_s=0.1)
    assert [(s.start, s.end) for s in out] == [(0, 100), (100, 200)]


def test_rolls_not_added_at_cuts():
    out = segs([0, 0] + [1] * 12 + [0] * 4, min_speech_ms=0, min_silence_ms=30, pre_roll_ms=10, post_roll_ms=10,
               max_segment_s=0.1)
    assert out == [(10, 120), (120, 150)]


@pytest.mark.parametrize("kw, message", [
    ({"min_speech_ms": -1}, "min_speech_ms: expected a finite number >= 0, given -1"),
    ({"max_segment_s": 0.01}, "max_segment_s: expected at least two frames (0.02 s), given 0.01"),
    ({"pre_roll_ms": float("inf")}, "pre_roll_ms: expected a finite number >= 0, given inf"),
])
def test_bad_parameters(kw, message):
    with pytest.raises(KernelInputError) as info:
        SegmentTracker(FL, SR, **kw)
    assert str(info.value) == message


@settings(max_examples=150, deadline=None)
@given(
    decisions=st.lists(st.integers(0, 1), max_size=400),
    seed=st.integers(0, 1000),
    min_speech_ms=st.integers(0, 80), min_silence_ms=st.integers(0, 80),
    pre_roll_ms=st.integers(0, 60), post_roll_ms=st.integers(0, 90),
    max_segment_s=st.sampled_from([0.0, 0.03, 0.2, 1.0]),
)
def test_streaming_equals_whole_and_segments_are_ordered(decisions, seed, **kw):
    d = np.array(decisions, np.uint8)
    rng = np.random.default_rng(seed)
    energy = rng.random(d.size)
    total = d.size * FL - int(rng.integers(0, FL))
    whole = speech_segments(d, FL, SR, energy=energy, total_samples=total, **kw)
    t = SegmentTracker(FL, SR, **kw)
    got, i = [], 0
    while i < d.size:
        k = int(rng.integers(1, 40))
        got += t.push(d[i:i + k], energy[i:i + k])
        i += k
    got += t.finish(total)
    assert got == whole
    for s in whole:
        assert 0 <= s.start < s.end <= total
    for a, b in zip(whole, whole[1:]):
        assert a.end <= b.start
    # every speech frame that belongs to a kept run is covered by some segment
    if kw["min_speech_ms"] == 0:
        covered = np.zeros(d.size * FL, bool)
        for s in whole:
            covered[s.start:s.end] = True
        for f in np.flatnonzero(d):
            assert covered[f * FL: min((f + 1) * FL, total)].all()


def test_post_roll_into_a_padded_last_frame_is_clipped_in_streaming_too():
    # Found by hypothesis: the post-roll reached into the last frame, which was padded.
    d = np.array([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], np.uint8)
    kw = dict(min_speech_ms=0, min_silence_ms=0, pre_roll_ms=0, post_roll_ms=85, max_segment_s=0.0)
    whole = speech_segments(d, FL, SR, total_samples=104, **kw)
    t = SegmentTracker(FL, SR, **kw)
    streamed = t.push(d) + t.finish(104)
    assert whole == streamed == [Segment(10, 104, 0.01, 0.104)]


# ------------------------------------------------------------ output shaping
from remotemedia.kernels.segments import SegmentShaper, ShapedSegment, shape_segments  # noqa: E402


def shaped(segments, total=10_000, rate=SR, **options):
    return [(s.start, s.end, s.merged) for s in shape_segments(segments, rate, total, **options)]


SEGS = [(100, 300), (400, 500), (1500, 1600), (1650, 2900), (5000, 5020)]


def test_defaults_keep_every_segment_as_detected():
    got = shape_segments(SEGS, SR, 10_000)
    assert got == [ShapedSegment(s, e, s, e, 1) for s, e in SEGS]


def test_merge_joins_neighbours_up_to_the_maximum_span():
    # 1 s at 1 kHz: (100, 300) + (400, 500) span 400 -> joined; adding (1500, 1600) would span 1500.
    assert shaped(SEGS, merge_max_s=1.0) == [(100, 500, 2), (1500, 1600, 1), (1650, 2900, 1), (5000, 5020, 1)]
    assert shaped(SEGS, merge_max_s=1.5) == [(100, 1600, 3), (1650, 2900, 1), (5000, 5020, 1)]
    # A gap limit of 0.06 s keeps (100, 300) and (400, 500) apart but joins (1500, 1600) and (1650, 2900).
    assert shaped(SEGS, merge_max_s=2.0, merge_gap_s=0.06) == [(100, 300, 1), (400, 500, 1), (1500, 2900, 2),
                                                                (5000, 5020, 1)]


def test_padding_is_clipped_to_the_signal_and_may_overlap():
    assert shaped([(10, 200), (230, 400), (900, 995)], total=1000, pad_s=0.05) == [
        (0, 250, 1), (180, 450, 1), (850, 1000, 1)]
    got = shape_segments([(10, 200)], SR, 1000, pad_s=0.05)
    assert got[0].speech_start == 10 and got[0].speech_end == 200  # the detected extent is kept


def test_duration_filters_apply_to_the_written_length():
    assert shaped(SEGS, min_duration_s=0.15) == [(100, 300, 1), (1650, 2900, 1)]
    assert shaped(SEGS, max_duration_s=0.2) == [(100, 300, 1), (400, 500, 1), (1500, 1600, 1), (5000, 5020, 1)]
    # Padding counts: (5000, 5020) padded by 0.05 s lasts 0.12 s and passes a 0.1 s minimum.
    assert shaped(SEGS, min_duration_s=0.1, pad_s=0.05)[-1] == (4950, 5070, 1)
    shaper = SegmentShaper(SR, min_duration_s=0.15, max_duration_s=1.0)
    shaper.push(SEGS, 0)
    assert len(shaper.finish(10_000)) == 1 and (shaper.dropped_short, shaper.dropped_long) == (3, 1)


@pytest.mark.parametrize(("options", "parameter"), [
    ({"pad_s": -1}, "pad_s"), ({"merge_max_s": float("nan")}, "merge_max_s"), ({"merge_gap_s": "x"}, "merge_gap_s"),
    ({"min_duration_s": 2.0, "max_duration_s": 1.0}, "max_duration_s"), ({"min_duration_s": True}, "min_duration_s"),
])
def test_bad_options_name_the_parameter(options, parameter):
    with pytest.raises(KernelInputError, match=f"node 'w': {parameter}: expected"):
        SegmentShaper(SR, node_id="w", **options)


@st.composite
def segment_lists(draw):
    n = draw(st.integers(0, 12))
    cuts = sorted(draw(st.lists(st.integers(0, 5000), min_size=2 * n, max_size=2 * n, unique=True)))
    return [(cuts[2 * i], cuts[2 * i + 1]) for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(segments=segment_lists(), splits=st.lists(st.integers(0, 12), max_size=6),
       merge_max_s=st.sampled_from([0.0, 0.3, 1.0, 3.0]), merge_gap_s=st.sampled_from([None, 0.0, 0.1, 0.5]),
       pad_s=st.sampled_from([0.0, 0.01, 0.2]), min_duration_s=st.sampled_from([0.0, 0.1]),
       max_duration_s=st.sampled_from([0.0, 0.5, 2.0]))
def test_streaming_equals_whole(segments, splits, **options):
    """Segments pushed in any groups, with covered / next_start as a VAD stream gives them, shape as the whole list."""
    total = 5200
    whole = shape_segments(segments, SR, total, **options)
    shaper = SegmentShaper(SR, **options)
    got, pos = [], 0
    for k in sorted(set(splits)) + [len(segments)]:
        group, pos_next = segments[pos:k], max(k, pos)
        if not group and k != len(segments):
            continue
        covered = group[-1][1] if group else total  # the VAD releases a segment once its end is covered
        # the next segment (not pushed yet) starts at or after next_start
        next_start = segments[pos_next][0] if pos_next < len(segments) else covered
        got += shaper.push(group, covered, next_start)
        pos = pos_next
        # everything returned is complete: its padded end was covered
        assert all(s.end <= covered for s in got)
        pending = shaper.earliest_pending_start()
        assert pending is None or pending <= min([s[0] for s in segments[pos:]] + [10 ** 9])
    got += shaper.finish(total)
    assert got == whole
