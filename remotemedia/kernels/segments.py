"""From per-frame VAD decisions to speech segments.

A small streaming state machine over frames (pure Python: it touches one
value per 10-30 ms frame, so it is nowhere near a hot loop and has no native
twin). Whole-signal segmentation feeds the same machine, so any chunking of
the decisions gives the same segments.

Rules, in order:

1. A candidate opens at a speech frame and closes once ``min_silence_ms`` of
   consecutive non-speech frames follow its last speech frame (shorter pauses
   stay inside the segment). Its extent is first to last speech frame.
2. A candidate shorter than ``min_speech_ms`` is dropped (unless it is the
   remainder of a cut, see 3).
3. A candidate whose speech extent grows past ``max_segment_s`` is cut: the cut goes before the
   quietest frame (lowest energy; the latest of equals) between half and all
   of ``max_segment_s`` from the piece's start; the rest continues as a new
   piece. Without energies, pieces are cut at exactly ``max_segment_s``.
4. ``pre_roll_ms`` / ``post_roll_ms`` of context are added at outer edges
   (not at cuts), clipped to the signal and never overlapping the previous
   segment.
"""

from __future__ import annotations

import math
from typing import List, NamedTuple, Optional

import numpy as np

from remotemedia.errors import KernelInputError


class Segment(NamedTuple):
    """A speech segment.

    Attributes:
        start: first sample (inclusive), at the signal's sample rate.
        end: last sample + 1 (exclusive).
        start_s: ``start`` in seconds.
        end_s: ``end`` in seconds.
    """

    start: int
    end: int
    start_s: float
    end_s: float

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "start_s": self.start_s, "end_s": self.end_s}


def _non_negative(value: object, parameter: str, node_id: Optional[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)) or value < 0:
        raise KernelInputError(parameter, "a finite number >= 0", repr(value), node_id=node_id)
    return float(value)


