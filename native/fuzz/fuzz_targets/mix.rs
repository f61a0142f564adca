//! Channel mix-down on any channel count, layout, length and values: no
//! panic; inconsistent sizes and channel counts are `Invalid` errors; every
//! output equals a plain reference (integers: the exact mean in i128 rounded
//! half to even; floats: +0.0 + ch0 + ch1 + ... in f64, / C, cast), and the
//! two layouts of the same audio give the same result.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use remotemedia_kernels::mix::{mix_f32, mix_f64, mix_i16, mix_i32, Layout, MAX_CHANNELS};
use remotemedia_kernels::KernelError;

#[derive(Arbitrary, Debug)]
enum Samples {
    I16(Vec<i16>),
    I32(Vec<i32>),
    F32(Vec<Val>),
    F64(Vec<Val>),
}

/// A float sample: one of the special values (which random bits rarely hit)
/// or raw bits.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Val {
    Special(u8),
    Raw(u64),
}

const SPECIAL: [f64; 10] = [
    0.0,
    -0.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    f64::MIN_POSITIVE,
    -1.0,
    0.5,
    1e300,
];

impl Val {
    fn f64(self) -> f64 {
        match self {
            Val::Special(i) => SPECIAL[i as usize % SPECIAL.len()],
            Val::Raw(b) => f64::from_bits(b),
        }
    }

    fn f32(self) -> f32 {
        match self {
            Val::Special(i) => SPECIAL[i as usize % SPECIAL.len()] as f32,
            Val::Raw(b) => f32::from_bits(b as u32),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Case {
    channels: u16,
    samples: Samples,
    /// Output frames minus the consistent count (None: the consistent count).
    out_delta: Option<i8>,
}

/// A mix entry point.
type Kernel<T> = fn(&[T], usize, Layout, &mut [T]) -> Result<(), KernelError>;

/// The exact mean of `vals`, rounded half to even (as i128).
fn round_mean(vals: &[i128]) -> i128 {
    let c = vals.len() as i128;
    let s: i128 = vals.iter().sum();
    let (q, r) = (s.div_euclid(c), s.rem_euclid(c));
    match (2 * r).cmp(&c) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// Frame `f`, channel `c` of `src` in `layout`.
fn at<T: Copy>(src: &[T], channels: usize, frames: usize, layout: Layout, f: usize, c: usize) -> T {
    match layout {
        Layout::Planar => src[c * frames + f],
        Layout::Interleaved => src[f * channels + c],
    }
}

fn run<T: Copy + Default + std::fmt::Debug>(
    src: &[T],
    channels: usize,
    out_delta: i8,
    kernel: Kernel<T>,
    same: impl Fn(T, T) -> bool,
    reference: impl Fn(&[T]) -> T,
) {
    let frames = src.len() / channels.max(1);
    let n_out = (frames as isize + out_delta as isize).max(0) as usize;
    let valid = (1..=MAX_CHANNELS).contains(&channels) && src.len() == channels * n_out;
    let mut by_layout = Vec::new();
    for layout in [Layout::Planar, Layout::Interleaved] {
        let mut dst = vec![T::default(); n_out];
        match kernel(src, channels, layout, &mut dst) {
            Ok(()) => assert!(
                valid,
                "accepted {channels} channels, {} values, {n_out} frames",
                src.len()
            ),
            Err(KernelError::Invalid(_)) => {
                assert!(!valid);
                continue;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
        for (f, &got) in dst.iter().enumerate() {
            let frame: Vec<T> = (0..channels)
                .map(|c| at(src, channels, n_out, layout, f, c))
                .collect();
            let want = reference(&frame);
            assert!(same(got, want), "{layout:?} frame {f}: {got:?} != {want:?}");
        }
        by_layout.push(dst);
    }
    // The same audio in the other layout: transpose and mix again.
    if valid && channels > 1 {
        let mut transposed = vec![T::default(); src.len()];
        for f in 0..n_out {
            for c in 0..channels {
                transposed[f * channels + c] = src[c * n_out + f];
            }
        }
        let mut dst = vec![T::default(); n_out];
        kernel(&transposed, channels, Layout::Interleaved, &mut dst).unwrap();
        assert!(dst.iter().zip(&by_layout[0]).all(|(&a, &b)| same(a, b)));
    }
}

fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fuzz_target!(|case: Case| {
    let channels = case.channels as usize % (MAX_CHANNELS + 8);
    let out_delta = case.out_delta.unwrap_or(0);
    match &case.samples {
        Samples::I16(v) => run(
            v,
            channels,
            out_delta,
            mix_i16,
            |a, b| a == b,
            |fr| round_mean(&fr.iter().map(|&x| x as i128).collect::<Vec<_>>()) as i16,
        ),
        Samples::I32(v) => run(
            v,
            channels,
            out_delta,
            mix_i32,
            |a, b| a == b,
            |fr| round_mean(&fr.iter().map(|&x| x as i128).collect::<Vec<_>>()) as i32,
        ),
        Samples::F32(v) => run(
            &v.iter().map(|x| x.f32()).collect::<Vec<_>>(),
            channels,
            out_delta,
            mix_f32,
            same_f32,
            |fr| {
                if fr.len() == 1 {
                    return fr[0]; // one channel: the input as is
                }
                let s = fr.iter().fold(0.0f64, |a, &x| a + x as f64);
                (s / fr.len() as f64) as f32
            },
        ),
        Samples::F64(v) => run(
            &v.iter().map(|x| x.f64()).collect::<Vec<_>>(),
            channels,
            out_delta,
            mix_f64,
            same_f64,
            |fr| {
                if fr.len() == 1 {
                    return fr[0];
                }
                let s = fr.iter().fold(0.0f64, |a, &x| a + x);
                s / fr.len() as f64
            },
        ),
    }
});
