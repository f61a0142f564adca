//! The VAD stage: `VADNode.process_chunk` and `VADNode.flush`
//! (`remotemedia/nodes/audio.py`, its `_VadStream`) step for step.
//!
//! Per chunk: the mono mix of the input (`AudioBuffer.to_mono`); for WebRTC
//! at a rate it does not take, float32 (convert kernel) resampled to 16 kHz
//! (a "high" quality stream resampler); the detector's int16 (WebRTC) or
//! float32 (energy) samples cut into frames, continuing the previous chunk's
//! partial frame; at 48 kHz each frame decided as 10 ms sub-frames, speech
//! when any is; each frame's RMS (sequential float64 sum of squares, as
//! `EnergyVad`) for the segment cuts; the segment tracker; segments rescaled
//! to the input rate; `keep_from`. The flush: the resampler's tail as one
//! more chunk, the zero-padded last frame, the tracker's finish at the
//! stream's length, and the whole stream's counts.

use super::audio::{extend_f32, extend_i16, mix_into, AudioRef, SampleBuf, Samples};
use super::spec::{Quality, VadBackend, VadConfig};
use super::stages::{new_engine, StageOut};
use crate::fvad::Fvad;
use crate::resample::Resampler;
use crate::segments::{Segment, SegmentTracker};
use crate::KernelError;

/// The rates the WebRTC VAD takes; others are resampled to 16 kHz first.
const WEBRTC_RATES: [u32; 4] = [8_000, 16_000, 32_000, 48_000];

/// What the flush of a VAD stage gives (`VADNode.flush()`'s info).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VadSummary {
    /// Every decision of the stream, the flush's included.
    pub decisions: Vec<u8>,
    /// The decisions made by the flush (resampler tail, padded frame).
    pub flushed_decisions: Vec<u8>,
    /// The segments completed by the flush.
    pub new_segments: Vec<Segment>,
    /// Every segment of the stream (when the stage keeps them: `segments`).
    pub segments: Option<Vec<Segment>>,
    pub speech_frames: u64,
    pub total_frames: u64,
    pub speech_ratio: f64,
    pub is_speech: bool,
}

/// The frame RMS of `EnergyVad` (and `vad::energy_vad_frames`):
/// sqrt(sequential float64 sum of squares / frame length).
fn frame_rms(frame: &[f32]) -> f64 {
    let mut acc = 0.0f64;
    for &x in frame {
        let v = x as f64;
        acc += v * v;
    }
    (acc / frame.len() as f64).sqrt()
}

/// `int(round(x))` of a float64: half to even.
fn round_half_even(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// One stream's state (`_VadStream`).
struct Stream {
    sample_rate: u32,
    det_rate: u32,
    frame_length: usize,
    /// 10 ms sub-frames per frame (48 kHz WebRTC) or 1.
    group: usize,
    total_samples: i64,
    resampler: Option<Resampler>,
    fvad: Option<Fvad>,
    tracker: SegmentTracker,
    all_decisions: Vec<u8>,
    all_segments: Vec<Segment>,
}

/// Buffers reused from chunk to chunk.
#[derive(Default)]
struct Scratch {
    mono: SampleBuf,
    det_in: Vec<f32>,
    det_out: Vec<f32>,
    frames: Framer,
}

/// The framing state and its per-chunk results.
#[derive(Default)]
struct Framer {
    /// The detector's samples not yet decided (the partial frame), then this chunk's.
    pending_i16: Vec<i16>,
    pending_f32: Vec<f32>,
    decisions: Vec<u8>,
    segments: Vec<Segment>,
}

pub struct VadStage {
    cfg: VadConfig,
    stream: Option<Stream>,
    /// The previous stream's resampler, detector and tracker, for reuse.
    spare: Option<Stream>,
    scratch: Scratch,
}

impl std::fmt::Debug for VadStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VadStage")
            .field("cfg", &self.cfg)
            .field("active", &self.stream.is_some())
            .finish()
    }
}

impl VadStage {
    pub fn new(cfg: VadConfig) -> Self {
        VadStage {
            cfg,
            stream: None,
            spare: None,
            scratch: Scratch::default(),
        }
    }

