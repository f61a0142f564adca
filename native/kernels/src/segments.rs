//! From per-frame VAD decisions to speech segments: the streaming state
//! machine of `remotemedia.kernels.segments.SegmentTracker`, in Rust.
//!
//! Same rules, same frames, same sample positions and the same float seconds
//! as the Python class (its module doc states the rules): every quantity is
//! computed with the same float64 operations in the same order (`ceil`,
//! `round` half to even, `int` truncation, `start / sample_rate`), and the
//! quietest-frame search reproduces Python's `max(range(n), key=lambda j:
//! (-energy[j], j))` exactly, NaN energies included.
//!
//! Bounds (the Python class has none, its integers are unbounded): frame
//! lengths and sample rates up to 2^31, pre/post rolls up to 2^60 samples (a
//! larger roll behaves as 2^60 samples, which already reaches past any
//! stream), frame thresholds up to 2^62 frames, and sample positions below
//! 2^53 for the seconds to be exact. Where Python would raise
//! `OverflowError` (a roll or a frame count that is infinite in float64),
//! the constructor returns an `Invalid` error.

use std::collections::VecDeque;

use crate::KernelError;

/// Largest frame length and sample rate accepted.
pub const MAX_FRAME_LENGTH: usize = 1 << 31;
/// Rolls (in samples) are capped here: past any stream, so equivalent.
const ROLL_CAP: f64 = (1u64 << 60) as f64;
/// Frame counts (minimum speech / silence, maximum piece) are capped here.
const FRAMES_CAP: f64 = (1u64 << 62) as f64;

/// A speech segment at the tracker's sample rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// First sample (inclusive).
    pub start: i64,
    /// Last sample + 1 (exclusive).
    pub end: i64,
    /// `start / sample_rate`, in seconds.
    pub start_s: f64,
    /// `end / sample_rate`, in seconds.
    pub end_s: f64,
}

/// The segmenting rules, in the units of the Python constructor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SegmentParams {
    /// Shortest kept segment (speech extent, before rolls), ms.
    pub min_speech_ms: f64,
    /// Pause that ends a segment, ms.
    pub min_silence_ms: f64,
    /// Context added before each segment, ms.
    pub pre_roll_ms: f64,
    /// Context added after each segment, ms.
    pub post_roll_ms: f64,
    /// Longest piece (speech extent, before rolls), s; 0 = no limit.
    pub max_segment_s: f64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            min_speech_ms: 250.0,
            min_silence_ms: 300.0,
            pre_roll_ms: 100.0,
            post_roll_ms: 100.0,
            max_segment_s: 30.0,
        }
    }
}

fn non_negative(value: f64, parameter: &str) -> Result<f64, KernelError> {
    if !value.is_finite() || value < 0.0 {
        return Err(KernelError::invalid(
            parameter,
            "a finite number >= 0",
            format!("{value:?}"),
        ));
    }
    Ok(value)
}

/// A float64 quantity that Python turns into an int (`math.ceil`, `round`,
/// `int`): an error where Python raises `OverflowError` (infinite), else
/// capped at `cap`.
fn to_count(value: f64, cap: f64, parameter: &str) -> Result<i64, KernelError> {
    if !value.is_finite() {
        return Err(KernelError::invalid(
            parameter,
            "a value whose count in samples or frames is finite",
            "one that overflows",
        ));
    }
    Ok(value.min(cap) as i64)
}

/// Streaming segmenter: push decisions as they come, `finish` at the end.
#[derive(Clone, Debug)]
pub struct SegmentTracker {
    frame_length: i64,
    sample_rate: i64,
    min_speech_frames: i64,
    min_silence_frames: i64,
    pre_roll: i64,
    post_roll: i64,
    max_frames: i64,
    /// Index of the next frame.
    frame: i64,
    open_start: Option<i64>,
    open_is_cut: bool,
    last_speech: i64,
    /// Energies of the open piece's frames (index 0 = frame `open_start`).
    energy: Vec<f64>,
    /// `(start, end)` samples waiting for their post-roll to be seen.
    held: VecDeque<(i64, i64)>,
    prev_end: i64,
    finished: bool,
}

