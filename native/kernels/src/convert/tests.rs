//! Every float -> int path (AVX2 when the CPU has it, and the baseline
//! scalar loops, forced) against a plain scalar reference written from the
//! rules: scale in the input's precision, `round_ties_even`, NaN -> 0,
//! clip and count.

use super::*;

/// (value, clipped) by the rules, for `bits`-bit integers.
fn reference_f32(x: f32, bits: u32) -> (i64, bool) {
    let v = x * (1u64 << (bits - 1)) as f32;
    let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
    if v.is_nan() {
        return (0, false);
    }
    let r = v.round_ties_even();
    if r < lo as f32 {
        (lo, true)
    } else if r >= (1u64 << (bits - 1)) as f32 {
        (hi, true)
    } else {
        (r as i64, false)
    }
}

fn reference_f64(x: f64, bits: u32) -> (i64, bool) {
    let v = x * (1u64 << (bits - 1)) as f64;
    let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
    if v.is_nan() {
        return (0, false);
    }
    let r = v.round_ties_even();
    if r < lo as f64 {
        (lo, true)
    } else if r > hi as f64 {
        (hi, true)
    } else {
        (r as i64, false)
    }
}

type Run<S, D> = fn(&[S], &mut [D], bool) -> u64;

/// Runs one conversion on both paths and compares each output and the count.
fn check<S: Copy + std::fmt::Debug, D: Copy + Into<i64> + Default>(
    name: &str,
    run: Run<S, D>,
    reference: impl Fn(S) -> (i64, bool),
    src: &[S],
) {
    let want: Vec<(i64, bool)> = src.iter().map(|&x| reference(x)).collect();
    let want_clipped = want.iter().filter(|w| w.1).count() as u64;
    for baseline in [true, false] {
        let mut dst = vec![D::default(); src.len()];
        let clipped = run(src, &mut dst, baseline);
        for (k, (&d, &(w, _))) in dst.iter().zip(&want).enumerate() {
            assert_eq!(
                d.into(),
                w,
                "{name} baseline={baseline}: sample {k} of {}, input {:?}",
                src.len(),
                src[k]
            );
        }
        assert_eq!(
            clipped,
            want_clipped,
            "{name} baseline={baseline}: clip count, n={}",
            src.len()
        );
    }
}

fn check_f32(src: &[f32]) {
    check("f32->i16", f32_to_i16_run, |x| reference_f32(x, 16), src);
    check("f32->i32", f32_to_i32_run, |x| reference_f32(x, 32), src);
}

fn check_f64(src: &[f64]) {
    check("f64->i16", f64_to_i16_run, |x| reference_f64(x, 16), src);
    check("f64->i32", f64_to_i32_run, |x| reference_f64(x, 32), src);
}

/// Scaled values around which results change: ties near 0 and near both
/// limits of int16 and int32, the limits themselves.
const SCALED_EDGES: &[f64] = &[
    0.5,
    1.5,
    2.5,
    3.5,
    -0.5,
    -1.5,
    -2.5,
    1.0,
    -1.0,
    0.49, //
    32_766.5,
    32_767.0,
    32_767.5,
    32_768.0,
    32_768.5,
    32_769.5,
    40_000.0, //
    -32_767.5,
    -32_768.0,
    -32_768.5,
    -32_769.0,
    -32_769.5,
    -40_000.0, //
    2_147_483_646.5,
    2_147_483_647.0,
    2_147_483_647.5,
    2_147_483_648.0,
    2_147_483_649.0,
    -2_147_483_647.5,
    -2_147_483_648.0,
    -2_147_483_648.5,
    -2_147_483_649.0,
    4_294_967_296.0,
    8_388_607.5,
    8_388_608.0,
    16_777_217.0,
];

fn edges_f32() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(0x7fc0_0001), // quiet NaN with a payload
        f32::from_bits(0xffc0_0000), // negative NaN
        f32::from_bits(0x7f80_0001), // signalling NaN
        f32::from_bits(0xff80_0001),
        f32::from_bits(1), // smallest subnormal
        f32::from_bits(0x8000_0001),
        f32::from_bits(0x007f_ffff), // largest subnormal
        f32::from_bits(0x807f_ffff),
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        1e30,
        -1e30,
    ];
    for &e in SCALED_EDGES {
        for scale in [32_768.0f32, 2_147_483_648.0] {
            let x = e as f32 / scale;
            v.extend([x, x.next_up(), x.next_down()]);
        }
    }
    v
}

fn edges_f64() -> Vec<f64> {
    let mut v: Vec<f64> = edges_f32().into_iter().map(f64::from).collect();
    v.extend([
        f64::NAN,
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::from_bits(0xfff8_0000_0000_0000),
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::from_bits(1),
        f64::from_bits(0x8000_0000_0000_0001),
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        1e300,
        -1e300,
    ]);
    for &e in SCALED_EDGES {
        for scale in [32_768.0f64, 2_147_483_648.0] {
            let x = e / scale;
            v.extend([x, x.next_up(), x.next_down()]);
        }
    }
    v
}