    fn new_stream(&mut self, sample_rate: u32) -> Result<Stream, KernelError> {
        let spare = self.spare.take();
        let (det_rate, resampled) = match self.cfg.backend {
            VadBackend::WebRtc { .. } if !WEBRTC_RATES.contains(&sample_rate) => (16_000, true),
            _ => (sample_rate, false),
        };
        let (mut old_resampler, mut old_fvad, mut old_tracker) = (None, None, None);
        if let Some(s) = spare {
            if s.sample_rate == sample_rate {
                old_resampler = s.resampler;
            }
            if s.det_rate == det_rate {
                old_fvad = s.fvad;
                old_tracker = Some(s.tracker);
            }
        }
        let resampler = if resampled {
            match old_resampler {
                Some(r) => Some(r), // reset by its flush or by reset()
                None => new_engine(sample_rate, det_rate, 1, Quality::High)?,
            }
        } else {
            None
        };
        let frame_ms = self.cfg.frame_ms as usize;
        let frame_length = (det_rate as usize * frame_ms / 1000).max(1);
        let (fvad, group) = match self.cfg.backend {
            VadBackend::WebRtc { mode } => {
                let fvad = match old_fvad {
                    Some(mut f) => {
                        f.reset();
                        f
                    }
                    None => Fvad::new(mode, det_rate as i32)?,
                };
                let group = if det_rate == 48_000 { frame_ms / 10 } else { 1 };
                (Some(fvad), group)
            }
            VadBackend::Energy { .. } => (None, 1),
        };
        let tracker = match old_tracker {
            Some(mut t) if t.frame_length() == frame_length => {
                t.reset();
                t
            }
            _ => SegmentTracker::new(frame_length, det_rate as usize, &self.cfg.segment)?,
        };
        self.scratch.frames.pending_i16.clear();
        self.scratch.frames.pending_f32.clear();
        Ok(Stream {
            sample_rate,
            det_rate,
            frame_length,
            group,
            total_samples: 0,
            resampler,
            fvad,
            tracker,
            all_decisions: Vec::new(),
            all_segments: Vec::new(),
        })
    }

    /// Appends the detector's samples `det`, decides every whole frame and
    /// pushes each to the tracker: the decisions into `sc.decisions`
    /// (cleared first), the segments completed into `sc.segments`
    /// (appended). Frame by frame pushes release the same segments by the end
    /// of the chunk as one push of the chunk's decisions (releasing depends
    /// only on the frames seen), and let the frame RMS be skipped where the
    /// tracker would not keep it (WebRTC only: the energy detector decides
    /// by it).
    fn decide(
        cfg: &VadConfig,
        st: &mut Stream,
        sc: &mut Framer,
        det: Samples<'_>,
    ) -> Result<(), KernelError> {
        sc.decisions.clear();
        extend_f32(det, &mut sc.pending_f32)?;
        if st.fvad.is_some() {
            extend_i16(det, &mut sc.pending_i16)?;
        }
        let fl = st.frame_length;
        let n = sc.pending_f32.len() / fl;
        for f in 0..n {
            let samples = &sc.pending_f32[f * fl..(f + 1) * fl];
            let (d, rms) = match (&mut st.fvad, cfg.backend) {
                (Some(vad), _) => {
                    let sub = fl / st.group;
                    let mut any = false;
                    for s in sc.pending_i16[f * fl..(f + 1) * fl].chunks_exact(sub) {
                        any |= vad.process(s)?; // every sub-frame moves the detector on
                    }
                    let rms = if st.tracker.needs_energy(any) {
                        frame_rms(samples)
                    } else {
                        0.0
                    };
                    (any, rms)
                }
                (None, VadBackend::Energy { threshold }) => {
                    let rms = frame_rms(samples);
                    (rms > threshold, rms)
                }
                (None, VadBackend::WebRtc { .. }) => {
                    return Err(KernelError::internal("internal: no WebRTC detector"))
                }
            };
            let d = d as u8;
            sc.decisions.push(d);
            st.all_decisions.push(d);
            st.tracker.push(&[d], Some(&[rms]), &mut sc.segments)?;
        }
        sc.pending_f32.drain(..n * fl);
        if st.fvad.is_some() {
            sc.pending_i16.drain(..n * fl);
        }
        Ok(())
    }

    /// `_rescale`: segments at the detector's rate -> the input's rate,
    /// clipped to the `total` input samples seen.
    fn rescale(st: &Stream, segments: &mut [Segment]) {
        if st.det_rate == st.sample_rate {
            return;
        }
        let (from, to) = (st.det_rate as f64, st.sample_rate as i64);
        let at =
            |x: i64| round_half_even((x as i128 * to as i128) as f64 / from).min(st.total_samples);
        for s in segments {
            let (start, end) = (at(s.start), at(s.end));
            *s = Segment {
                start,
                end,
                start_s: start as f64 / to as f64,
                end_s: end as f64 / to as f64,
            };
        }
    }

    /// `VADNode.process_chunk`: decisions, new segments and `keep_from` into `out`.
    pub fn process(
        &mut self,
        a: &AudioRef<'_>,
        src: super::stages::Src,
        out: &mut StageOut,
    ) -> Result<(), KernelError> {
        let mut st = match self.stream.take() {
            Some(st) if st.sample_rate != a.sample_rate => {
                let rate = st.sample_rate;
                self.stream = Some(st);
                return Err(KernelError::invalid(
                    "sample_rate",
                    format!("{rate} Hz (the stream's rate)"),
                    a.sample_rate,
                ));
            }
            Some(st) => st,
            None => self.new_stream(a.sample_rate)?,
        };
        let result = self.feed(&mut st, a, out);
        self.stream = Some(st);
        result?;
        out.pass(a, src);
        Ok(())
    }