class SegmentTracker:
    """Streaming segmenter: push decisions as they come, ``finish`` at the end.

    Args:
        frame_length: samples per decision frame.
        sample_rate: Hz of the samples the frames cover.
        min_speech_ms: shortest kept segment (speech extent, before rolls).
        min_silence_ms: pause that ends a segment.
        pre_roll_ms: context added before each segment.
        post_roll_ms: context added after each segment.
        max_segment_s: longest piece (speech extent, before rolls); ``0`` = no limit.
        node_id: named in errors.
    """

    def __init__(self, frame_length: int, sample_rate: int, *, min_speech_ms: float = 250.0,
                 min_silence_ms: float = 300.0, pre_roll_ms: float = 100.0, post_roll_ms: float = 100.0,
                 max_segment_s: float = 30.0, node_id: Optional[str] = None) -> None:
        if isinstance(frame_length, bool) or not isinstance(frame_length, (int, np.integer)) or frame_length < 1:
            raise KernelInputError("frame_length", "an int >= 1", repr(frame_length), node_id=node_id)
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1:
            raise KernelInputError("sample_rate", "an int >= 1 (Hz)", repr(sample_rate), node_id=node_id)
        self.frame_length = int(frame_length)
        self.sample_rate = int(sample_rate)
        frame_s = self.frame_length / self.sample_rate
        self.min_speech_frames = math.ceil(_non_negative(min_speech_ms, "min_speech_ms", node_id) / 1000 / frame_s
                                           - 1e-9)
        self.min_silence_frames = max(1, math.ceil(_non_negative(min_silence_ms, "min_silence_ms", node_id) / 1000
                                                   / frame_s - 1e-9))
        self.pre_roll = round(_non_negative(pre_roll_ms, "pre_roll_ms", node_id) * self.sample_rate / 1000)
        self.post_roll = round(_non_negative(post_roll_ms, "post_roll_ms", node_id) * self.sample_rate / 1000)
        max_s = _non_negative(max_segment_s, "max_segment_s", node_id)
        self.max_frames = int(max_s / frame_s + 1e-9) if max_s > 0 else 0
        if max_s > 0 and self.max_frames < 2:
            raise KernelInputError("max_segment_s", f"at least two frames ({2 * frame_s:g} s)", max_segment_s,
                                   node_id=node_id)
        self._frame = 0  # index of the next frame
        self._open_start: Optional[int] = None
        self._open_is_cut = False
        self._last_speech = -1
        self._energy: List[float] = []  # energies of the open piece's frames
        self._held: List[list] = []  # [start_sample, end_sample] waiting for their post-roll to be seen
        self._prev_end = 0
        self._finished = False

    def push(self, decisions: np.ndarray, energy: Optional[np.ndarray] = None) -> List[Segment]:
        """Feeds per-frame decisions (and energies); returns segments now complete.

        Args:
            decisions: 1-D array, nonzero = speech.
            energy: optional 1-D float array, one value per frame (e.g. RMS).
        """
        if self._finished:
            raise KernelInputError("push", "a tracker that has not finished", "a finished tracker")
        dec = np.asarray(decisions).reshape(-1)
        en = None if energy is None else np.asarray(energy, dtype=np.float64).reshape(-1)
        if en is not None and en.size != dec.size:
            raise KernelInputError("energy", f"{dec.size} values (one per decision)", en.size)
        for k, d in enumerate(dec.tolist()):
            self._step(bool(d), 0.0 if en is None else float(en[k]))
        # The newest frame may be the zero-padded end of the signal, so only samples
        # before it are known to exist; later segment ends wait for finish().
        return self._release(max(0, self._frame - 1) * self.frame_length)

    def _step(self, speech: bool, energy: float) -> None:
        i = self._frame
        self._frame += 1
        if self._open_start is None:
            if speech:
                self._open_start, self._open_is_cut = i, False
                self._last_speech = i
                self._energy = [energy]
            return
        self._energy.append(energy)
        if speech:
            self._last_speech = i
        elif i - self._last_speech >= self.min_silence_frames:
            self._close(cut_end=False)
            return
        if speech and self.max_frames and i + 1 - self._open_start > self.max_frames:
            self._cut()

    def _cut(self) -> None:
        start = self._open_start
        assert start is not None
        lo, hi = start + (self.max_frames + 1) // 2, start + self.max_frames  # cut before frame c, lo <= c <= hi
        window = self._energy[lo - start: hi - start + 1]
        # The quietest frame, the latest of equals.
        c = lo + max(range(len(window)), key=lambda j: (-window[j], j))
        self._emit(start, c, cut_start=self._open_is_cut, cut_end=True)
        self._energy = self._energy[c - start:]
        self._open_start, self._open_is_cut = c, True

    def _close(self, cut_end: bool) -> None:
        start = self._open_start
        assert start is not None
        end = self._last_speech + 1
        self._open_start = None
        self._energy = []
        if end <= start:
            return  # a cut remainder that never held speech
        if not self._open_is_cut and end - start < self.min_speech_frames:
            return
        self._emit(start, end, cut_start=self._open_is_cut, cut_end=cut_end)

    def _emit(self, start_frame: int, end_frame: int, *, cut_start: bool, cut_end: bool) -> None:
        fl = self.frame_length
        start = start_frame * fl - (0 if cut_start else self.pre_roll)
        end = end_frame * fl + (0 if cut_end else self.post_roll)
        start = max(start, self._prev_end, 0)
        if end > start:
            self._held.append([start, end])
            self._prev_end = end

    def _release(self, covered: int) -> List[Segment]:
        out = []
        while self._held and self._held[0][1] <= covered:
            s, e = self._held.pop(0)
            out.append(self._segment(s, e))
        return out

    def _segment(self, start: int, end: int) -> Segment:
        return Segment(int(start), int(end), start / self.sample_rate, end / self.sample_rate)

    def earliest_pending_start(self) -> int:
        """The first sample a segment not returned yet may start at.

        Samples before it are in no future segment: a streaming consumer that
        cuts segments out of the audio can drop them.
        """
        if self._held:
            return int(self._held[0][0])
        fl = self.frame_length
        if self._open_start is not None:
            start = self._open_start * fl - (0 if self._open_is_cut else self.pre_roll)
        else:  # a new candidate opens at the next frame at the earliest
            start = self._frame * fl - self.pre_roll
        return int(max(start, self._prev_end, 0))

    def finish(self, total_samples: Optional[int] = None) -> List[Segment]:
        """Closes the stream; returns the remaining segments.

        Args:
            total_samples: the signal's true length (the last frame may have
                been padded); defaults to frames seen x frame length.
        """
        if self._finished:
            return []
        self._finished = True
        if self._open_start is not None:
            self._close(cut_end=False)
        total = self._frame * self.frame_length if total_samples is None else int(total_samples)
        out = []
        for s, e in self._held:
            e = min(e, total)
            if e > s:
                out.append(self._segment(s, e))
        self._held = []
        return out


