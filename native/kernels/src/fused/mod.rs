//! Fused segments: a run of kernel stages executed as one unit, one call per
//! chunk, giving exactly the outputs of the unfused nodes called one after
//! the other (`process` / `process_chunk` per chunk, then `flush`).
//!
//! # The spec (JSON)
//!
//! ```json
//! {
//!   "stages": [
//!     {"id": "mix", "kind": "mono_mix"},
//!     {"id": "rs",  "kind": "resample", "params": {"target_sample_rate": 16000, "quality": "high"}},
//!     {"id": "vad", "kind": "webrtc_vad", "params": {"mode": 3, "frame_ms": 30, "segments": true}}
//!   ],
//!   "edges": [{"from": "mix", "to": "rs"}, {"from": "rs", "to": "vad"}],
//!   "input": "mix",
//!   "outputs": ["rs", "vad"]
//! }
//! ```
//!
//! Unknown fields are refused everywhere (the spec, stages, edges, params).
//! `params` may be left out (every parameter has its node's default).
//!
//! | kind | node | params (default) | takes | gives |
//! |---|---|---|---|---|
//! | `mono_mix` | `MonoMixNode` | none | audio | audio |
//! | `convert` | `FormatConverterNode` | `target_format` (`"f32"`; `i16`, `i32` and the node's aliases) | audio | audio (+ clipped count) |
//! | `resample` | `AudioResampleNode` (streaming) | `target_sample_rate` (16000), `quality` (`"high"`) | audio | audio |
//! | `webrtc_vad` | `VADNode(backend="webrtc")` | `mode` (3), `frame_ms` (30), `min_speech_ms` (250), `min_silence_ms` (300), `pre_roll_ms` (100), `post_roll_ms` (100), `max_segment_s` (30), `speech_ratio_threshold` (0.5), `segments` (false) | audio | VAD results |
//! | `energy_vad` | `VADNode(backend="energy")` | `energy_threshold` (0.02), `frame_ms` (30) and the segment rules above | audio | VAD results |
//! | `normalize` | `NormalizeFrameNode` | `mean`, `std` (ImageNet's; a number or one per channel) | video frames | tensors |
//!
//! Edges: `from`'s output feeds `to`. A stage takes at most one edge
//! (fan-out is allowed, fan-in is not); the `input` stage takes the
//! segment's input and no edge; every other stage takes one edge, so every
//! stage is reachable from the input. Connected stages must agree on what
//! flows (VAD results and tensors feed nothing). `outputs` names the stages
//! whose results the caller reads after each call.
//!
//! Refused with an `Invalid` error naming the stage (or the edge) before
//! anything runs: malformed JSON, an unknown field or kind, a bad parameter
//! (its name, what was expected, what was given), a duplicate id, an edge to
//! a stage that does not exist, a cycle (named by its path: `"a" -> "b" ->
//! "a"`), fan-in, a stage not fed, a kind mismatch.
//!
//! # Running
//!
//! [`FusedSegment::process`] runs one chunk through every stage in
//! topological order; [`FusedSegment::output`] then gives each stage's
//! result. State is carried across chunks (resampler, VAD, partial frames,
//! segments); buffers are reused, so a chunk allocates nothing but what a
//! state grows by (the VAD's list of decisions). [`FusedSegment::flush`]
//! ends the stream the way the Python engine does: in topological order,
//! each stage first processes what its feeding stage emitted during this
//! flush (as chunks), then flushes itself (stateful stages only: resample,
//! VADs), and its flush output goes downstream as one more chunk. The
//! results are in [`FusedSegment::flush_events`]. [`FusedSegment::reset`]
//! drops every stream. Per-stage wall time and sizes of the latest call are
//! in [`FusedSegment::metrics`].
//!
//! Errors are the crate's `KernelError`, their message starting with the
//! stage's id (`stage "rs": ...`); [`FusedSegment::failed_stage`] names it
//! too.
//!
//! One input the fused mono mix refuses although its node takes it: float
//! audio of 8 or more channels (the node then takes numpy's pairwise mean,
//! whose last bits a fused segment does not reproduce). The check runs on
//! every stage before any stage runs, so the segment is unchanged and the
//! caller can run the nodes unfused instead.

mod audio;
mod graph;
mod spec;
mod stages;
mod vad_stage;

#[cfg(test)]
mod tests;

use std::time::Instant;

pub use audio::{AudioRef, OwnedAudio, SampleBuf, SampleFormat, Samples};
pub use graph::Plan;
pub use spec::{PortKind, Quality, SegmentSpec, Stat, VadBackend, VadConfig};
pub use stages::Src;
pub use vad_stage::VadSummary;

