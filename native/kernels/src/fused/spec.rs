//! The JSON spec of a fused segment (serde, unknown fields refused) and its
//! validation into typed stage configurations.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::audio::SampleFormat;
use crate::segments::{SegmentParams, SegmentTracker};
use crate::KernelError;

/// The whole spec, as written in JSON (see the module doc of `fused`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    pub stages: Vec<StageSpec>,
    #[serde(default)]
    pub edges: Vec<EdgeSpec>,
    pub input: String,
    pub outputs: Vec<String>,
}

/// One stage: a unique id, a kind and the kind's parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub id: String,
    pub kind: String,
    #[serde(default)]
    pub params: Option<Value>,
}

/// `from`'s output feeds `to`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    pub from: String,
    pub to: String,
}

/// Resampling quality presets (the Python `_resample_design.PRESETS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quality {
    Low,
    Medium,
    High,
    VeryHigh,
}

impl Quality {
    fn from_name(name: &str) -> Option<Quality> {
        Some(match name {
            "low" => Quality::Low,
            "medium" => Quality::Medium,
            "high" => Quality::High,
            "very_high" => Quality::VeryHigh,
            _ => return None,
        })
    }

    /// The shorter side of a block, at least (frames).
    pub fn min_block(self) -> usize {
        match self {
            Quality::Low => 64,
            Quality::Medium => 128,
            Quality::High => 256,
            Quality::VeryHigh => 512,
        }
    }

    /// rubato's window, by its remotemedia name.
    pub fn window(self) -> &'static str {
        match self {
            Quality::Low | Quality::Medium => "blackman_harris",
            Quality::High | Quality::VeryHigh => "blackman_harris2",
        }
    }
}

/// Which detector a VAD stage runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VadBackend {
    /// The WebRTC GMM VAD, aggressiveness 0 to 3.
    WebRtc { mode: i32 },
    /// Speech when a frame's RMS exceeds the threshold.
    Energy { threshold: f64 },
}

/// A VAD stage's configuration (`VADNode`'s parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VadConfig {
    pub backend: VadBackend,
    pub frame_ms: u32,
    pub segment: SegmentParams,
    pub speech_ratio_threshold: f64,
    /// Keep every segment for the flush info (`segments=True`).
    pub segments: bool,
}

/// Per-channel statistics: one number for all channels or one per channel.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Stat {
    One(f64),
    PerChannel(Vec<f64>),
}

/// A validated stage.
#[derive(Clone, Debug, PartialEq)]
pub enum StageConfig {
    MonoMix,
    Convert { target: SampleFormat },
    Resample { target_rate: u32, quality: Quality },
    Vad(VadConfig),
    Normalize { mean: Stat, std: Stat },
}

/// What flows on an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// `(samples (channels, frames), sample_rate)`.
    Audio,
    /// A VAD's result (audio, decisions, segments): nothing in a segment takes it.
    VadResult,
    /// uint8 video frames (height, width, channels).
    Video,
    /// float32 tensors (channels, height, width): nothing in a segment takes them.
    Tensor,
}

impl PortKind {
    pub fn name(self) -> &'static str {
        match self {
            PortKind::Audio => "audio",
            PortKind::VadResult => "VAD results",
            PortKind::Video => "video frames",
            PortKind::Tensor => "tensors",
        }
    }
}

/// The stage kinds a spec may name.
pub const KINDS: &str = "mono_mix, convert, resample, webrtc_vad, energy_vad, normalize";

impl StageConfig {
    /// What the stage takes.
    pub fn input_kind(&self) -> PortKind {
        match self {
            StageConfig::Normalize { .. } => PortKind::Video,
            _ => PortKind::Audio,
        }
    }

    /// What the stage gives.
    pub fn output_kind(&self) -> PortKind {
        match self {
            StageConfig::Vad(_) => PortKind::VadResult,
            StageConfig::Normalize { .. } => PortKind::Tensor,
            _ => PortKind::Audio,
        }
    }

    /// The kind's name in the spec.
    pub fn kind_name(&self) -> &'static str {
        match self {
            StageConfig::MonoMix => "mono_mix",
            StageConfig::Convert { .. } => "convert",
            StageConfig::Resample { .. } => "resample",
            StageConfig::Vad(VadConfig {
                backend: VadBackend::WebRtc { .. },
                ..
            }) => "webrtc_vad",
            StageConfig::Vad(_) => "energy_vad",
            StageConfig::Normalize { .. } => "normalize",
        }
    }
}