def speech_segments(decisions: np.ndarray, frame_length: int, sample_rate: int, *,
                    total_samples: Optional[int] = None, energy: Optional[np.ndarray] = None,
                    min_speech_ms: float = 250.0, min_silence_ms: float = 300.0, pre_roll_ms: float = 100.0,
                    post_roll_ms: float = 100.0, max_segment_s: float = 30.0) -> List[Segment]:
    """Speech segments of a whole signal (see the module docstring for the rules).

    Args:
        decisions: 1-D per-frame decisions (nonzero = speech).
        frame_length: samples per frame.
        sample_rate: Hz.
        total_samples: the signal's length in samples (clips the last segment).
        energy: optional per-frame energy used to place cuts.
        min_speech_ms, min_silence_ms, pre_roll_ms, post_roll_ms, max_segment_s: see :class:`SegmentTracker`.

    Returns:
        Segments in order, non-overlapping.
    """
    tracker = SegmentTracker(frame_length, sample_rate, min_speech_ms=min_speech_ms, min_silence_ms=min_silence_ms,
                             pre_roll_ms=pre_roll_ms, post_roll_ms=post_roll_ms, max_segment_s=max_segment_s)
    return tracker.push(decisions, energy) + tracker.finish(total_samples)


# ------------------------------------------------------------ output shaping
class ShapedSegment(NamedTuple):
    """A segment as it will be written: merged, padded, filtered.

    Attributes:
        start: first sample (inclusive) of the written audio.
        end: last sample + 1 (exclusive).
        speech_start: first sample of the first detected segment inside it (before padding).
        speech_end: end of the last detected segment inside it (before padding).
        merged: how many detected segments it holds (1 unless merged).
    """

    start: int
    end: int
    speech_start: int
    speech_end: int
    merged: int


def _optional_limit(value: object, parameter: str, node_id: Optional[str]) -> Optional[float]:
    return None if value is None else _non_negative(value, parameter, node_id)