pub use crate::mix::Layout;
use crate::segments::Segment;
use crate::KernelError;
use spec::{in_stage, StageConfig};
use stages::{mono_mix, ConvertStage, NormalizeStage, ResampleStage, StageOut};
use vad_stage::VadStage;

/// One stage's state.
#[derive(Debug)]
enum Stage {
    MonoMix,
    Convert(SampleFormat, ConvertStage),
    Resample(ResampleStage),
    Vad(Box<VadStage>),
    Normalize(NormalizeStage),
}

impl Stage {
    fn new(cfg: &StageConfig) -> Stage {
        match cfg {
            StageConfig::MonoMix => Stage::MonoMix,
            StageConfig::Convert { target } => Stage::Convert(*target, ConvertStage::default()),
            StageConfig::Resample {
                target_rate,
                quality,
            } => Stage::Resample(ResampleStage::new(*target_rate, *quality)),
            StageConfig::Vad(v) => Stage::Vad(Box::new(VadStage::new(*v))),
            StageConfig::Normalize { mean, std } => {
                Stage::Normalize(NormalizeStage::new(mean.clone(), std.clone()))
            }
        }
    }

    /// One chunk of audio (`src` says where `a` is, for pass-through outputs).
    fn process(
        &mut self,
        a: &AudioRef<'_>,
        src: Src,
        out: &mut StageOut,
    ) -> Result<(), KernelError> {
        match self {
            Stage::MonoMix => mono_mix(a, src, out),
            Stage::Convert(target, c) => c.process(*target, a, src, out),
            Stage::Resample(r) => r.process(a, out),
            Stage::Vad(v) => v.process(a, src, out),
            Stage::Normalize(_) => Err(KernelError::invalid(
                "input",
                "video frames (process_frame)",
                "audio",
            )),
        }
    }

    fn is_stateful(&self) -> bool {
        matches!(self, Stage::Resample(_) | Stage::Vad(_))
    }

    fn reset(&mut self) {
        match self {
            Stage::Resample(r) => r.reset(),
            Stage::Vad(v) => v.reset(),
            _ => {}
        }
    }
}

/// Wall time and sizes of one stage during the latest call (`process`,
/// `process_frame` or `flush`; a flush may run a stage several times: the sums).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageMetrics {
    /// Runs of the stage in the call (0: it did not run).
    pub calls: u32,
    pub wall_us: f64,
    pub in_samples: u64,
    pub in_bytes: u64,
    pub out_samples: u64,
    pub out_bytes: u64,
}

/// Where a stage's audio output is, for the caller to hand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioAt {
    /// The segment's input of this call, passed through.
    Input,
    /// The own buffer of stage k (see [`FusedSegment::stage_audio`]).
    Stage(usize),
}

/// A stage's result for the latest chunk.
#[derive(Clone, Copy, Debug)]
pub enum StageResult<'a> {
    /// mono_mix, resample: the audio and its rate.
    Audio { at: AudioAt, sample_rate: u32 },
    /// convert: the audio and the samples clipped in this chunk.
    Converted {
        at: AudioAt,
        sample_rate: u32,
        clipped: u64,
    },
    /// A VAD: its input passed through, plus what the chunk decided.
    Vad {
        at: AudioAt,
        sample_rate: u32,
        decisions: &'a [u8],
        new_segments: &'a [Segment],
        keep_from: i64,
    },
    /// normalize: float32 (channels, height, width).
    Tensor { data: &'a [f32], shape: [usize; 3] },
}

/// What one stage emitted during a flush.
#[derive(Clone, Debug, PartialEq)]
pub enum FlushOutput {
    /// mono_mix or resample output (a chunk fed by the flush, or the
    /// resampler's own flush).
    Audio(OwnedAudio),
    /// convert output of a chunk fed by the flush, with its clipped count.
    Converted(OwnedAudio, u64),
    /// A VAD's output for a chunk fed by the flush.
    VadChunk {
        audio: OwnedAudio,
        decisions: Vec<u8>,
        new_segments: Vec<Segment>,
        keep_from: i64,
    },
    /// A VAD's own flush (`VADNode.flush()`'s info).
    VadFinal(VadSummary),
    /// The flush of a VAD that saw no chunk (`VADNode.flush()` gives `{}`).
    VadNotStarted,
}

