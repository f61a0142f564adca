//! The stateless stages (mono mix, conversion, normalisation) and the
//! resampling stage: each reproduces its node's `process` /
//! `process_chunk` / `flush` on one chunk, writing into a `StageOut` whose
//! buffers are reused from chunk to chunk.

use super::audio::{
    convert_into, extend_f32, mix_into, AudioRef, PlanarScratch, SampleBuf, Samples,
};
use super::spec::{Quality, Stat};
use crate::mix::Layout;
use crate::resample::{
    values_ok, Resampler, MAX_CHANNELS, MAX_RATE, MIN_RATE, VALUE_EXPECTED, VALUE_GIVEN,
};
use crate::segments::Segment;
use crate::{normalize, KernelError};

/// Where a stage's output audio is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Src {
    /// In the stage's own buffer.
    #[default]
    Own,
    /// It is the audio the stage was given (passed through): the segment's
    /// input when that is what the stage was given.
    Input,
    /// In stage k's own buffer (passed through from it).
    Stage(usize),
}

/// One stage's output for the latest chunk (buffers kept between chunks).
#[derive(Debug, Default)]
pub struct StageOut {
    pub src: Src,
    pub buf: SampleBuf,
    pub channels: usize,
    pub frames: usize,
    pub sample_rate: u32,
    /// Convert: samples clipped in this chunk.
    pub clipped: u64,
    /// VAD: the decisions of the frames this chunk completed.
    pub decisions: Vec<u8>,
    /// VAD: the segments completed by this chunk, at the input's rate.
    pub new_segments: Vec<Segment>,
    /// VAD: the first sample of the stream a later segment may include.
    pub keep_from: i64,
    /// Normalize: the float32 (channels, height, width) tensor.
    pub tensor: Vec<f32>,
    pub tensor_shape: [usize; 3],
}

impl StageOut {
    /// The output passes the stage's input through.
    pub fn pass(&mut self, a: &AudioRef<'_>, src: Src) {
        self.src = src;
        self.channels = a.channels;
        self.frames = a.frames;
        self.sample_rate = a.sample_rate;
    }

    /// The own buffer as planar audio (what `own` described).
    pub fn audio(&self) -> AudioRef<'_> {
        AudioRef {
            samples: self.buf.samples(),
            channels: self.channels,
            frames: self.frames,
            layout: Layout::Planar,
            sample_rate: self.sample_rate,
        }
    }

    /// The output is `channels` x `frames` in the own buffer.
    pub fn own(&mut self, channels: usize, frames: usize, sample_rate: u32) {
        self.src = Src::Own;
        self.channels = channels;
        self.frames = frames;
        self.sample_rate = sample_rate;
    }
}

/// `MonoMixNode.process`: the mean of the channels (mono passes through).
pub fn mono_mix(a: &AudioRef<'_>, src: Src, out: &mut StageOut) -> Result<(), KernelError> {
    if a.channels == 1 {
        out.pass(a, src);
        return Ok(());
    }
    mix_into(a, &mut out.buf)?;
    out.own(1, a.frames, a.sample_rate);
    Ok(())
}

/// `FormatConverterNode.process`.
#[derive(Debug, Default)]
pub struct ConvertStage {
    scratch: PlanarScratch,
}

impl ConvertStage {
    pub fn process(
        &mut self,
        target: super::audio::SampleFormat,
        a: &AudioRef<'_>,
        src: Src,
        out: &mut StageOut,
    ) -> Result<(), KernelError> {
        if a.format() == target {
            out.pass(a, src);
            out.clipped = 0;
            return Ok(());
        }
        let planar = self.scratch.planar(a);
        out.clipped = convert_into(planar, target, &mut out.buf)?;
        out.own(a.channels, a.frames, a.sample_rate);
        Ok(())
    }
}

/// The resampling engine of one stream.
enum Engine {
    /// Equal rates: a copy (after the value check).
    Identity,
    Fft(Box<Resampler>),
}

/// `AudioResampleNode.process_chunk` / `flush`: one stream at a time; the
/// engine is kept for the next stream when its rate and channels are the
/// same (a reset engine gives the bits of a fresh one).
pub struct ResampleStage {
    target_rate: u32,
    quality: Quality,
    /// The engine and the (rate, channels) it was built for.
    engine: Option<(u32, usize, Engine)>,
    active: bool,
    scratch: PlanarScratch,
    f32_buf: Vec<f32>,
}