class SegmentShaper:
    """Streaming post-processing of detected segments: merge, pad, filter by duration.

    Rules, in order (defaults change nothing):

    1. **Merge**: with ``merge_max_s > 0``, neighbouring segments are joined
       (the pause between them included) while the joined span stays at most
       ``merge_max_s`` long and, with ``merge_gap_s``, every pause joined is at
       most ``merge_gap_s``. Greedy, left to right.
    2. **Pad**: ``pad_s`` of audio is added at both ends, clipped to the
       signal; padded neighbours may overlap (each is written on its own).
    3. **Filter**: a segment shorter than ``min_duration_s`` or (with
       ``max_duration_s > 0``) longer than ``max_duration_s`` after padding is
       dropped, so every written file lasts between the two.

    Durations are converted to samples once (``round(s * sample_rate)``, half
    to even). Segments must come in order and not overlap (as the
    :class:`SegmentTracker` gives them). Feed them with :meth:`push` and say
    how far the audio goes with ``covered``; :meth:`finish` returns the rest.

    Args:
        sample_rate: Hz of the segment positions.
        min_duration_s: shortest written segment (s); 0 = no limit.
        max_duration_s: longest written segment (s); 0 = no limit.
        merge_max_s: longest merged span (s, before padding); 0 = no merging.
        merge_gap_s: longest pause merged over (s); None = any pause.
        pad_s: audio added at both ends (s).
        node_id: named in errors.
    """

    def __init__(self, sample_rate: int, *, min_duration_s: float = 0.0, max_duration_s: float = 0.0,
                 merge_max_s: float = 0.0, merge_gap_s: Optional[float] = None, pad_s: float = 0.0,
                 node_id: Optional[str] = None) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1:
            raise KernelInputError("sample_rate", "an int >= 1 (Hz)", repr(sample_rate), node_id=node_id)
        check_shaping(min_duration_s=min_duration_s, max_duration_s=max_duration_s, merge_max_s=merge_max_s,
                      merge_gap_s=merge_gap_s, pad_s=pad_s, node_id=node_id)
        self.sample_rate = int(sample_rate)
        self.min_duration_s = float(min_duration_s)
        self.max_duration_s = float(max_duration_s)
        self.merge_max = round(float(merge_max_s) * self.sample_rate)
        self.merge_gap = None if merge_gap_s is None else round(float(merge_gap_s) * self.sample_rate)
        self.pad = round(float(pad_s) * self.sample_rate)
        self._open: Optional[List[int]] = None  # [speech_start, speech_end, merged] not closed yet
        self._closed: List[List[int]] = []  # closed groups waiting for their padding audio
        self.dropped_short = 0
        self.dropped_long = 0

    def push(self, segments: "list", covered: int, next_start: Optional[int] = None) -> List[ShapedSegment]:
        """Adds detected segments; returns the shaped segments now complete.

        Args:
            segments: ``(start, end)`` pairs, dicts with ``start``/``end``, or
                :class:`Segment` (samples, in order).
            covered: samples of audio known so far (a segment is complete once
                its padded end is covered).
            next_start: the earliest sample a segment not pushed yet may start
                at (lets a merge group close before the next segment arrives).
        """
        for seg in segments:
            start, end = _bounds(seg)
            group = self._open
            if group is not None and self._joins(group, start, end):
                group[1] = end
                group[2] += 1
                continue
            if group is not None:
                self._closed.append(group)
            self._open = [start, end, 1]
        if self._open is not None and (self.merge_max <= 0 or (next_start is not None and not self._may_join(
                self._open, next_start))):
            self._closed.append(self._open)
            self._open = None
        out = []
        while self._closed and self._closed[0][1] + self.pad <= covered:
            shaped = self._shape(self._closed.pop(0), covered)
            if shaped is not None:
                out.append(shaped)
        return out

    def earliest_pending_start(self) -> Optional[int]:
        """The first sample a segment not returned yet may include (padding included), or None."""
        groups = self._closed + ([self._open] if self._open is not None else [])
        return max(0, groups[0][0] - self.pad) if groups else None

    def finish(self, total_samples: int) -> List[ShapedSegment]:
        """Closes the stream (``total_samples`` = the signal's length); returns the remaining segments."""
        if self._open is not None:
            self._closed.append(self._open)
            self._open = None
        out = []
        for group in self._closed:
            shaped = self._shape(group, int(total_samples))
            if shaped is not None:
                out.append(shaped)
        self._closed = []
        return out

    def _joins(self, group: List[int], start: int, end: int) -> bool:
        if self.merge_max <= 0 or end - group[0] > self.merge_max:
            return False
        return self.merge_gap is None or start - group[1] <= self.merge_gap

    def _may_join(self, group: List[int], next_start: int) -> bool:
        # A later segment ends after next_start: it can join only if that is still inside the limits.
        if next_start - group[0] >= self.merge_max:
            return False
        return self.merge_gap is None or next_start - group[1] <= self.merge_gap

    def _shape(self, group: List[int], total: int) -> Optional[ShapedSegment]:
        speech_start, speech_end, merged = group
        start = max(0, speech_start - self.pad)
        end = min(max(total, speech_end), speech_end + self.pad)
        duration_s = (end - start) / self.sample_rate
        if duration_s < self.min_duration_s - 1e-12:
            self.dropped_short += 1
            return None
        if self.max_duration_s > 0 and duration_s > self.max_duration_s + 1e-12:
            self.dropped_long += 1
            return None
        return ShapedSegment(start, end, speech_start, speech_end, merged)


def _bounds(seg: object) -> "tuple[int, int]":
    if isinstance(seg, dict):
        return int(seg["start"]), int(seg["end"])
    start, end = seg[0], seg[1]  # type: ignore[index]
    return int(start), int(end)


def check_shaping(*, min_duration_s: object = 0.0, max_duration_s: object = 0.0, merge_max_s: object = 0.0,
                  merge_gap_s: object = None, pad_s: object = 0.0, node_id: Optional[str] = None) -> None:
    """Validates :class:`SegmentShaper`'s options (raises :class:`KernelInputError` naming the bad one)."""
    low = _non_negative(min_duration_s, "min_duration_s", node_id)
    high = _non_negative(max_duration_s, "max_duration_s", node_id)
    _non_negative(merge_max_s, "merge_max_s", node_id)
    _optional_limit(merge_gap_s, "merge_gap_s", node_id)
    _non_negative(pad_s, "pad_s", node_id)
    if high > 0 and low > high:
        raise KernelInputError("max_duration_s", f"0 (no limit) or at least min_duration_s ({low:g} s)",
                               repr(max_duration_s), node_id=node_id)


def shape_segments(segments: "list", sample_rate: int, total_samples: int, **options: object) -> List[ShapedSegment]:
    """:class:`SegmentShaper` over a whole list of segments (same results as any streaming of it).

    Args:
        segments: detected segments (see :meth:`SegmentShaper.push`), in order.
        sample_rate: Hz.
        total_samples: the signal's length in samples.
        **options: :class:`SegmentShaper`'s keyword arguments.
    """
    shaper = SegmentShaper(sample_rate, **options)  # type: ignore[arg-type]
    return shaper.push(segments, 0) + shaper.finish(total_samples)