impl PartialEq for OwnedAudio {
    fn eq(&self, other: &Self) -> bool {
        let same = match (&self.buf, &other.buf) {
            (SampleBuf::I16(a), SampleBuf::I16(b)) => a == b,
            (SampleBuf::I32(a), SampleBuf::I32(b)) => a == b,
            (SampleBuf::F32(a), SampleBuf::F32(b)) => a
                .iter()
                .map(|v| v.to_bits())
                .eq(b.iter().map(|v| v.to_bits())),
            (SampleBuf::F64(a), SampleBuf::F64(b)) => a
                .iter()
                .map(|v| v.to_bits())
                .eq(b.iter().map(|v| v.to_bits())),
            _ => false,
        };
        same && self.channels == other.channels
            && self.frames == other.frames
            && self.sample_rate == other.sample_rate
    }
}

/// One flush output and the stage that emitted it.
#[derive(Clone, Debug, PartialEq)]
pub struct FlushEvent {
    pub stage: usize,
    pub output: FlushOutput,
}

impl FlushEvent {
    fn audio(&self) -> Option<&OwnedAudio> {
        match &self.output {
            FlushOutput::Audio(a) | FlushOutput::Converted(a, _) => Some(a),
            _ => None,
        }
    }
}

/// A fused segment (see the module doc).
#[derive(Debug)]
pub struct FusedSegment {
    plan: Plan,
    stages: Vec<Stage>,
    outs: Vec<StageOut>,
    metrics: Vec<StageMetrics>,
    events: Vec<FlushEvent>,
    failed: Option<usize>,
    /// Scratch of `precheck`: each stage's output (format, channels).
    shapes: Vec<(SampleFormat, usize)>,
}

impl FusedSegment {
    /// Parses, validates and orders the JSON spec.
    pub fn from_json(json: &str) -> Result<Self, KernelError> {
        let spec = spec::parse(json)?;
        Self::from_spec(&spec)
    }

    /// Validates and orders a parsed spec.
    pub fn from_spec(spec: &SegmentSpec) -> Result<Self, KernelError> {
        let plan = graph::plan(spec)?;
        let n = plan.ids.len();
        Ok(FusedSegment {
            stages: plan.configs.iter().map(Stage::new).collect(),
            outs: (0..n).map(|_| StageOut::default()).collect(),
            metrics: vec![StageMetrics::default(); n],
            events: Vec::new(),
            failed: None,
            shapes: Vec::with_capacity(n),
            plan,
        })
    }

    /// Stage ids, by stage index.
    pub fn ids(&self) -> &[String] {
        &self.plan.ids
    }

    /// Stage indices in the order they run.
    pub fn order(&self) -> &[usize] {
        &self.plan.order
    }

    /// The stages whose results the caller reads, by index.
    pub fn outputs(&self) -> &[usize] {
        &self.plan.outputs
    }