impl std::fmt::Debug for ResampleStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResampleStage")
            .field("target_rate", &self.target_rate)
            .field("quality", &self.quality)
            .field("active", &self.active)
            .finish()
    }
}

/// The largest reduced-ratio term accepted (`_resample_design.MAX_RATIO_TERM`).
pub const MAX_RATIO_TERM: usize = 8192;

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The Python `Resampler`'s checks and block plan (`_resample_design.make_plan`),
/// then the engine. Errors name `in_rate` / `out_rate` / `channels` as it does.
pub fn new_engine(
    in_rate: u32,
    out_rate: u32,
    channels: usize,
    quality: Quality,
) -> Result<Option<Resampler>, KernelError> {
    let (i, o) = (in_rate as usize, out_rate as usize);
    for (rate, name) in [(i, "in_rate"), (o, "out_rate")] {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(KernelError::invalid(
                name,
                format!("{MIN_RATE} to {MAX_RATE} Hz"),
                rate,
            ));
        }
    }
    let g = gcd(i, o);
    let (a, b) = (i / g, o / g);
    if a.max(b) > MAX_RATIO_TERM {
        return Err(KernelError::invalid(
            "out_rate",
            format!("a rate whose ratio to in_rate reduces to terms of at most {MAX_RATIO_TERM}"),
            format!("{i} -> {o} Hz (ratio {a}:{b})"),
        ));
    }
    if !(1..=MAX_CHANNELS).contains(&channels) {
        return Err(KernelError::invalid(
            "channels",
            format!("an int from 1 to {MAX_CHANNELS}"),
            channels,
        ));
    }
    if i == o {
        return Ok(None);
    }
    let mut k = 2;
    while k * a.min(b) < quality.min_block() || (k * a) % 4 != 0 {
        k += 2;
    }
    Resampler::new(i, o, k * a, quality.window(), channels).map(Some)
}

impl ResampleStage {
    pub fn new(target_rate: u32, quality: Quality) -> Self {
        ResampleStage {
            target_rate,
            quality,
            engine: None,
            active: false,
            scratch: PlanarScratch::default(),
            f32_buf: Vec::new(),
        }
    }

    fn start(&mut self, rate: u32, channels: usize) -> Result<(), KernelError> {
        let reusable = matches!(&self.engine, Some((r, c, _)) if *r == rate && *c == channels);
        if !reusable {
            self.engine = None;
            let engine = match new_engine(rate, self.target_rate, channels, self.quality)? {
                None => Engine::Identity,
                Some(r) => Engine::Fft(Box::new(r)),
            };
            self.engine = Some((rate, channels, engine));
        }
        self.active = true;
        Ok(())
    }

    pub fn process(&mut self, a: &AudioRef<'_>, out: &mut StageOut) -> Result<(), KernelError> {
        if !self.active {
            self.start(a.sample_rate, a.channels)?;
        } else if let Some((rate, channels, _)) = &self.engine {
            if a.sample_rate != *rate {
                return Err(KernelError::invalid(
                    "sample_rate",
                    format!("{rate} Hz (as earlier in this stream)"),
                    a.sample_rate,
                ));
            }
            if a.channels != *channels {
                return Err(KernelError::invalid(
                    "audio",
                    format!("{channels} channel(s) (as earlier in this stream)"),
                    a.channels,
                ));
            }
        }
        // Integer audio through the convert kernel, float64 rounded: float32 planar.
        let x: &[f32] = match self.scratch.planar(a) {
            Samples::F32(s) => s,
            other => {
                self.f32_buf.clear();
                extend_f32(other, &mut self.f32_buf)?;
                &self.f32_buf
            }
        };
        let ch = a.channels;
        match self.engine.as_mut().map(|e| &mut e.2) {
            Some(Engine::Identity) => {
                if !values_ok(x) {
                    return Err(KernelError::invalid("samples", VALUE_EXPECTED, VALUE_GIVEN));
                }
                out.buf.f32_mut(x.len()).copy_from_slice(x);
                out.own(ch, a.frames, self.target_rate);
            }
            Some(Engine::Fft(r)) => {
                let n = r.process_len(a.frames);
                r.process(x, out.buf.f32_mut(n * ch))?;
                out.own(ch, n, self.target_rate);
            }
            None => return Err(KernelError::internal("internal: resampler not started")),
        }
        Ok(())
    }