impl SegmentTracker {
    /// A tracker for frames of `frame_length` samples at `sample_rate` Hz.
    ///
    /// Errors (`Invalid`): a frame length or rate of 0 or above 2^31, a
    /// parameter that is negative or not finite, or `max_segment_s` shorter
    /// than two frames (and not 0); messages as the Python class's.
    pub fn new(
        frame_length: usize,
        sample_rate: usize,
        params: &SegmentParams,
    ) -> Result<Self, KernelError> {
        if !(1..=MAX_FRAME_LENGTH).contains(&frame_length) {
            return Err(KernelError::invalid(
                "frame_length",
                "an int >= 1",
                frame_length,
            ));
        }
        if !(1..=MAX_FRAME_LENGTH).contains(&sample_rate) {
            return Err(KernelError::invalid(
                "sample_rate",
                "an int >= 1 (Hz)",
                sample_rate,
            ));
        }
        let frame_s = frame_length as f64 / sample_rate as f64;
        let sr = sample_rate as f64;
        let min_speech = non_negative(params.min_speech_ms, "min_speech_ms")?;
        let min_speech_frames = to_count(
            (min_speech / 1000.0 / frame_s - 1e-9).ceil(),
            FRAMES_CAP,
            "min_speech_ms",
        )?;
        let min_silence = non_negative(params.min_silence_ms, "min_silence_ms")?;
        let min_silence_frames = to_count(
            (min_silence / 1000.0 / frame_s - 1e-9).ceil(),
            FRAMES_CAP,
            "min_silence_ms",
        )?
        .max(1);
        let pre = non_negative(params.pre_roll_ms, "pre_roll_ms")?;
        let pre_roll = to_count(
            (pre * sr / 1000.0).round_ties_even(),
            ROLL_CAP,
            "pre_roll_ms",
        )?;
        let post = non_negative(params.post_roll_ms, "post_roll_ms")?;
        let post_roll = to_count(
            (post * sr / 1000.0).round_ties_even(),
            ROLL_CAP,
            "post_roll_ms",
        )?;
        let max_s = non_negative(params.max_segment_s, "max_segment_s")?;
        let max_frames = if max_s > 0.0 {
            to_count(
                (max_s / frame_s + 1e-9).trunc(),
                FRAMES_CAP,
                "max_segment_s",
            )?
        } else {
            0
        };
        if max_s > 0.0 && max_frames < 2 {
            return Err(KernelError::invalid(
                "max_segment_s",
                format!("at least two frames ({} s)", 2.0 * frame_s),
                format!("{max_s:?}"),
            ));
        }
        Ok(SegmentTracker {
            frame_length: frame_length as i64,
            sample_rate: sample_rate as i64,
            min_speech_frames: min_speech_frames.max(0),
            min_silence_frames,
            pre_roll,
            post_roll,
            max_frames,
            frame: 0,
            open_start: None,
            open_is_cut: false,
            last_speech: -1,
            energy: Vec::new(),
            held: VecDeque::new(),
            prev_end: 0,
            finished: false,
        })
    }

    /// Samples per decision frame.
    pub fn frame_length(&self) -> usize {
        self.frame_length as usize
    }

    /// Hz of the samples the frames cover.
    pub fn sample_rate(&self) -> usize {
        self.sample_rate as usize
    }

    /// Shortest kept segment, in frames.
    pub fn min_speech_frames(&self) -> i64 {
        self.min_speech_frames
    }

    /// Pause that ends a segment, in frames (at least 1).
    pub fn min_silence_frames(&self) -> i64 {
        self.min_silence_frames
    }

    /// Context added before a segment, in samples.
    pub fn pre_roll(&self) -> i64 {
        self.pre_roll
    }

    /// Context added after a segment, in samples.
    pub fn post_roll(&self) -> i64 {
        self.post_roll
    }

    /// Longest piece in frames (0 = no limit).
    pub fn max_frames(&self) -> i64 {
        self.max_frames
    }

    /// Frames pushed so far.
    pub fn frames_seen(&self) -> i64 {
        self.frame
    }

    /// Whether `finish` was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Back to a fresh tracker with the same parameters (keeps allocations).
    pub fn reset(&mut self) {
        self.frame = 0;
        self.open_start = None;
        self.open_is_cut = false;
        self.last_speech = -1;
        self.energy.clear();
        self.held.clear();
        self.prev_end = 0;
        self.finished = false;
    }

    /// Whether the energy of the next frame can matter, given its decision:
    /// only frames inside a piece are kept for placing cuts, and only when
    /// pieces are cut (`max_segment_s` > 0). A caller may skip computing the
    /// others (any value gives the same segments).
    pub fn needs_energy(&self, speech: bool) -> bool {
        self.max_frames != 0 && (speech || self.open_start.is_some())
    }

    /// Feeds per-frame decisions (nonzero = speech) and, optionally, one
    /// energy per frame (used to place cuts; 0.0 without); appends the
    /// segments now complete to `out`.
    pub fn push(
        &mut self,
        decisions: &[u8],
        energy: Option<&[f64]>,
        out: &mut Vec<Segment>,
    ) -> Result<(), KernelError> {
        if self.finished {
            return Err(KernelError::invalid(
                "push",
                "a tracker that has not finished",
                "a finished tracker",
            ));
        }
        if let Some(e) = energy {
            if e.len() != decisions.len() {
                return Err(KernelError::invalid(
                    "energy",
                    format!("{} values (one per decision)", decisions.len()),
                    e.len(),
                ));
            }
        }
        match energy {
            Some(e) => {
                for (&d, &en) in decisions.iter().zip(e) {
                    self.step(d != 0, en);
                }
            }
            None => {
                for &d in decisions {
                    self.step(d != 0, 0.0);
                }
            }
        }
        // The newest frame may be the zero-padded end of the signal, so only
        // samples before it are known to exist; later ends wait for finish().
        let covered = (self.frame - 1).max(0) * self.frame_length;
        self.release(covered, out);
        Ok(())
    }

