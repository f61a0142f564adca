//! Sample format conversion: int16/int32 <-> float32, float64 -> any.
//!
//! Rules (identical to the numpy implementation in
//! `remotemedia/kernels/convert.py`, bit for bit):
//! - int -> float: convert, then multiply by 2^-(bits-1) (exact: a power of two);
//! - float -> int: multiply by 2^(bits-1) in the input's precision, round
//!   half to even, NaN -> 0, clip to the integer range and count the clipped;
//! - int16 <-> int32: shift by 16 bits, rounding half to even on the way down.
//!
//! Each public function writes `src.len()` values into `dst` (which must have
//! the same length) and returns the number of clipped samples.

use crate::KernelError;

#[cfg(target_arch = "x86_64")]
mod avx2;

fn check_len(n_in: usize, n_out: usize) -> Result<(), KernelError> {
    if n_in != n_out {
        return Err(KernelError::invalid(
            "out",
            format!("{n_in} samples (same as the input)"),
            n_out,
        ));
    }
    Ok(())
}

/// float -> int kernels, one monomorphic loop per type pair so LLVM vectorises them.
///
/// Scale by 2^(bits-1) in the input's precision, round half to even, NaN -> 0,
/// clip and count. Rounding avoids `round_ties_even` (a libm call on baseline
/// x86-64, which blocks vectorisation) with the add-and-subtract trick: for
/// |c| < 2^(m-1) (m = mantissa bits), (c + 1.5 * 2^m) - 1.5 * 2^m rounds c to
/// an integer in the default nearest-even mode (1.5 * 2^m is even, so ties go
/// to the even integer). Values are first clamped to +-CLAMP, a bound beyond
/// the integer range but inside that window: clamping never changes whether
/// a value clips. `tests/kernels/test_convert.py` checks the results bit for
/// bit against numpy's `rint`.
macro_rules! float_to_int_loop {
    ($name:ident, $src:ty, $dst:ty, $bits:expr, $clamp:expr, $magic:expr) => {
        fn $name(src: &[$src], dst: &mut [$dst]) -> u64 {
            const SCALE: $src = (1u64 << ($bits - 1)) as $src;
            const CLAMP: $src = $clamp;
            const MAGIC: $src = $magic;
            // Values >= HI_EXCL or < LO clip.
            const HI_EXCL: $src = (1u64 << ($bits - 1)) as $src;
            const LO: $src = -((1u64 << ($bits - 1)) as $src);
            const HI: $src = ((1u64 << ($bits - 1)) - 1) as $src;
            let mut clipped = 0u64;
            // Blocks keep the clip counter in 32 bits, which vectorises better.
            for (dc, sc) in dst.chunks_mut(1 << 16).zip(src.chunks(1 << 16)) {
                let mut count = 0u32;
                for (d, &x) in dc.iter_mut().zip(sc) {
                    let v = x * SCALE;
                    let v = if v.is_nan() { 0.0 } else { v };
                    let c = if v < -CLAMP { -CLAMP } else { v };
                    let c = if c > CLAMP { CLAMP } else { c };
                    let r = (c + MAGIC) - MAGIC;
                    count += !(LO..HI_EXCL).contains(&r) as u32;
                    let r = if r < LO { LO } else { r };
                    let r = if r > HI { HI } else { r };
                    // SAFETY: r is finite and within [LO, HI], which fits i32.
                    *d = unsafe { r.to_int_unchecked::<i32>() } as $dst;
                }
                clipped += count as u64;
            }
            clipped
        }
    };
}

float_to_int_loop!(f32_to_i16_loop, f32, i16, 16, 40_000.0, 12_582_912.0); // 1.5 * 2^23
float_to_int_loop!(
    f64_to_i16_loop,
    f64,
    i16,
    16,
    40_000.0,
    6_755_399_441_055_744.0
); // 1.5 * 2^52
float_to_int_loop!(
    f64_to_i32_loop,
    f64,
    i32,
    32,
    4_294_967_296.0,
    6_755_399_441_055_744.0
);