/// A `Spec` error: the spec is malformed (the message says what and where).
pub(crate) fn spec_error(message: impl Into<String>) -> KernelError {
    KernelError::spec(message)
}

/// `e` with the stage named in front of its message (the kind is kept).
pub(crate) fn in_stage(id: &str, e: KernelError) -> KernelError {
    e.about(&format!("stage {id:?}"))
}

fn bad(parameter: &str, expected: &str, given: impl std::fmt::Display) -> KernelError {
    KernelError::invalid(parameter, expected, given)
}

/// Deserialises `params` (an object, absent = `{}`) into `T`; a type error
/// or an unknown field names the parameter.
fn params<T: DeserializeOwned>(params: &Option<Value>) -> Result<T, KernelError> {
    let value = match params {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => return Err(bad("params", "an object", other)),
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            spec_error(format!("params: {inner}"))
        } else {
            spec_error(format!("{path}: {inner}"))
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvertParams {
    #[serde(default = "default_format")]
    target_format: String,
}

fn default_format() -> String {
    "f32".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResampleParams {
    #[serde(default = "default_target_rate")]
    target_sample_rate: i64,
    #[serde(default = "default_quality")]
    quality: String,
}

fn default_target_rate() -> i64 {
    16_000
}

fn default_quality() -> String {
    "high".into()
}

/// Both VAD kinds' parameters (`VADNode`'s names and defaults); a parameter
/// of the other backend is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VadParams {
    mode: Option<i64>,
    energy_threshold: Option<f64>,
    #[serde(default = "default_frame_ms")]
    frame_ms: i64,
    #[serde(default = "default_min_speech")]
    min_speech_ms: f64,
    #[serde(default = "default_min_silence")]
    min_silence_ms: f64,
    #[serde(default = "default_roll")]
    pre_roll_ms: f64,
    #[serde(default = "default_roll")]
    post_roll_ms: f64,
    #[serde(default = "default_max_segment")]
    max_segment_s: f64,
    #[serde(default = "default_ratio")]
    speech_ratio_threshold: f64,
    #[serde(default)]
    segments: bool,
}

fn default_frame_ms() -> i64 {
    30
}
fn default_min_speech() -> f64 {
    250.0
}
fn default_min_silence() -> f64 {
    300.0
}
fn default_roll() -> f64 {
    100.0
}
fn default_max_segment() -> f64 {
    30.0
}
fn default_ratio() -> f64 {
    0.5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalizeParams {
    #[serde(default = "imagenet_mean")]
    mean: Stat,
    #[serde(default = "imagenet_std")]
    std: Stat,
}

fn imagenet_mean() -> Stat {
    Stat::PerChannel(vec![0.485, 0.456, 0.406])
}

fn imagenet_std() -> Stat {
    Stat::PerChannel(vec![0.229, 0.224, 0.225])
}

/// The sample format of a `target_format` name (`FormatConverterNode`'s
/// names and aliases, any case).
fn target_format(name: &str) -> Result<SampleFormat, KernelError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "f32" | "float32" => SampleFormat::F32,
        "i16" | "int16" | "s16" => SampleFormat::I16,
        "i32" | "int32" | "s32" => SampleFormat::I32,
        _ => {
            return Err(bad(
                "target_format",
                "one of 'f32', 'i16', 'i32'",
                format!("{name:?}"),
            ))
        }
    })
}