/// xorshift64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Mostly audio-like values in about [-1.25, 1.25] (some clip), some
    /// arbitrary bit patterns (NaN, inf, subnormal, huge) and some edges.
    fn f32(&mut self, edges: &[f32]) -> f32 {
        let r = self.next();
        match r % 8 {
            0 => f32::from_bits((r >> 32) as u32),
            1 => edges[(r >> 32) as usize % edges.len()],
            _ => ((r >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.5,
        }
    }
    fn f64(&mut self, edges: &[f64]) -> f64 {
        let r = self.next();
        match r % 8 {
            0 => f64::from_bits(self.next()),
            1 => edges[(r >> 32) as usize % edges.len()],
            _ => ((r >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.5,
        }
    }
}

#[test]
fn reference_agrees_with_hand_computed_values() {
    assert_eq!(reference_f32(0.5 / 32_768.0, 16), (0, false));
    assert_eq!(reference_f32(1.5 / 32_768.0, 16), (2, false));
    assert_eq!(reference_f32(32_767.5 / 32_768.0, 16), (32_767, true));
    assert_eq!(reference_f32(-32_768.5 / 32_768.0, 16), (-32_768, false));
    assert_eq!(reference_f32(-1.0, 32), (-2_147_483_648, false));
    assert_eq!(reference_f32(1.0, 32), (2_147_483_647, true));
    assert_eq!(reference_f32(f32::NAN, 16), (0, false));
    assert_eq!(
        reference_f64(2_147_483_646.5 / 2_147_483_648.0, 32),
        (2_147_483_646, false)
    );
    assert_eq!(
        reference_f64(-2_147_483_648.5 / 2_147_483_648.0, 32),
        (-2_147_483_648, false)
    );
    assert_eq!(reference_f64(f64::NEG_INFINITY, 32), (-2_147_483_648, true));
}

#[test]
fn edge_values_one_by_one_and_together() {
    let e32 = edges_f32();
    let e64 = edges_f64();
    check_f32(&e32);
    check_f64(&e64);
    // Each edge value at every position of a vector step, among in-range samples.
    for &x in &e32 {
        for pos in 0..17 {
            let mut s = vec![0.25f32; 33];
            s[pos] = x;
            check_f32(&s);
        }
    }
    for &x in &e64 {
        for pos in 0..9 {
            let mut s = vec![0.25f64; 17];
            s[pos] = x;
            check_f64(&s);
        }
    }
}

#[test]
fn every_length_up_to_70_and_unaligned_starts() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (e32, e64) = (edges_f32(), edges_f64());
    let a: Vec<f32> = (0..80).map(|_| rng.f32(&e32)).collect();
    let b: Vec<f64> = (0..80).map(|_| rng.f64(&e64)).collect();
    for n in 0..=70 {
        for start in [0, 1, 3] {
            check_f32(&a[start..start + n]);
            check_f64(&b[start..start + n]);
        }
    }
}

#[test]
fn random_data() {
    let mut rng = Rng(12_345);
    let (e32, e64) = (edges_f32(), edges_f64());
    for n in [1_000, 4_099, 65_537] {
        let a: Vec<f32> = (0..n).map(|_| rng.f32(&e32)).collect();
        let b: Vec<f64> = (0..n).map(|_| rng.f64(&e64)).collect();
        check_f32(&a);
        check_f64(&b);
    }
    // In-range audio only (the fast step throughout).
    let a: Vec<f32> = (0..10_000)
        .map(|_| ((rng.next() >> 40) as f32 / 16_777_216.0 - 0.5) * 1.9)
        .collect();
    check_f32(&a);
    check_f64(&a.iter().map(|&x| f64::from(x)).collect::<Vec<_>>());
}

#[test]
fn public_functions_check_lengths_and_dispatch() {
    let src = edges_f32();
    let mut d16 = vec![0i16; src.len()];
    let mut base = vec![0i16; src.len()];
    let n = f32_to_i16(&src, &mut d16).unwrap();
    assert_eq!(n, f32_to_i16_run(&src, &mut base, true));
    assert_eq!(d16, base);
    assert!(f32_to_i16(&src, &mut d16[1..]).is_err());
    assert!(f64_to_i32(&[0.0], &mut []).is_err());
}

#[test]
fn int_to_float_paths_agree_with_a_reference() {
    let all16: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    let mut rng = Rng(7);
    let mut i32s: Vec<i32> = vec![
        i32::MIN,
        i32::MIN + 1,
        -1,
        0,
        1,
        i32::MAX - 64,
        i32::MAX - 63,
        i32::MAX,
    ];
    i32s.extend((0..70_000).map(|_| rng.next() as i32));
    i32s.extend((0..1_000i32).map(|k| 16_777_216 + 2 * k + 1)); // ties at float32 precision
    for baseline in [true, false] {
        for n in (0..=70).chain([all16.len()]) {
            let mut d = vec![f32::NAN; n];
            i16_to_f32_run(&all16[..n], &mut d, baseline);
            for (&x, &y) in all16.iter().zip(&d) {
                assert_eq!(
                    y.to_bits(),
                    ((f64::from(x) / 32_768.0) as f32).to_bits(),
                    "i16 {x}"
                );
            }
        }
        for n in (0..=70).chain([i32s.len()]) {
            let mut d = vec![f32::NAN; n];
            i32_to_f32_run(&i32s[..n], &mut d, baseline);
            for (&x, &y) in i32s.iter().zip(&d) {
                // x / 2^31 is exact in f64; one rounding to f32, as numpy's cast then exact scaling.
                assert_eq!(
                    y.to_bits(),
                    ((f64::from(x) / 2_147_483_648.0) as f32).to_bits(),
                    "i32 {x}"
                );
            }
        }
    }
}