/// float32 -> int32: the range (2^31) is beyond the float32 window of the
/// trick above, so values of magnitude >= 2^23 (integers already) pass
/// through and the rest are rounded on their magnitude.
fn f32_to_i32_loop(src: &[f32], dst: &mut [i32]) -> u64 {
    const BIG: f32 = 8_388_608.0; // 2^23
    const HI_EXCL: f32 = 2_147_483_648.0; // 2^31
    const LO: f32 = -2_147_483_648.0;
    let hi_below = f32::from_bits(HI_EXCL.to_bits() - 1);
    let mut clipped = 0u64;
    for (dc, sc) in dst.chunks_mut(1 << 16).zip(src.chunks(1 << 16)) {
        let mut count = 0u32;
        for (d, &x) in dc.iter_mut().zip(sc) {
            let v = x * HI_EXCL;
            let a = v.abs();
            let r = if a < BIG {
                ((a + BIG) - BIG).copysign(v)
            } else {
                v
            };
            let r = if r.is_nan() { 0.0 } else { r };
            let over = r >= HI_EXCL;
            count += (over | (r < LO)) as u32;
            let c = if r < LO { LO } else { r };
            let c = if c > hi_below { hi_below } else { c };
            // SAFETY: c is finite and within [-2^31, 2^31), which fits i32.
            let c = unsafe { c.to_int_unchecked::<i32>() };
            *d = if over { i32::MAX } else { c };
        }
        clipped += count as u64;
    }
    clipped
}

/// float -> int with runtime dispatch: the AVX2 body when the CPU has it
/// (and `baseline` is false), then the scalar loop for the tail (or all).
macro_rules! dispatch {
    ($name:ident, $src:ty, $dst:ty, $simd:ident, $scalar:ident) => {
        pub(crate) fn $name(src: &[$src], dst: &mut [$dst], baseline: bool) -> u64 {
            #[cfg(target_arch = "x86_64")]
            if !baseline && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 support was just checked.
                let (done, clipped) = unsafe { avx2::$simd(src, dst) };
                return clipped + $scalar(&src[done..], &mut dst[done..]);
            }
            let _ = baseline;
            $scalar(src, dst)
        }
    };
}

dispatch!(f32_to_i16_run, f32, i16, f32_to_i16, f32_to_i16_loop);
dispatch!(f32_to_i32_run, f32, i32, f32_to_i32, f32_to_i32_loop);
dispatch!(f64_to_i16_run, f64, i16, f64_to_i16, f64_to_i16_loop);
dispatch!(f64_to_i32_run, f64, i32, f64_to_i32, f64_to_i32_loop);

fn f32_to_i16_fast(src: &[f32], dst: &mut [i16]) -> u64 {
    f32_to_i16_run(src, dst, false)
}

fn f32_to_i32_fast(src: &[f32], dst: &mut [i32]) -> u64 {
    f32_to_i32_run(src, dst, false)
}

fn f64_to_i16_fast(src: &[f64], dst: &mut [i16]) -> u64 {
    f64_to_i16_run(src, dst, false)
}

fn f64_to_i32_fast(src: &[f64], dst: &mut [i32]) -> u64 {
    f64_to_i32_run(src, dst, false)
}

macro_rules! checked {
    ($(#[$doc:meta])* $name:ident, $src:ty, $dst:ty, $kernel:ident) => {
        $(#[$doc])*
        pub fn $name(src: &[$src], dst: &mut [$dst]) -> Result<u64, KernelError> {
            check_len(src.len(), dst.len())?;
            Ok($kernel(src, dst))
        }
    };
}

#[inline(always)]
fn i16_to_f32_body(src: &[i16], dst: &mut [f32]) {
    const SCALE: f32 = 1.0 / 32_768.0;
    for (o, &x) in dst.iter_mut().zip(src) {
        *o = (x as f32) * SCALE;
    }
}

#[inline(always)]
fn i32_to_f32_body(src: &[i32], dst: &mut [f32]) {
    const SCALE: f32 = 1.0 / 2_147_483_648.0;
    for (o, &x) in dst.iter_mut().zip(src) {
        *o = (x as f32) * SCALE;
    }
}

/// int -> float loops compiled for AVX2 (wider vectors) when the CPU has
/// it: the same conversions and multiplications, so the same bits.
macro_rules! int_to_float {
    ($name:ident, $avx2:ident, $src:ty, $body:ident) => {
        /// # Safety
        /// The CPU must support AVX2.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2(src: &[$src], dst: &mut [f32]) {
            $body(src, dst)
        }

        pub(crate) fn $name(src: &[$src], dst: &mut [f32], baseline: bool) -> u64 {
            #[cfg(target_arch = "x86_64")]
            if !baseline && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 support was just checked.
                unsafe { $avx2(src, dst) };
                return 0;
            }
            let _ = baseline;
            $body(src, dst);
            0
        }
    };
}