    fn step(&mut self, speech: bool, energy: f64) {
        let i = self.frame;
        self.frame += 1;
        let Some(start) = self.open_start else {
            if speech {
                self.open_start = Some(i);
                self.open_is_cut = false;
                self.last_speech = i;
                self.energy.clear();
                self.energy.push(energy);
            }
            return;
        };
        self.energy.push(energy);
        if speech {
            self.last_speech = i;
        } else if i - self.last_speech >= self.min_silence_frames {
            self.close(false);
            return;
        }
        if speech && self.max_frames != 0 && i + 1 - start > self.max_frames {
            self.cut(start);
        }
    }

    /// Python's `max(range(n), key=lambda j: (-w[j], j))`: a later frame
    /// replaces the best when its negated energy is greater or equal (equal:
    /// the later index wins). A NaN compares neither equal nor greater, so a
    /// NaN frame never replaces the best and a NaN best is never replaced,
    /// as in Python.
    fn quietest(window: &[f64]) -> usize {
        let mut best = 0usize;
        for j in 1..window.len() {
            if -window[j] >= -window[best] {
                best = j;
            }
        }
        best
    }

    fn cut(&mut self, start: i64) {
        let lo = start + (self.max_frames + 1) / 2;
        let hi = start + self.max_frames;
        let window = &self.energy[(lo - start) as usize..=(hi - start) as usize];
        let c = lo + Self::quietest(window) as i64;
        self.emit(start, c, self.open_is_cut, true);
        self.energy.drain(..(c - start) as usize);
        self.open_start = Some(c);
        self.open_is_cut = true;
    }

    fn close(&mut self, cut_end: bool) {
        let Some(start) = self.open_start.take() else {
            return;
        };
        let end = self.last_speech + 1;
        self.energy.clear();
        if end <= start {
            return; // a cut remainder that never held speech
        }
        if !self.open_is_cut && end - start < self.min_speech_frames {
            return;
        }
        self.emit(start, end, self.open_is_cut, cut_end);
    }

    fn emit(&mut self, start_frame: i64, end_frame: i64, cut_start: bool, cut_end: bool) {
        let fl = self.frame_length;
        let start = start_frame * fl - if cut_start { 0 } else { self.pre_roll };
        let end = end_frame * fl + if cut_end { 0 } else { self.post_roll };
        let start = start.max(self.prev_end).max(0);
        if end > start {
            self.held.push_back((start, end));
            self.prev_end = end;
        }
    }

    fn release(&mut self, covered: i64, out: &mut Vec<Segment>) {
        while let Some(&(s, e)) = self.held.front() {
            if e > covered {
                break;
            }
            self.held.pop_front();
            out.push(self.segment(s, e));
        }
    }

    fn segment(&self, start: i64, end: i64) -> Segment {
        let sr = self.sample_rate as f64;
        Segment {
            start,
            end,
            start_s: start as f64 / sr,
            end_s: end as f64 / sr,
        }
    }

    /// The first sample a segment not returned yet may start at: samples
    /// before it are in no future segment.
    pub fn earliest_pending_start(&self) -> i64 {
        if let Some(&(s, _)) = self.held.front() {
            return s;
        }
        let fl = self.frame_length;
        let start = match self.open_start {
            Some(o) => o * fl - if self.open_is_cut { 0 } else { self.pre_roll },
            // A new candidate opens at the next frame at the earliest.
            None => self.frame * fl - self.pre_roll,
        };
        start.max(self.prev_end).max(0)
    }

    /// Closes the stream; appends the remaining segments to `out`, their ends
    /// clipped to `total_samples` (default: frames seen x frame length).
    /// A second call appends nothing.
    pub fn finish(&mut self, total_samples: Option<i64>, out: &mut Vec<Segment>) {
        if self.finished {
            return;
        }
        self.finished = true;
        if self.open_start.is_some() {
            self.close(false);
        }
        let total = total_samples.unwrap_or(self.frame * self.frame_length);
        while let Some((s, e)) = self.held.pop_front() {
            let e = e.min(total);
            if e > s {
                out.push(self.segment(s, e));
            }
        }
    }
}

/// Speech segments of a whole signal (push everything, then finish).
pub fn speech_segments(
    decisions: &[u8],
    energy: Option<&[f64]>,
    frame_length: usize,
    sample_rate: usize,
    total_samples: Option<i64>,
    params: &SegmentParams,
) -> Result<Vec<Segment>, KernelError> {
    let mut t = SegmentTracker::new(frame_length, sample_rate, params)?;
    let mut out = Vec::new();
    t.push(decisions, energy, &mut out)?;
    t.finish(total_samples, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests;