    fn feed(
        &mut self,
        st: &mut Stream,
        a: &AudioRef<'_>,
        out: &mut StageOut,
    ) -> Result<(), KernelError> {
        let Scratch {
            mono: mono_buf,
            det_in,
            det_out,
            frames: fr,
        } = &mut self.scratch;
        st.total_samples += a.frames as i64;
        let mono = if a.channels == 1 {
            a.samples
        } else {
            mix_into(a, mono_buf)?;
            mono_buf.samples()
        };
        let det = match st.resampler.as_mut() {
            None => mono,
            Some(r) => {
                det_in.clear();
                extend_f32(mono, det_in)?;
                let n = r.process_len(det_in.len());
                det_out.clear();
                det_out.resize(n, 0.0);
                r.process(det_in, det_out)?;
                Samples::F32(det_out)
            }
        };
        fr.segments.clear();
        Self::decide(&self.cfg, st, fr, det)?;
        Self::rescale(st, &mut fr.segments);
        if self.cfg.segments {
            st.all_segments.extend_from_slice(&fr.segments);
        }
        out.decisions.clear();
        out.decisions.extend_from_slice(&fr.decisions);
        out.new_segments.clear();
        out.new_segments.extend_from_slice(&fr.segments);
        out.keep_from = Self::keep_from(st);
        Ok(())
    }

    /// First sample (at the input rate) a segment not returned yet may include.
    fn keep_from(st: &Stream) -> i64 {
        let start = st.tracker.earliest_pending_start();
        if st.det_rate == st.sample_rate {
            return start;
        }
        // One sample of margin for the rounding of rescale.
        let scaled = start as i128 * st.sample_rate as i128 / st.det_rate as i128;
        (scaled - 1).clamp(0, i64::MAX as i128) as i64
    }

    /// `VADNode.flush()`: None when no chunk was seen (the node returns `{}`).
    pub fn flush(&mut self) -> Result<Option<VadSummary>, KernelError> {
        let Some(mut st) = self.stream.take() else {
            return Ok(None);
        };
        let result = self.finish(&mut st);
        self.spare = Some(st);
        result.map(Some)
    }

    fn finish(&mut self, st: &mut Stream) -> Result<VadSummary, KernelError> {
        let cfg = self.cfg;
        let Scratch {
            det_out,
            frames: fr,
            ..
        } = &mut self.scratch;
        let mut flushed = Vec::new();
        let mut new = Vec::new();
        if let Some(r) = st.resampler.as_mut() {
            let n = r.flush_len();
            det_out.clear();
            det_out.resize(n, 0.0);
            let flushed_ok = r.flush(det_out);
            if flushed_ok.is_err() {
                r.reset();
            }
            flushed_ok?;
            fr.segments.clear();
            Self::decide(&cfg, st, fr, Samples::F32(det_out))?;
            flushed.extend_from_slice(&fr.decisions);
            new.extend_from_slice(&fr.segments);
        }
        // The zero-padded last frame (both framers hold the same samples).
        fr.decisions.clear();
        fr.segments.clear();
        if !fr.pending_f32.is_empty() {
            let fl = st.frame_length;
            fr.pending_f32.resize(fl, 0.0);
            if st.fvad.is_some() {
                fr.pending_i16.resize(fl, 0);
            }
            Self::decide(&cfg, st, fr, Samples::F32(&[]))?;
        }
        flushed.extend_from_slice(&fr.decisions);
        new.extend_from_slice(&fr.segments);
        let det_total = if st.resampler.is_some() {
            round_half_even(
                (st.total_samples as i128 * st.det_rate as i128) as f64 / st.sample_rate as f64,
            )
        } else {
            st.total_samples
        };
        st.tracker.finish(Some(det_total), &mut new);
        // Everything the flush completed is at the detector's rate until here.
        Self::rescale(st, &mut new);
        if cfg.segments {
            st.all_segments.extend_from_slice(&new);
        }
        let total = st.all_decisions.len() as u64;
        let speech = st.all_decisions.iter().filter(|&&d| d != 0).count() as u64;
        let ratio = if total > 0 {
            speech as f64 / total as f64
        } else {
            0.0
        };
        let summary = VadSummary {
            decisions: std::mem::take(&mut st.all_decisions),
            flushed_decisions: flushed,
            new_segments: new,
            segments: cfg.segments.then(|| std::mem::take(&mut st.all_segments)),
            speech_frames: speech,
            total_frames: total,
            speech_ratio: ratio,
            is_speech: ratio > cfg.speech_ratio_threshold,
        };
        st.all_segments.clear();
        fr.pending_f32.clear();
        fr.pending_i16.clear();
        Ok(summary)
    }

    /// Drops the stream (the next chunk starts a fresh detector).
    pub fn reset(&mut self) {
        if let Some(mut st) = self.stream.take() {
            if let Some(r) = st.resampler.as_mut() {
                r.reset();
            }
            self.spare = Some(st);
        }
        self.scratch.frames.pending_f32.clear();
        self.scratch.frames.pending_i16.clear();
    }
}
