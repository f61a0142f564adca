//! Every mix path (AVX2 when the CPU has it, and the baseline loops) against
//! a plain reference written from the rules: exact rational rounding (i128)
//! for integers, a float64 sum in channel order for floats.

use super::*;

/// A small deterministic generator (xorshift64*), no dependency needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The exact mean of `values`, rounded half to even, with i128 arithmetic.
fn reference_int(values: &[i64]) -> i64 {
    let s: i128 = values.iter().map(|&v| v as i128).sum();
    let c = values.len() as i128;
    let q = s.div_euclid(c);
    let r = s.rem_euclid(c); // s = q * c + r, 0 <= r < c
    let up = 2 * r > c || (2 * r == c && q % 2 != 0);
    (q + up as i128) as i64
}

fn reference_float(values: &[f64]) -> f64 {
    let mut s = 0.0;
    for &v in values {
        s += v;
    }
    s / values.len() as f64
}

/// Lays out `planar` (channel after channel) as `layout`.
fn lay_out<T: Copy>(planar: &[T], channels: usize, layout: Layout) -> Vec<T> {
    let frames = planar.len() / channels;
    match layout {
        Layout::Planar => planar.to_vec(),
        Layout::Interleaved => (0..frames)
            .flat_map(|f| (0..channels).map(move |c| planar[c * frames + f]))
            .collect(),
    }
}

type Mix<T> = fn(&[T], usize, Layout, &mut [T]) -> Result<(), KernelError>;
type Body<T> = fn(&[T], usize, Layout, &mut [T]);

/// Runs the public function and the baseline loop on both layouts and
/// compares every frame with `want` (bit patterns, via `key`).
fn check_all<T: Copy + Default + std::fmt::Debug, K: PartialEq + std::fmt::Debug>(
    name: &str,
    mix: Mix<T>,
    base: Body<T>,
    planar: &[T],
    channels: usize,
    want: &[K],
    key: impl Fn(T) -> K,
) {
    for layout in [Layout::Planar, Layout::Interleaved] {
        let src = lay_out(planar, channels, layout);
        let mut dst = vec![T::default(); want.len()];
        mix(&src, channels, layout, &mut dst).unwrap();
        let mut dst_base = vec![T::default(); want.len()];
        base(&src, channels, layout, &mut dst_base);
        for (f, w) in want.iter().enumerate() {
            assert_eq!(
                &key(dst[f]),
                w,
                "{name} {layout:?} channels={channels} frame {f}"
            );
            assert_eq!(
                &key(dst_base[f]),
                w,
                "{name} baseline {layout:?} channels={channels} frame {f}"
            );
        }
    }
}

const CHANNELS: [usize; 14] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 24, 255, 256, 1024];

fn frames_for(channels: usize) -> usize {
    // Crosses a planar block boundary for small counts; stays quick for 1024.
    if channels <= 16 {
        2 * BLOCK + 37
    } else {
        67
    }
}

#[test]
fn int16_matches_the_exact_rounded_mean() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for &channels in &CHANNELS {
        let frames = frames_for(channels);
        // Random values, plus runs of extremes and of near-ties.
        let planar: Vec<i16> = (0..channels * frames)
            .map(|i| match (i / 7) % 4 {
                0 => i16::MIN,
                1 => i16::MAX,
                2 => (rng.next() % 5) as i16 - 2,
                _ => rng.next() as i16,
            })
            .collect();
        let want: Vec<i64> = (0..frames)
            .map(|f| {
                let v: Vec<i64> = (0..channels)
                    .map(|c| planar[c * frames + f] as i64)
                    .collect();
                reference_int(&v)
            })
            .collect();
        check_all(
            "i16",
            mix_i16,
            baseline::mix_i16,
            &planar,
            channels,
            &want,
            |x| x as i64,
        );
    }
}

#[test]
fn int32_matches_the_exact_rounded_mean() {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    for &channels in &CHANNELS {
        let frames = frames_for(channels);
        let planar: Vec<i32> = (0..channels * frames)
            .map(|i| match (i / 5) % 4 {
                0 => i32::MIN,
                1 => i32::MAX,
                2 => (rng.next() % 5) as i32 - 2,
                _ => rng.next() as i32,
            })
            .collect();
        let want: Vec<i64> = (0..frames)
            .map(|f| {
                let v: Vec<i64> = (0..channels)
                    .map(|c| planar[c * frames + f] as i64)
                    .collect();
                reference_int(&v)
            })
            .collect();
        check_all(
            "i32",
            mix_i32,
            baseline::mix_i32,
            &planar,
            channels,
            &want,
            |x| x as i64,
        );
    }
}