fn vad_config(p: VadParams, webrtc: bool) -> Result<VadConfig, KernelError> {
    let backend = if webrtc {
        if p.energy_threshold.is_some() {
            return Err(spec_error(
                "energy_threshold: not a parameter of webrtc_vad (it belongs to energy_vad)",
            ));
        }
        let mode = p.mode.unwrap_or(3);
        if !(0..=3).contains(&mode) {
            return Err(bad("mode", "0, 1, 2 or 3", mode));
        }
        if ![10, 20, 30].contains(&p.frame_ms) {
            return Err(bad("frame_ms", "10, 20 or 30", p.frame_ms));
        }
        VadBackend::WebRtc { mode: mode as i32 }
    } else {
        if p.mode.is_some() {
            return Err(spec_error(
                "mode: not a parameter of energy_vad (it belongs to webrtc_vad)",
            ));
        }
        if !(1..=1000).contains(&p.frame_ms) {
            return Err(bad("frame_ms", "an int from 1 to 1000", p.frame_ms));
        }
        let threshold = p.energy_threshold.unwrap_or(0.02);
        if !threshold.is_finite() || threshold < 0.0 {
            return Err(bad("energy_threshold", "a finite number >= 0", threshold));
        }
        VadBackend::Energy { threshold }
    };
    let segment = SegmentParams {
        min_speech_ms: p.min_speech_ms,
        min_silence_ms: p.min_silence_ms,
        pre_roll_ms: p.pre_roll_ms,
        post_roll_ms: p.post_roll_ms,
        max_segment_s: p.max_segment_s,
    };
    // VADNode validates its segment rules with a probe tracker of 30 ms
    // frames at 16 kHz; the stream's own tracker may still refuse them (a
    // max_segment_s shorter than two of its frames) at the first chunk.
    SegmentTracker::new(480, 16_000, &segment)?;
    Ok(VadConfig {
        backend,
        frame_ms: p.frame_ms as u32,
        segment,
        speech_ratio_threshold: p.speech_ratio_threshold,
        segments: p.segments,
    })
}

fn check_stat(stat: &Stat, parameter: &str) -> Result<usize, KernelError> {
    let values: &[f64] = match stat {
        Stat::One(v) => std::slice::from_ref(v),
        Stat::PerChannel(v) => v,
    };
    if values.iter().any(|v| !v.is_finite()) {
        return Err(bad(parameter, "finite values", format!("{values:?}")));
    }
    Ok(values.len())
}

/// The validated configuration of one stage spec.
pub fn stage_config(spec: &StageSpec) -> Result<StageConfig, KernelError> {
    let p = &spec.params;
    Ok(match spec.kind.as_str() {
        "mono_mix" => {
            params::<NoParams>(p)?;
            StageConfig::MonoMix
        }
        "convert" => {
            let c: ConvertParams = params(p)?;
            StageConfig::Convert {
                target: target_format(&c.target_format)?,
            }
        }
        "resample" => {
            let r: ResampleParams = params(p)?;
            if !(8_000..=192_000).contains(&r.target_sample_rate) {
                return Err(bad(
                    "target_sample_rate",
                    "8000 to 192000 Hz",
                    r.target_sample_rate,
                ));
            }
            let quality = Quality::from_name(&r.quality).ok_or_else(|| {
                bad(
                    "quality",
                    "one of 'low', 'medium', 'high', 'very_high'",
                    format!("{:?}", r.quality),
                )
            })?;
            StageConfig::Resample {
                target_rate: r.target_sample_rate as u32,
                quality,
            }
        }
        "webrtc_vad" => StageConfig::Vad(vad_config(params(p)?, true)?),
        "energy_vad" => StageConfig::Vad(vad_config(params(p)?, false)?),
        "normalize" => {
            let n: NormalizeParams = params(p)?;
            let means = check_stat(&n.mean, "mean")?;
            let stds = check_stat(&n.std, "std")?;
            if let (Stat::PerChannel(_), Stat::PerChannel(_)) = (&n.mean, &n.std) {
                if means != stds {
                    return Err(bad(
                        "std",
                        &format!("one number or {means} (one per channel)"),
                        format!("{:?}", n.std),
                    ));
                }
            }
            let stds_positive = match &n.std {
                Stat::One(v) => *v > 0.0,
                Stat::PerChannel(v) => v.iter().all(|&x| x > 0.0),
            };
            if !stds_positive {
                return Err(bad("std", "values > 0", format!("{:?}", n.std)));
            }
            StageConfig::Normalize {
                mean: n.mean,
                std: n.std,
            }
        }
        other => {
            return Err(bad(
                "kind",
                &format!("one of {KINDS}"),
                format!("{other:?}"),
            ))
        }
    })
}

/// Parses the JSON text of a spec (structure only; see `graph::plan`).
pub fn parse(json: &str) -> Result<SegmentSpec, KernelError> {
    serde_json::from_str(json).map_err(|e| spec_error(format!("spec: {e}")))
}
