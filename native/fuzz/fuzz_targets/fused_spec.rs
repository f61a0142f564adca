//! Fused segments from any spec: malformed JSON, unknown fields and kinds,
//! bad parameters, dangling edges, cycles, fan-in, kind mismatches. Never a
//! panic: a bad spec is an `Invalid` error. A spec that builds then runs on
//! any audio (format, channels, layout, rate, values) without panicking,
//! errors being `Invalid` (never `Internal`), and gives the same outputs
//! (arrays, clipped counts, decisions, segments, flush info) whether the
//! signal comes in one chunk or several; after a reset, the same again.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use remotemedia_kernels::fused::{
    AudioAt, AudioRef, FlushOutput, FusedSegment, Layout, PortKind, Samples, StageResult,
};
use remotemedia_kernels::segments::Segment;
use remotemedia_kernels::KernelError;
use serde_json::{json, Map, Value};

const KINDS: [&str; 7] = [
    "mono_mix",
    "convert",
    "resample",
    "webrtc_vad",
    "energy_vad",
    "normalize",
    "fft",
];
const PARAMS: [&str; 16] = [
    "target_format",
    "target_sample_rate",
    "quality",
    "mode",
    "frame_ms",
    "energy_threshold",
    "min_speech_ms",
    "min_silence_ms",
    "pre_roll_ms",
    "post_roll_ms",
    "max_segment_s",
    "speech_ratio_threshold",
    "segments",
    "mean",
    "std",
    "bogus",
];
const STRINGS: [&str; 9] = [
    "f32",
    "i16",
    "int32",
    "u8",
    "low",
    "high",
    "very_high",
    "best",
    "",
];
const RATES: [u32; 6] = [8_000, 16_000, 22_050, 44_100, 48_000, 12_000];

#[derive(Arbitrary, Debug)]
enum Val {
    Int(i16),
    BigInt(i64),
    Float(f64),
    Str(u8),
    Bool(bool),
    List(Vec<f32>),
    Null,
}