    /// The index of stage `id`.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.plan.ids.iter().position(|s| s == id)
    }

    /// What the segment's input is (audio, or video frames for a normalize stage).
    pub fn input_kind(&self) -> PortKind {
        self.plan.configs[self.plan.input].input_kind()
    }

    /// The stage kind of stage `i` (`"resample"`, ...).
    pub fn kind(&self, i: usize) -> &'static str {
        self.plan.configs[i].kind_name()
    }

    /// The stage whose error the latest call returned.
    pub fn failed_stage(&self) -> Option<usize> {
        self.failed
    }

    /// Per-stage metrics of the latest call, by stage index.
    pub fn metrics(&self) -> &[StageMetrics] {
        &self.metrics
    }

    fn fail(&mut self, stage: usize, e: KernelError) -> KernelError {
        self.failed = Some(stage);
        in_stage(&self.plan.ids[stage], e)
    }

    fn begin(&mut self) {
        self.failed = None;
        for m in &mut self.metrics {
            *m = StageMetrics::default();
        }
    }

    /// The float-mix check of every mono mix (a stage's or a VAD's), from
    /// the input's format and channels through the stages, before any runs.
    fn precheck(&mut self, format: SampleFormat, channels: usize) -> Result<(), KernelError> {
        let mut shape = std::mem::take(&mut self.shapes);
        shape.clear();
        shape.resize(self.plan.ids.len(), (format, channels));
        let result = self.precheck_into(&mut shape, format, channels);
        self.shapes = shape;
        result
    }

    fn precheck_into(
        &mut self,
        shape: &mut [(SampleFormat, usize)],
        format: SampleFormat,
        channels: usize,
    ) -> Result<(), KernelError> {
        for k in 0..self.plan.order.len() {
            let s = self.plan.order[k];
            let (f, c) = match self.plan.parent[s] {
                None => (format, channels),
                Some(p) => shape[p],
            };
            let (out, mixes) = match &self.plan.configs[s] {
                StageConfig::MonoMix => ((f, 1), true),
                StageConfig::Convert { target } => ((*target, c), false),
                StageConfig::Resample { .. } => ((SampleFormat::F32, c), false),
                StageConfig::Vad(_) => ((f, c), true),
                StageConfig::Normalize { .. } => ((f, c), false),
            };
            if mixes && c > 1 {
                if let Err(e) = audio::check_mixable(f, c) {
                    return Err(self.fail(s, e));
                }
            }
            shape[s] = out;
        }
        Ok(())
    }

    /// Where stage `s`'s audio output is: its own buffer or what it passed on.
    fn audio_at(&self, s: usize) -> Src {
        match self.outs[s].src {
            Src::Own => Src::Stage(s),
            other => other,
        }
    }

    /// The audio in stage `k`'s own buffer (planar).
    pub fn stage_audio(&self, k: usize) -> AudioRef<'_> {
        self.outs[k].audio()
    }

    fn out_size(&self, s: usize, input: &AudioRef<'_>) -> (u64, u64) {
        let o = &self.outs[s];
        if let Stage::Normalize(_) = self.stages[s] {
            let n = o.tensor.len() as u64;
            return (n, 4 * n);
        }
        let format = match o.src {
            Src::Own => o.buf.samples().format(),
            _ => input.format(), // passed through
        };
        let n = (o.channels * o.frames) as u64;
        (n, n * format.itemsize() as u64)
    }

    /// Runs stage `s` on `a` (found at `src`), timing it.
    fn run_stage(&mut self, s: usize, a: &AudioRef<'_>, src: Src) -> Result<(), KernelError> {
        let mut out = std::mem::take(&mut self.outs[s]);
        let t0 = Instant::now();
        let result = self.stages[s].process(a, src, &mut out);
        let wall = t0.elapsed();
        self.outs[s] = out;
        let (out_samples, out_bytes) = if result.is_ok() {
            self.out_size(s, a)
        } else {
            (0, 0)
        };
        let m = &mut self.metrics[s];
        m.calls += 1;
        m.wall_us += wall.as_secs_f64() * 1e6;
        m.in_samples += a.len() as u64;
        m.in_bytes += (a.len() * a.format().itemsize()) as u64;
        m.out_samples += out_samples;
        m.out_bytes += out_bytes;
        result.map_err(|e| self.fail(s, e))
    }

    /// Runs one chunk of audio through every stage.
    ///
    /// After it, [`output`](Self::output) gives each stage's result. An
    /// error names the stage; the stages before it have moved on (as unfused
    /// nodes would have), except for the float-mix check, which runs first.
    pub fn process(&mut self, input: AudioRef<'_>) -> Result<(), KernelError> {
        self.begin();
        if self.input_kind() != PortKind::Audio {
            return Err(KernelError::invalid(
                "input",
                "video frames (this segment starts with a normalize stage)",
                "audio",
            ));
        }
        self.precheck(input.format(), input.channels)?;
        for k in 0..self.plan.order.len() {
            let s = self.plan.order[k];
            let src = match self.plan.parent[s] {
                None => Src::Input,
                Some(p) => self.audio_at(p),
            };
            let ran = match src {
                Src::Stage(j) => {
                    // Stage j's output is read while stage s runs: take it out
                    // of the table for the call (no copy), then put it back.
                    let o = std::mem::take(&mut self.outs[j]);
                    let ran = self.run_stage(s, &o.audio(), src);
                    self.outs[j] = o;
                    ran
                }
                _ => self.run_stage(s, &input, Src::Input),
            };
            ran?;
        }
        Ok(())
    }

    /// Runs one video frame (uint8 (height, width, channels), C order)
    /// through a segment whose input is a normalize stage.
    pub fn process_frame(
        &mut self,
        frame: &[u8],
        height: usize,
        width: usize,
        channels: usize,
    ) -> Result<(), KernelError> {
        self.begin();
        let s = self.plan.input;
        let Stage::Normalize(stage) = &mut self.stages[s] else {
            return Err(KernelError::invalid(
                "input",
                "audio (process)",
                "video frames",
            ));
        };
        let t0 = Instant::now();
        let result = stage.process(frame, height, width, channels, &mut self.outs[s]);
        let m = &mut self.metrics[s];
        m.calls = 1;
        m.wall_us = t0.elapsed().as_secs_f64() * 1e6;
        m.in_samples = frame.len() as u64;
        m.in_bytes = frame.len() as u64;
        if result.is_ok() {
            m.out_samples = frame.len() as u64;
            m.out_bytes = 4 * frame.len() as u64;
        }
        result.map_err(|e| self.fail(s, e))
    }

    /// Stage `s`'s result for the latest chunk.
    pub fn output(&self, s: usize) -> StageResult<'_> {
        let o = &self.outs[s];
        let at = match self.audio_at(s) {
            Src::Stage(k) => AudioAt::Stage(k),
            _ => AudioAt::Input,
        };
        match &self.stages[s] {
            Stage::MonoMix | Stage::Resample(_) => StageResult::Audio {
                at,
                sample_rate: o.sample_rate,
            },
            Stage::Convert(..) => StageResult::Converted {
                at,
                sample_rate: o.sample_rate,
                clipped: o.clipped,
            },
            Stage::Vad(_) => StageResult::Vad {
                at,
                sample_rate: o.sample_rate,
                decisions: &o.decisions,
                new_segments: &o.new_segments,
                keep_from: o.keep_from,
            },
            Stage::Normalize(_) => StageResult::Tensor {
                data: &o.tensor,
                shape: o.tensor_shape,
            },
        }
    }

    /// The result of stage `s` after running it on a flush chunk `a`, copied.
    fn snapshot(&self, s: usize, a: &AudioRef<'_>) -> FlushOutput {
        let o = &self.outs[s];
        let audio = match o.src {
            Src::Own => OwnedAudio::copy_of(&self.stage_audio(s)),
            _ => OwnedAudio::copy_of(a),
        };
        match &self.stages[s] {
            Stage::Convert(..) => FlushOutput::Converted(audio, o.clipped),
            Stage::Vad(_) => FlushOutput::VadChunk {
                audio,
                decisions: o.decisions.clone(),
                new_segments: o.new_segments.clone(),
                keep_from: o.keep_from,
            },
            _ => FlushOutput::Audio(audio),
        }
    }

    /// Ends the stream (see the module doc for the order); the outputs are
    /// then in [`flush_events`](Self::flush_events). Every stage is ready
    /// for a new stream afterwards.
    pub fn flush(&mut self) -> Result<(), KernelError> {
        self.begin();
        self.events.clear();
        let n = self.plan.ids.len();
        // Event indices fed to each stage during this flush.
        let mut fed: Vec<Vec<usize>> = vec![Vec::new(); n];
        for k in 0..self.plan.order.len() {
            let s = self.plan.order[k];
            for i in std::mem::take(&mut fed[s]) {
                let audio = self.events[i]
                    .audio()
                    .cloned()
                    .ok_or_else(|| KernelError::internal("internal: a flush fed no audio"))?;
                let a = audio.audio();
                self.run_stage(s, &a, Src::Input)?;
                let output = self.snapshot(s, &a);
                self.push_event(s, output, &mut fed);
            }
            if self.stages[s].is_stateful() {
                let t0 = Instant::now();
                let mut out = std::mem::take(&mut self.outs[s]);
                let result = match &mut self.stages[s] {
                    Stage::Resample(r) => r
                        .flush(&mut out)
                        .map(|()| FlushOutput::Audio(OwnedAudio::copy_of(&out.audio()))),
                    Stage::Vad(v) => v.flush().map(|summary| match summary {
                        Some(s) => FlushOutput::VadFinal(s),
                        None => FlushOutput::VadNotStarted,
                    }),
                    _ => unreachable!("stateless stages have no flush"),
                };
                self.outs[s] = out;
                let m = &mut self.metrics[s];
                m.calls += 1;
                m.wall_us += t0.elapsed().as_secs_f64() * 1e6;
                let output = result.map_err(|e| self.fail(s, e))?;
                if let FlushOutput::Audio(a) = &output {
                    let m = &mut self.metrics[s];
                    let samples = (a.channels * a.frames) as u64;
                    m.out_samples += samples;
                    m.out_bytes += 4 * samples;
                }
                self.push_event(s, output, &mut fed);
            }
        }
        Ok(())
    }

    fn push_event(&mut self, stage: usize, output: FlushOutput, fed: &mut [Vec<usize>]) {
        let i = self.events.len();
        let feeds = matches!(output, FlushOutput::Audio(_) | FlushOutput::Converted(..));
        self.events.push(FlushEvent { stage, output });
        if feeds {
            for &c in &self.plan.children[stage] {
                fed[c].push(i);
            }
        }
    }

    /// What the latest [`flush`](Self::flush) emitted, in order.
    pub fn flush_events(&self) -> &[FlushEvent] {
        &self.events
    }

    /// Drops every stream (the next chunk starts fresh ones).
    pub fn reset(&mut self) {
        for s in &mut self.stages {
            s.reset();
        }
        self.events.clear();
        self.failed = None;
    }
}