#[test]
fn ties_round_to_even() {
    // (a + b) / 2 = +-0.5, +-1.5, +-2.5; three channels: thirds never tie.
    let a = [0i16, 1, 2, 0, -1, -2, i16::MAX, i16::MIN];
    let b = [1i16, 2, 3, -1, -2, -3, i16::MAX - 1, i16::MIN + 1];
    let planar: Vec<i16> = a.iter().chain(&b).copied().collect();
    for layout in [Layout::Planar, Layout::Interleaved] {
        let mut dst = [0i16; 8];
        mix_i16(&lay_out(&planar, 2, layout), 2, layout, &mut dst).unwrap();
        assert_eq!(
            dst,
            [0, 2, 2, 0, -2, -2, i16::MAX - 1, i16::MIN],
            "{layout:?}"
        );
    }
    // Four channels summing to 2 (0.5), 6 (1.5), -2, -6: ties at a shift of 2.
    let planar = [1i32, 3, -1, -3, 1, 3, -1, -3, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut dst = [0i32; 4];
    mix_i32(&planar, 4, Layout::Planar, &mut dst).unwrap();
    assert_eq!(dst, [0, 2, 0, -2]);
    // Six channels (float64 path) summing to 3 (0.5) and 9 (1.5).
    let planar = [1i16, 3, 1, 3, 1, 3, 0, 0, 0, 0, 0, 0];
    let mut dst = [0i16; 2];
    mix_i16(&planar, 6, Layout::Planar, &mut dst).unwrap();
    assert_eq!(dst, [0, 2]);
}

fn random_f64(rng: &mut Rng) -> f64 {
    // Mixed magnitudes so that the summation order matters.
    let m = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
    m * [1.0, 1e-8, 1e8, 3.0][(rng.next() % 4) as usize]
}

#[test]
fn float32_sums_in_channel_order() {
    let mut rng = Rng(42);
    for &channels in &CHANNELS {
        let frames = frames_for(channels);
        let mut planar: Vec<f32> = (0..channels * frames)
            .map(|_| random_f64(&mut rng) as f32)
            .collect();
        planar[0] = f32::NAN;
        planar[1] = f32::INFINITY;
        if channels > 1 {
            planar[frames + 1] = f32::NEG_INFINITY; // inf + -inf: NaN
            planar[2] = f32::MAX;
            planar[frames + 2] = f32::MAX; // the sum is finite in f64
            planar[3] = -0.0;
            planar[frames + 3] = -0.0;
        }
        let want: Vec<u32> = (0..frames)
            .map(|f| {
                let v: Vec<f64> = (0..channels)
                    .map(|c| planar[c * frames + f] as f64)
                    .collect();
                let m = reference_float(&v) as f32;
                // Every NaN compares as one value (payloads are not part of the contract).
                if m.is_nan() {
                    f32::NAN.to_bits()
                } else {
                    m.to_bits()
                }
            })
            .collect();
        let key = |x: f32| {
            if x.is_nan() {
                f32::NAN.to_bits()
            } else {
                x.to_bits()
            }
        };
        check_all(
            "f32",
            mix_f32,
            baseline::mix_f32,
            &planar,
            channels,
            &want,
            key,
        );
        if channels == 2 {
            assert_eq!(want[2], f32::MAX.to_bits()); // (MAX + MAX) / 2 in float64
            assert_eq!(want[3], 0.0f32.to_bits()); // the sum starts from +0.0
        }
    }
}

#[test]
fn float64_sums_in_channel_order() {
    let mut rng = Rng(7);
    for &channels in &CHANNELS {
        let frames = frames_for(channels);
        let mut planar: Vec<f64> = (0..channels * frames)
            .map(|_| random_f64(&mut rng))
            .collect();
        planar[0] = f64::NAN;
        planar[1] = f64::NEG_INFINITY;
        let key = |x: f64| {
            if x.is_nan() {
                f64::NAN.to_bits()
            } else {
                x.to_bits()
            }
        };
        let want: Vec<u64> = (0..frames)
            .map(|f| {
                let v: Vec<f64> = (0..channels).map(|c| planar[c * frames + f]).collect();
                key(reference_float(&v))
            })
            .collect();
        check_all(
            "f64",
            mix_f64,
            baseline::mix_f64,
            &planar,
            channels,
            &want,
            key,
        );
    }
}

#[test]
fn zero_frames() {
    for channels in [1, 2, 3, 1024] {
        for layout in [Layout::Planar, Layout::Interleaved] {
            mix_i16(&[], channels, layout, &mut []).unwrap();
            mix_f64(&[], channels, layout, &mut []).unwrap();
        }
    }
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let src = [0i16; 8];
    let mut dst = [0i16; 4];
    for channels in [0, 1025, usize::MAX] {
        let e = mix_i16(&src, channels, Layout::Planar, &mut dst).unwrap_err();
        assert_eq!(
            e,
            KernelError::Invalid {
                parameter: "channels".into(),
                expected: "1 to 1024".into(),
                given: channels.to_string()
            }
        );
    }
    let e = mix_i16(&src, 3, Layout::Interleaved, &mut dst).unwrap_err();
    assert_eq!(
        e.message(),
        "samples: expected 3 channels x 4 frames, given 8 samples"
    );
    let mut big = vec![0f32; 3];
    let e = mix_f32(&[0.0; 5], 2, Layout::Planar, &mut big).unwrap_err();
    assert!(matches!(e, KernelError::Invalid { .. }));
    // channels * frames overflowing usize is an error too.
    let e = check(8, 1024, usize::MAX / 2).unwrap_err();
    assert!(matches!(e, KernelError::Invalid { .. }));
}