    /// Ends the stream (one channel and no frames when none had started).
    pub fn flush(&mut self, out: &mut StageOut) -> Result<(), KernelError> {
        if !self.active {
            out.buf.f32_mut(0);
            out.own(1, 0, self.target_rate);
            return Ok(());
        }
        self.active = false;
        let Some((_, ch, engine)) = self.engine.as_mut() else {
            return Err(KernelError::internal("internal: resampler not started"));
        };
        let ch = *ch;
        match engine {
            Engine::Identity => {
                out.buf.f32_mut(0);
                out.own(ch, 0, self.target_rate);
            }
            Engine::Fft(r) => {
                let n = r.flush_len();
                let result = r.flush(out.buf.f32_mut(n * ch));
                if result.is_err() {
                    r.reset();
                }
                result?;
                out.own(ch, n, self.target_rate);
            }
        }
        Ok(())
    }

    pub fn reset(&mut self) {
        if let Some((_, _, Engine::Fft(r))) = self.engine.as_mut() {
            r.reset();
        }
        self.active = false;
    }
}

/// `NormalizeFrameNode.process` on a bare uint8 (height, width, channels) frame.
#[derive(Debug)]
pub struct NormalizeStage {
    mean: Stat,
    std: Stat,
    /// (channels, scale, offset) of the last frame's channel count.
    coefficients: Option<(usize, Vec<f32>, Vec<f32>)>,
}

fn per_channel(stat: &Stat, parameter: &str, channels: usize) -> Result<Vec<f64>, KernelError> {
    match stat {
        Stat::One(v) => Ok(vec![*v; channels]),
        Stat::PerChannel(v) if v.len() == channels => Ok(v.clone()),
        Stat::PerChannel(v) => Err(KernelError::invalid(
            parameter,
            format!("one number or {channels} (one per channel)"),
            format!("{v:?}"),
        )),
    }
}

impl NormalizeStage {
    pub fn new(mean: Stat, std: Stat) -> Self {
        NormalizeStage {
            mean,
            std,
            coefficients: None,
        }
    }

    /// `kernels.normalize.coefficients`: float32(1 / (255 std)) and
    /// float32(-mean / std), computed in float64.
    fn coefficients(&mut self, channels: usize) -> Result<(&[f32], &[f32]), KernelError> {
        if !matches!(&self.coefficients, Some((c, _, _)) if *c == channels) {
            let m = per_channel(&self.mean, "mean", channels)?;
            let s = per_channel(&self.std, "std", channels)?;
            let scale: Vec<f32> = s.iter().map(|&v| (1.0 / (255.0 * v)) as f32).collect();
            let offset: Vec<f32> = m.iter().zip(&s).map(|(&a, &b)| (-a / b) as f32).collect();
            if !scale.iter().chain(&offset).all(|v| v.is_finite()) {
                return Err(KernelError::invalid(
                    "mean/std",
                    "coefficients finite in float32",
                    format!("mean {m:?}, std {s:?}"),
                ));
            }
            self.coefficients = Some((channels, scale, offset));
        }
        let (_, scale, offset) = self.coefficients.as_ref().expect("just set");
        Ok((scale, offset))
    }

    pub fn process(
        &mut self,
        frame: &[u8],
        height: usize,
        width: usize,
        channels: usize,
        out: &mut StageOut,
    ) -> Result<(), KernelError> {
        let n = height
            .checked_mul(width)
            .and_then(|hw| hw.checked_mul(channels))
            .filter(|&n| n == frame.len() && channels >= 1)
            .ok_or_else(|| {
                KernelError::invalid(
                    "frame",
                    format!(
                        "height x width x channels ({height} x {width} x {channels}, at least one \
                         channel) values"
                    ),
                    frame.len(),
                )
            })?;
        let (scale, offset) = self.coefficients(channels)?;
        out.tensor.clear();
        out.tensor.resize(n, 0.0);
        normalize::normalize_u8_f32(frame, channels, scale, offset, &mut out.tensor, false)?;
        out.tensor_shape = [channels, height, width];
        Ok(())
    }
}