int_to_float!(i16_to_f32_run, i16_to_f32_avx2, i16, i16_to_f32_body);
int_to_float!(i32_to_f32_run, i32_to_f32_avx2, i32, i32_to_f32_body);

fn i16_to_f32_loop(src: &[i16], dst: &mut [f32]) -> u64 {
    i16_to_f32_run(src, dst, false)
}

fn i32_to_f32_loop(src: &[i32], dst: &mut [f32]) -> u64 {
    i32_to_f32_run(src, dst, false)
}

fn f64_to_f32_loop(src: &[f64], dst: &mut [f32]) -> u64 {
    for (o, &x) in dst.iter_mut().zip(src) {
        *o = x as f32;
    }
    0
}

fn i16_to_i32_loop(src: &[i16], dst: &mut [i32]) -> u64 {
    for (o, &x) in dst.iter_mut().zip(src) {
        *o = (x as i32) << 16;
    }
    0
}

fn i32_to_i16_loop(src: &[i32], dst: &mut [i16]) -> u64 {
    let mut clipped = 0u64;
    for (o, &x) in dst.iter_mut().zip(src) {
        // x / 65536 is exact in f64; round half to even.
        let r = (x as f64 / 65536.0).round_ties_even();
        *o = if r > i16::MAX as f64 {
            clipped += 1;
            i16::MAX
        } else {
            r as i16
        };
    }
    clipped
}

checked!(
    /// int16 -> float32 in [-1, 1).
    i16_to_f32, i16, f32, i16_to_f32_loop
);
checked!(
    /// int32 -> float32 in [-1, 1] (rounded to float32).
    i32_to_f32, i32, f32, i32_to_f32_loop
);
checked!(
    /// float32 -> int16: scale by 2^15, round half to even, NaN -> 0, clip.
    f32_to_i16, f32, i16, f32_to_i16_fast
);
checked!(
    /// float32 -> int32: scale by 2^31, round half to even, NaN -> 0, clip.
    f32_to_i32, f32, i32, f32_to_i32_fast
);
checked!(
    /// float64 -> int16: scale by 2^15, round half to even, NaN -> 0, clip.
    f64_to_i16, f64, i16, f64_to_i16_fast
);
checked!(
    /// float64 -> int32: scale by 2^31, round half to even, NaN -> 0, clip.
    f64_to_i32, f64, i32, f64_to_i32_fast
);
checked!(
    /// float64 -> float32 (rounded to nearest).
    f64_to_f32, f64, f32, f64_to_f32_loop
);
checked!(
    /// int16 -> int32: shift left by 16 bits.
    i16_to_i32, i16, i32, i16_to_i32_loop
);
checked!(
    /// int32 -> int16: divide by 2^16, round half to even, clip the top.
    i32_to_i16, i32, i16, i32_to_i16_loop
);

#[cfg(test)]
mod tests;

#[cfg(test)]
mod examples {
    use super::*;

    #[test]
    fn float_to_int_rounds_half_to_even_maps_nan_to_zero_and_counts_clips() {
        let x = [
            0.5 / 32_768.0,  // 0.5 -> 0
            1.5 / 32_768.0,  // 1.5 -> 2
            -2.5 / 32_768.0, // -2.5 -> -2
            f32::NAN,
            1.0,  // 32768 clips to 32767
            -1.0, // -32768 fits
            f32::INFINITY,
            f32::NEG_INFINITY,
            32_767.5 / 32_768.0, // rounds to 32768: clips
        ];
        let mut d = [0i16; 9];
        assert_eq!(f32_to_i16(&x, &mut d), Ok(4));
        assert_eq!(d, [0, 2, -2, 0, 32_767, -32_768, 32_767, -32_768, 32_767]);
        let mut d = [0i32; 4];
        assert_eq!(f32_to_i32(&[1.0, -1.0, f32::NAN, 0.25], &mut d), Ok(1));
        assert_eq!(d, [i32::MAX, i32::MIN, 0, 1 << 29]);
        let mut d = [0i16; 3];
        assert_eq!(i32_to_i16(&[i32::MAX, 98_304, 163_840], &mut d), Ok(1));
        assert_eq!(d, [32_767, 2, 2]); // 1.5 -> 2, 2.5 -> 2
    }

    #[test]
    fn lengths_must_match() {
        let mut d = [0i16; 2];
        let e = f32_to_i16(&[0.0; 3], &mut d).unwrap_err();
        assert_eq!(
            e.message(),
            "out: expected 3 samples (same as the input), given 2"
        );
        assert_eq!(d, [0, 0]);
    }
}
