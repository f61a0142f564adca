//! Sample format conversion on any values and lengths: no panic, and every
//! output (and the clip count) equal to a plain scalar reference of the rules
//! (scale in the input's precision, round half to even, NaN -> 0, clip).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use remotemedia_kernels::{convert, KernelError};

#[derive(Arbitrary, Debug)]
enum Case {
    F32ToI16(Vec<f32>),
    F32ToI32(Vec<f32>),
    F64ToI16(Vec<f64>),
    F64ToI32(Vec<f64>),
    F64ToF32(Vec<f64>),
    I16ToF32(Vec<i16>),
    I32ToF32(Vec<i32>),
    I16ToI32(Vec<i16>),
    I32ToI16(Vec<i32>),
    /// An output of the wrong length must be refused, never written past.
    WrongLength(Vec<f32>, u8),
}

/// round half to even, NaN -> 0, clip to [lo, hi]; (value, clipped).
fn reference(v: f64, lo: f64, hi: f64) -> (f64, bool) {
    if v.is_nan() {
        return (0.0, false);
    }
    let r = v.round_ties_even();
    if r < lo {
        (lo, true)
    } else if r > hi {
        (hi, true)
    } else {
        (r, false)
    }
}

fn check_float_to_int<S: Copy, D: Copy + Default + PartialEq + std::fmt::Debug>(
    src: &[S],
    kernel: fn(&[S], &mut [D]) -> Result<u64, KernelError>,
    scaled: impl Fn(S) -> f64,
    bits: u32,
    to_dst: impl Fn(f64) -> D,
) {
    let mut dst = vec![D::default(); src.len()];
    let clipped = kernel(src, &mut dst).expect("same lengths are accepted");
    let (lo, hi) = (
        -(2f64.powi(bits as i32 - 1)),
        2f64.powi(bits as i32 - 1) - 1.0,
    );
    let mut want_clipped = 0u64;
    for (i, (&x, &got)) in src.iter().zip(&dst).enumerate() {
        let (r, c) = reference(scaled(x), lo, hi);
        want_clipped += c as u64;
        assert_eq!(got, to_dst(r), "sample {i}");
    }
    assert_eq!(clipped, want_clipped);
}

fuzz_target!(|case: Case| match case {
    // The scaling happens in the input's precision (an f32 product is
    // rounded to f32 before rounding to an integer), as numpy does.
    Case::F32ToI16(v) => check_float_to_int(
        &v,
        convert::f32_to_i16,
        |x| (x * 32_768.0f32) as f64,
        16,
        |r| r as i16,
    ),
    Case::F32ToI32(v) => check_float_to_int(
        &v,
        convert::f32_to_i32,
        |x| (x * 2_147_483_648.0f32) as f64,
        32,
        |r| r as i32,
    ),
    Case::F64ToI16(v) => check_float_to_int(
        &v,
        convert::f64_to_i16,
        |x| x * 32_768.0,
        16,
        |r| { r as i16 }
    ),
    Case::F64ToI32(v) => check_float_to_int(
        &v,
        convert::f64_to_i32,
        |x| x * 2_147_483_648.0,
        32,
        |r| r as i32,
    ),
    Case::F64ToF32(v) => {
        let mut d = vec![0f32; v.len()];
        assert_eq!(convert::f64_to_f32(&v, &mut d), Ok(0));
        for (&x, &y) in v.iter().zip(&d) {
            assert!(y.to_bits() == (x as f32).to_bits() || (x.is_nan() && y.is_nan()));
        }
    }
    Case::I16ToF32(v) => {
        let mut d = vec![0f32; v.len()];
        assert_eq!(convert::i16_to_f32(&v, &mut d), Ok(0));
        for (&x, &y) in v.iter().zip(&d) {
            assert_eq!(y as f64, x as f64 / 32_768.0);
            assert!((-1.0..1.0).contains(&y));
        }
    }
    Case::I32ToF32(v) => {
        let mut d = vec![0f32; v.len()];
        assert_eq!(convert::i32_to_f32(&v, &mut d), Ok(0));
        for (&x, &y) in v.iter().zip(&d) {
            assert_eq!(y, (x as f32) / 2_147_483_648.0);
            assert!((-1.0..=1.0).contains(&y));
        }
    }
    Case::I16ToI32(v) => {
        let mut d = vec![0i32; v.len()];
        assert_eq!(convert::i16_to_i32(&v, &mut d), Ok(0));
        for (&x, &y) in v.iter().zip(&d) {
            assert_eq!(y, x as i32 * 65_536);
        }
    }
    Case::I32ToI16(v) => {
        let mut d = vec![0i16; v.len()];
        let clipped = convert::i32_to_i16(&v, &mut d).expect("same lengths are accepted");
        let mut want = 0;
        for (&x, &y) in v.iter().zip(&d) {
            let (r, c) = reference(x as f64 / 65_536.0, -32_768.0, 32_767.0);
            want += c as u64;
            assert_eq!(y, r as i16);
        }
        assert_eq!(clipped, want);
    }
    Case::WrongLength(v, delta) => {
        let n = v.len() + 1 + delta as usize;
        let mut d = vec![7i16; n];
        match convert::f32_to_i16(&v, &mut d) {
            Err(KernelError::Invalid(m)) => assert!(m.starts_with("out: expected")),
            other => panic!("expected a length error, got {other:?}"),
        }
        assert!(d.iter().all(|&x| x == 7), "nothing written on error");
    }
});
