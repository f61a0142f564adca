//! Audio as the fused executor moves it between stages: borrowed input of
//! any sample format and layout, owned planar buffers reused between chunks,
//! and the conversions the stages share (the convert kernel's rules).

use crate::convert;
use crate::mix::{self, Layout};
use crate::KernelError;

/// A sample format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    I16,
    I32,
    F32,
    F64,
}

impl SampleFormat {
    /// Bytes per sample.
    pub fn itemsize(self) -> usize {
        match self {
            SampleFormat::I16 => 2,
            SampleFormat::I32 | SampleFormat::F32 => 4,
            SampleFormat::F64 => 8,
        }
    }

    /// numpy's name of the dtype.
    pub fn name(self) -> &'static str {
        match self {
            SampleFormat::I16 => "int16",
            SampleFormat::I32 => "int32",
            SampleFormat::F32 => "float32",
            SampleFormat::F64 => "float64",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, SampleFormat::F32 | SampleFormat::F64)
    }
}

/// Borrowed samples of one format.
#[derive(Clone, Copy, Debug)]
pub enum Samples<'a> {
    I16(&'a [i16]),
    I32(&'a [i32]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl Samples<'_> {
    pub fn format(&self) -> SampleFormat {
        match self {
            Samples::I16(_) => SampleFormat::I16,
            Samples::I32(_) => SampleFormat::I32,
            Samples::F32(_) => SampleFormat::F32,
            Samples::F64(_) => SampleFormat::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Samples::I16(s) => s.len(),
            Samples::I32(s) => s.len(),
            Samples::F32(s) => s.len(),
            Samples::F64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Audio of `channels` x `frames` samples at `sample_rate` Hz, laid out
/// planar (a C-contiguous (channels, frames) array) or interleaved (the
/// transpose of a C-contiguous (frames, channels) array).
#[derive(Clone, Copy, Debug)]
pub struct AudioRef<'a> {
    pub samples: Samples<'a>,
    pub channels: usize,
    pub frames: usize,
    pub layout: Layout,
    pub sample_rate: u32,
}

impl<'a> AudioRef<'a> {
    /// Checks that `samples` holds `channels` (>= 1) whole frames. One
    /// channel is always planar.
    pub fn new(
        samples: Samples<'a>,
        channels: usize,
        layout: Layout,
        sample_rate: u32,
    ) -> Result<Self, KernelError> {
        if channels == 0 || !samples.len().is_multiple_of(channels) {
            return Err(KernelError::invalid(
                "samples",
                format!("a whole number of frames of {channels} channel(s) (at least one)"),
                format!("{} values", samples.len()),
            ));
        }
        let layout = if channels == 1 {
            Layout::Planar
        } else {
            layout
        };
        Ok(AudioRef {
            samples,
            channels,
            frames: samples.len() / channels,
            layout,
            sample_rate,
        })
    }

    pub fn format(&self) -> SampleFormat {
        self.samples.format()
    }

    /// Samples in all channels.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Owned samples, planar; the variant follows the format of what was last
/// written, and the allocation is kept between chunks.
#[derive(Clone, Debug)]
pub enum SampleBuf {
    I16(Vec<i16>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Default for SampleBuf {
    fn default() -> Self {
        SampleBuf::F32(Vec::new())
    }
}

macro_rules! buf_accessor {
    ($name:ident, $variant:ident, $t:ty) => {
        /// The buffer as `len` samples of this type (switching the variant
        /// only when the format changes; the contents are not preserved).
        pub fn $name(&mut self, len: usize) -> &mut [$t] {
            if !matches!(self, SampleBuf::$variant(_)) {
                *self = SampleBuf::$variant(Vec::new());
            }
            let SampleBuf::$variant(v) = self else {
                unreachable!()
            };
            v.clear();
            v.resize(len, <$t>::default());
            v
        }
    };
}

impl SampleBuf {
    buf_accessor!(i16_mut, I16, i16);
    buf_accessor!(i32_mut, I32, i32);
    buf_accessor!(f32_mut, F32, f32);
    buf_accessor!(f64_mut, F64, f64);

    pub fn samples(&self) -> Samples<'_> {
        match self {
            SampleBuf::I16(v) => Samples::I16(v),
            SampleBuf::I32(v) => Samples::I32(v),
            SampleBuf::F32(v) => Samples::F32(v),
            SampleBuf::F64(v) => Samples::F64(v),
        }
    }

    /// A copy of `s` (planar data stays planar).
    pub fn copy_from(&mut self, s: Samples<'_>) {
        match s {
            Samples::I16(x) => self.i16_mut(x.len()).copy_from_slice(x),
            Samples::I32(x) => self.i32_mut(x.len()).copy_from_slice(x),
            Samples::F32(x) => self.f32_mut(x.len()).copy_from_slice(x),
            Samples::F64(x) => self.f64_mut(x.len()).copy_from_slice(x),
        }
    }
}

/// Owned planar audio (a stage's output kept for a later flush step).
#[derive(Clone, Debug, Default)]
pub struct OwnedAudio {
    pub buf: SampleBuf,
    pub channels: usize,
    pub frames: usize,
    pub sample_rate: u32,
}

impl OwnedAudio {
    pub fn audio(&self) -> AudioRef<'_> {
        AudioRef {
            samples: self.buf.samples(),
            channels: self.channels,
            frames: self.frames,
            layout: Layout::Planar,
            sample_rate: self.sample_rate,
        }
    }

    /// A planar copy of `a`.
    pub fn copy_of(a: &AudioRef<'_>) -> OwnedAudio {
        let mut out = OwnedAudio {
            channels: a.channels,
            frames: a.frames,
            sample_rate: a.sample_rate,
            ..Default::default()
        };
        match a.samples {
            Samples::I16(s) => planar_into(s, a, out.buf.i16_mut(s.len())),
            Samples::I32(s) => planar_into(s, a, out.buf.i32_mut(s.len())),
            Samples::F32(s) => planar_into(s, a, out.buf.f32_mut(s.len())),
            Samples::F64(s) => planar_into(s, a, out.buf.f64_mut(s.len())),
        }
        out
    }
}

/// Writes the samples `src` of `a` into `dst` planar (a transpose for
/// interleaved input, a copy otherwise).
fn planar_into<T: Copy>(src: &[T], a: &AudioRef<'_>, dst: &mut [T]) {
    match a.layout {
        Layout::Planar => dst.copy_from_slice(src),
        Layout::Interleaved => {
            let (ch, frames) = (a.channels, a.frames);
            for c in 0..ch {
                for (f, d) in dst[c * frames..(c + 1) * frames].iter_mut().enumerate() {
                    *d = src[f * ch + c];
                }
            }
        }
    }
}

/// `a`'s samples planar: `src` itself when it already is, else a transpose
/// into `scratch`.
pub fn planar<'s, T: Copy + Default>(
    src: &'s [T],
    a: &AudioRef<'_>,
    scratch: &'s mut Vec<T>,
) -> &'s [T] {
    match a.layout {
        Layout::Planar => src,
        Layout::Interleaved => {
            scratch.clear();
            scratch.resize(src.len(), T::default());
            planar_into(src, a, scratch);
            scratch
        }
    }
}

/// Scratch vectors for making planar copies of input of any format.
#[derive(Debug, Default)]
pub struct PlanarScratch {
    i16: Vec<i16>,
    i32: Vec<i32>,
    f32: Vec<f32>,
    f64: Vec<f64>,
}

impl PlanarScratch {
    /// `a`'s samples planar (borrowed when they already are).
    pub fn planar<'s>(&'s mut self, a: &AudioRef<'s>) -> Samples<'s> {
        match a.samples {
            Samples::I16(s) => Samples::I16(planar(s, a, &mut self.i16)),
            Samples::I32(s) => Samples::I32(planar(s, a, &mut self.i32)),
            Samples::F32(s) => Samples::F32(planar(s, a, &mut self.f32)),
            Samples::F64(s) => Samples::F64(planar(s, a, &mut self.f64)),
        }
    }
}

/// Converts `src` to `target` into `dst` with the convert kernel (every
/// pair but identical formats, which the callers pass through); returns the
/// clipped count.
pub fn convert_into(
    src: Samples<'_>,
    target: SampleFormat,
    dst: &mut SampleBuf,
) -> Result<u64, KernelError> {
    let n = src.len();
    match (src, target) {
        (Samples::I16(s), SampleFormat::F32) => convert::i16_to_f32(s, dst.f32_mut(n)),
        (Samples::I32(s), SampleFormat::F32) => convert::i32_to_f32(s, dst.f32_mut(n)),
        (Samples::F64(s), SampleFormat::F32) => convert::f64_to_f32(s, dst.f32_mut(n)),
        (Samples::F32(s), SampleFormat::I16) => convert::f32_to_i16(s, dst.i16_mut(n)),
        (Samples::F64(s), SampleFormat::I16) => convert::f64_to_i16(s, dst.i16_mut(n)),
        (Samples::I32(s), SampleFormat::I16) => convert::i32_to_i16(s, dst.i16_mut(n)),
        (Samples::F32(s), SampleFormat::I32) => convert::f32_to_i32(s, dst.i32_mut(n)),
        (Samples::F64(s), SampleFormat::I32) => convert::f64_to_i32(s, dst.i32_mut(n)),
        (Samples::I16(s), SampleFormat::I32) => convert::i16_to_i32(s, dst.i32_mut(n)),
        (s, t) => Err(KernelError::internal(format!(
            "internal: no conversion from {} to {}",
            s.format().name(),
            t.name()
        ))),
    }
}

/// Appends `src` converted to float32 (the convert kernel's rules; float32
/// as is) to `dst`.
pub fn extend_f32(src: Samples<'_>, dst: &mut Vec<f32>) -> Result<(), KernelError> {
    let start = dst.len();
    dst.resize(start + src.len(), 0.0);
    let d = &mut dst[start..];
    match src {
        Samples::I16(s) => convert::i16_to_f32(s, d).map(|_| ()),
        Samples::I32(s) => convert::i32_to_f32(s, d).map(|_| ()),
        Samples::F32(s) => {
            d.copy_from_slice(s);
            Ok(())
        }
        Samples::F64(s) => convert::f64_to_f32(s, d).map(|_| ()),
    }
}

/// Appends `src` converted to int16 (the convert kernel's rules; int16 as
/// is) to `dst`.
pub fn extend_i16(src: Samples<'_>, dst: &mut Vec<i16>) -> Result<(), KernelError> {
    let start = dst.len();
    dst.resize(start + src.len(), 0);
    let d = &mut dst[start..];
    match src {
        Samples::I16(s) => {
            d.copy_from_slice(s);
            Ok(())
        }
        Samples::I32(s) => convert::i32_to_i16(s, d).map(|_| ()),
        Samples::F32(s) => convert::f32_to_i16(s, d).map(|_| ()),
        Samples::F64(s) => convert::f64_to_i16(s, d).map(|_| ()),
    }
}

/// The error of a mono mix that would not be bit-identical to the unfused
/// node: `AudioBuffer.to_mono` takes numpy's mean for float audio of 8 or
/// more channels in some layouts, and numpy sums those channels pairwise.
pub fn check_mixable(format: SampleFormat, channels: usize) -> Result<(), KernelError> {
    if format.is_float() && channels >= 8 {
        return Err(KernelError::invalid(
            "samples",
            "integer audio or float audio of at most 7 channels (the unfused node takes numpy's \
             pairwise mean of 8 or more float channels, which a fused segment does not reproduce: \
             run this node unfused)",
            format!("{channels} channels of {}", format.name()),
        ));
    }
    if channels > mix::MAX_CHANNELS {
        return Err(KernelError::invalid(
            "samples",
            format!("1 to {} channels", mix::MAX_CHANNELS),
            format!("{channels} channels"),
        ));
    }
    Ok(())
}

/// The mean of the channels of `a` (more than one) into `dst`, one channel
/// of the input's format, with the mix kernel (reads both layouts in place).
pub fn mix_into(a: &AudioRef<'_>, dst: &mut SampleBuf) -> Result<(), KernelError> {
    check_mixable(a.format(), a.channels)?;
    let (ch, n, lay) = (a.channels, a.frames, a.layout);
    match a.samples {
        Samples::I16(s) => mix::mix_i16(s, ch, lay, dst.i16_mut(n)),
        Samples::I32(s) => mix::mix_i32(s, ch, lay, dst.i32_mut(n)),
        Samples::F32(s) => mix::mix_f32(s, ch, lay, dst.f32_mut(n)),
        Samples::F64(s) => mix::mix_f64(s, ch, lay, dst.f64_mut(n)),
    }
}