impl Val {
    fn json(&self) -> Value {
        match self {
            Val::Int(v) => json!(v),
            Val::BigInt(v) => json!(v),
            Val::Float(v) => json!(v), // NaN and inf become null
            Val::Str(i) => json!(STRINGS[*i as usize % STRINGS.len()]),
            Val::Bool(b) => json!(b),
            Val::List(v) => json!(v),
            Val::Null => Value::Null,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct StageCase {
    kind: u8,
    params: Vec<(u8, Val)>,
    /// Replaces the generated id (duplicates and "" included).
    id: Option<String>,
    params_not_object: bool,
}

#[derive(Arbitrary, Debug)]
struct SpecCase {
    stages: Vec<StageCase>,
    /// Indices into the stages; one past the end names a stage that does not exist.
    edges: Vec<(u8, u8)>,
    input: u8,
    outputs: Vec<u8>,
    unknown_field: bool,
    drop_input: bool,
}

#[derive(Arbitrary, Debug)]
enum Format {
    I16,
    I32,
    F32,
    F64,
}

#[derive(Arbitrary, Debug)]
struct RunCase {
    rate: u8,
    raw_rate: Option<u32>,
    channels: u8,
    format: Format,
    interleaved: bool,
    /// Raw values (NaN, inf, huge) instead of audio-like ones.
    raw_values: bool,
    gain: u8,
    /// Frames of synthetic audio (bursts of noisy tones between pauses).
    length: u16,
    seed: u32,
    /// Raw int16 samples instead, when not empty.
    samples: Vec<i16>,
    raw: Vec<f32>,
    cuts: Vec<u16>,
    frame: (u8, u8, u8),
}

#[derive(Arbitrary, Debug)]
enum Input {
    Text(String),
    Spec(SpecCase, RunCase),
}

fn spec_json(case: &SpecCase) -> String {
    let n = case.stages.len();
    let id = |i: usize| format!("s{i}");
    let mut stages = Vec::new();
    for (i, s) in case.stages.iter().enumerate() {
        let mut params = Map::new();
        for (k, v) in &s.params {
            params.insert(PARAMS[*k as usize % PARAMS.len()].to_string(), v.json());
        }
        let mut stage = json!({
            "id": s.id.clone().unwrap_or_else(|| id(i)),
            "kind": KINDS[s.kind as usize % KINDS.len()],
            "params": if s.params_not_object { json!([1]) } else { Value::Object(params) },
        });
        if case.unknown_field && i == 0 {
            stage["port"] = json!(0);
        }
        stages.push(stage);
    }
    let name = |i: u8| id(i as usize % (n + 1));
    let edges: Vec<Value> = case
        .edges
        .iter()
        .map(|&(a, b)| json!({"from": name(a), "to": name(b)}))
        .collect();
    let mut spec = json!({
        "stages": stages,
        "edges": edges,
        "input": name(case.input),
        "outputs": case.outputs.iter().map(|&o| name(o)).collect::<Vec<_>>(),
    });
    if case.drop_input {
        spec.as_object_mut().unwrap().remove("input");
    }
    spec.to_string()
}

/// A VAD's flush info: speech frames, total frames, is_speech, every decision.
type Final = (u64, u64, bool, Vec<u8>);
/// A segment: start, end, and the bits of start_s and end_s.
type Seg = (i64, i64, u64, u64);

/// Everything a stream gave, per output stage.
#[derive(Debug, Default, PartialEq)]
struct Collected {
    /// Per stage, per channel: the sample bits (with a format tag).
    audio: Vec<Vec<Vec<u64>>>,
    clipped: Vec<u64>,
    decisions: Vec<Vec<u8>>,
    segments: Vec<Vec<Seg>>,
    finals: Vec<Vec<Final>>,
}

impl Collected {
    /// Stage `s`'s VAD decisions and segments, appended.
    fn vad(&mut self, s: usize, decisions: &[u8], segments: &[Segment]) {
        self.decisions[s].extend_from_slice(decisions);
        self.segments[s].extend(
            segments
                .iter()
                .map(|x| (x.start, x.end, x.start_s.to_bits(), x.end_s.to_bits())),
        );
    }
}

fn bits(s: Samples<'_>) -> Vec<u64> {
    match s {
        Samples::I16(v) => v.iter().map(|&x| x as i64 as u64).collect(),
        Samples::I32(v) => v.iter().map(|&x| x as i64 as u64 | 1 << 62).collect(),
        Samples::F32(v) => v.iter().map(|&x| x.to_bits() as u64 | 2 << 62).collect(),
        Samples::F64(v) => v.iter().map(|&x| x.to_bits()).collect(),
    }
}

impl Collected {
    /// Appends each channel of `a` to stage `s`'s channels.
    fn push_audio(&mut self, s: usize, a: &AudioRef<'_>) {
        let all = bits(a.samples);
        let chans = &mut self.audio[s];
        if chans.len() < a.channels {
            chans.resize(a.channels, Vec::new());
        }
        for (c, out) in chans.iter_mut().enumerate().take(a.channels) {
            match a.layout {
                Layout::Planar => out.extend_from_slice(&all[c * a.frames..(c + 1) * a.frames]),
                Layout::Interleaved => out.extend(all.iter().skip(c).step_by(a.channels).copied()),
            }
        }
    }
}

fn check(e: KernelError) -> KernelError {
    assert!(
        matches!(e, KernelError::Invalid { .. } | KernelError::Spec(_)),
        "{e:?}"
    );
    e
}

/// Runs `chunks` then a flush; None when the segment refused something.
fn stream(seg: &mut FusedSegment, chunks: &[AudioRef<'_>]) -> Option<Collected> {
    let n = seg.ids().len();
    let mut got = Collected {
        audio: vec![Vec::new(); n],
        clipped: vec![0; n],
        decisions: vec![Vec::new(); n],
        segments: vec![Vec::new(); n],
        finals: vec![Vec::new(); n],
    };
    let outputs = seg.outputs().to_vec();
    for a in chunks {
        if let Err(e) = seg.process(*a) {
            check(e);
            return None;
        }
        for &s in &outputs {
            let audio = match seg.output(s) {
                StageResult::Audio { at, .. }
                | StageResult::Converted { at, .. }
                | StageResult::Vad { at, .. } => match at {
                    AudioAt::Input => *a,
                    AudioAt::Stage(k) => seg.stage_audio(k),
                },
                StageResult::Tensor { .. } => panic!("a tensor from audio"),
            };
            match seg.output(s) {
                StageResult::Audio { .. } => got.push_audio(s, &audio),
                StageResult::Converted { clipped, .. } => {
                    got.push_audio(s, &audio);
                    got.clipped[s] += clipped;
                }
                StageResult::Vad {
                    decisions,
                    new_segments,
                    keep_from,
                    ..
                } => {
                    got.vad(s, decisions, new_segments);
                    assert!(keep_from >= 0);
                }
                StageResult::Tensor { .. } => panic!("a tensor from audio"),
            }
        }
    }
    if let Err(e) = seg.flush() {
        check(e);
        return None;
    }
    for e in seg.flush_events() {
        let s = e.stage;
        if !outputs.contains(&s) {
            continue;
        }
        match &e.output {
            FlushOutput::Audio(a) => got.push_audio(s, &a.audio()),
            FlushOutput::Converted(a, c) => {
                got.push_audio(s, &a.audio());
                got.clipped[s] += c;
            }
            FlushOutput::VadChunk {
                decisions,
                new_segments,
                ..
            } => {
                got.vad(s, decisions, new_segments);
            }
            FlushOutput::VadFinal(v) => {
                got.vad(s, &v.flushed_decisions, &v.new_segments);
                assert_eq!(v.decisions, got.decisions[s]);
                assert_eq!(v.total_frames, v.decisions.len() as u64);
                got.finals[s].push((
                    v.speech_frames,
                    v.total_frames,
                    v.is_speech,
                    v.decisions.clone(),
                ));
            }
            FlushOutput::VadNotStarted => got.finals[s].push((0, 0, false, Vec::new())),
        }
    }
    Some(got)
}

/// The run's audio, planar or interleaved, in the chosen format.
enum Owned {
    I16(Vec<i16>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Owned {
    fn samples(&self) -> Samples<'_> {
        match self {
            Owned::I16(v) => Samples::I16(v),
            Owned::I32(v) => Samples::I32(v),
            Owned::F32(v) => Samples::F32(v),
            Owned::F64(v) => Samples::F64(v),
        }
    }
}

/// `frames` x `channels` interleaved int16: bursts of noisy tones (about
/// 0.2 s) and pauses, so that detectors find speech and segments end.
fn synthetic(frames: usize, channels: usize, seed: u32) -> Vec<i16> {
    let mut state = seed as u64 | 1;
    (0..frames * channels)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let f = i / channels;
            let noise = ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5;
            let on = (f / 3_000) % 3 != 2;
            let tone = (f as f64 * 0.07 * (1.0 + (i % channels) as f64)).sin();
            let v = if on {
                9_000.0 * tone + 6_000.0 * noise
            } else {
                30.0 * noise
            };
            v as i16
        })
        .collect()
}

fn audio(run: &RunCase, channels: usize) -> Owned {
    let made;
    let src: &[i16] = if run.samples.is_empty() {
        made = synthetic(run.length as usize % 24_000, channels, run.seed);
        &made
    } else {
        &run.samples
    };
    let frames = src.len() / channels;
    let x = &src[..frames * channels];
    let gain = 1.0 + (run.gain % 4) as f64;
    if run.raw_values && !run.raw.is_empty() {
        let v: Vec<f32> = (0..frames * channels)
            .map(|i| run.raw[i % run.raw.len()])
            .collect();
        return match run.format {
            Format::F64 => Owned::F64(v.iter().map(|&x| x as f64).collect()),
            _ => Owned::F32(v),
        };
    }
    match run.format {
        Format::I16 => Owned::I16(x.to_vec()),
        Format::I32 => Owned::I32(x.iter().map(|&v| (v as i32) << 16 | 0x1234).collect()),
        Format::F32 => Owned::F32(
            x.iter()
                .map(|&v| (v as f64 / 32768.0 * gain) as f32)
                .collect(),
        ),
        Format::F64 => Owned::F64(x.iter().map(|&v| v as f64 / 32768.0 * gain).collect()),
    }
}

/// Sub-slices of `s` between the cut frames.
fn split<'a>(s: Samples<'a>, channels: usize, cuts: &[usize]) -> Vec<Samples<'a>> {
    macro_rules! cut {
        ($v:expr, $variant:ident) => {{
            let mut out = Vec::new();
            let mut prev = 0;
            for &c in cuts.iter().chain([$v.len() / channels].iter()) {
                out.push(Samples::$variant(&$v[prev * channels..c * channels]));
                prev = c;
            }
            out
        }};
    }
    match s {
        Samples::I16(v) => cut!(v, I16),
        Samples::I32(v) => cut!(v, I32),
        Samples::F32(v) => cut!(v, F32),
        Samples::F64(v) => cut!(v, F64),
    }
}

fuzz_target!(|input: Input| {
    let (text, run) = match &input {
        Input::Text(t) => (t.clone(), None),
        Input::Spec(spec, run) => (spec_json(spec), Some(run)),
    };
    let mut seg = match FusedSegment::from_json(&text) {
        Ok(seg) => seg,
        Err(e) => {
            check(e);
            return;
        }
    };
    let Some(run) = run else { return };
    if seg.input_kind() == PortKind::Video {
        let (h, w, c) = (
            run.frame.0 as usize % 9,
            run.frame.1 as usize % 9,
            1 + run.frame.2 as usize % 4,
        );
        let px: Vec<u8> = (0..h * w * c).map(|i| (i * 37 % 256) as u8).collect();
        if let Err(e) = seg.process_frame(&px, h, w, c) {
            check(e);
        }
        if let Err(e) = seg.process_frame(&px, h + 1, w, c) {
            check(e);
        }
        return;
    }
    let rate = run
        .raw_rate
        .map(|r| 1 + r % 400_000)
        .unwrap_or(RATES[run.rate as usize % RATES.len()]);
    let channels = 1 + run.channels as usize % 9;
    let planar = audio(run, channels);
    let layout = if run.interleaved {
        Layout::Interleaved
    } else {
        Layout::Planar
    };
    let frames = planar.samples().len() / channels;
    // Cut points in frames, increasing, within the signal (interleaved
    // chunks are runs of frames; planar ones are cut per chunk below).
    let mut cuts: Vec<usize> = run
        .cuts
        .iter()
        .map(|&c| c as usize % (frames + 1))
        .collect();
    cuts.sort_unstable();
    let whole = [AudioRef::new(planar.samples(), channels, layout, rate).unwrap()];
    let pieces: Vec<Owned>;
    let chunks: Vec<AudioRef<'_>> = match layout {
        Layout::Interleaved => split(planar.samples(), channels, &cuts)
            .into_iter()
            .map(|s| AudioRef::new(s, channels, layout, rate).unwrap())
            .collect(),
        Layout::Planar => {
            // Planar chunks: copy each channel's part.
            let mut bounds = vec![0];
            bounds.extend(&cuts);
            bounds.push(frames);
            pieces = bounds
                .windows(2)
                .map(|b| {
                    macro_rules! part {
                        ($v:expr, $variant:ident) => {
                            Owned::$variant(
                                (0..channels)
                                    .flat_map(|c| {
                                        $v[c * frames + b[0]..c * frames + b[1]].iter().copied()
                                    })
                                    .collect(),
                            )
                        };
                    }
                    match &planar {
                        Owned::I16(v) => part!(v, I16),
                        Owned::I32(v) => part!(v, I32),
                        Owned::F32(v) => part!(v, F32),
                        Owned::F64(v) => part!(v, F64),
                    }
                })
                .collect();
            pieces
                .iter()
                .map(|p| AudioRef::new(p.samples(), channels, layout, rate).unwrap())
                .collect()
        }
    };
    let one = stream(&mut seg, &whole);
    let mut fresh = FusedSegment::from_json(&text).unwrap();
    let many = stream(&mut fresh, &chunks);
    if let Some(one) = one {
        let many = many.expect("chunked failed where whole did not");
        for (s, (a, b)) in many.audio.iter().zip(&one.audio).enumerate() {
            for (c, (a, b)) in a.iter().zip(b).enumerate() {
                let first = a.iter().zip(b).position(|(x, y)| x != y);
                assert!(
                    a.len() == b.len() && first.is_none(),
                    "stage {s} channel {c}: chunked audio ({} values) != whole ({} values), first difference at {first:?}",
                    a.len(),
                    b.len()
                );
            }
        }
        assert_eq!(many, one, "chunked != whole");
        seg.reset();
        assert_eq!(
            stream(&mut seg, &chunks).as_ref(),
            Some(&one),
            "after reset"
        );
    }
});
