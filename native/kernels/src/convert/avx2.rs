//! AVX2 bodies of the float -> int conversions (x86_64 only).
//!
//! Each function converts the longest prefix that is a whole number of
//! vector steps and returns `(converted, clipped)`; the caller finishes the
//! tail with the scalar loop. Results are bit for bit those of the scalar
//! loops in `convert.rs` (the crate's tests compare both paths with a plain
//! scalar reference):
//! - `cvtps`/`cvtpd` round with the MXCSR mode, which Rust code always runs
//!   at its default, round to nearest even; NaN and out-of-range lanes
//!   convert to `i32::MIN` ("integer indefinite");
//! - fast step: scale, convert, and one test that no lane is NaN or beyond
//!   the integer range; in-range audio never pays for more;
//! - otherwise the step is redone exactly: NaN lanes zeroed (AND with an
//!   ordered-compare mask), the top clamped or fixed after the conversion,
//!   and the clipped lanes counted: a sample clips iff its scaled value is
//!   `>= MAX + 0.5` or `< MIN - 0.5` (MAX + 0.5 rounds to the even MAX + 1,
//!   MIN - 0.5 to the even MIN).

use std::arch::x86_64::*;

/// `v` with NaN lanes set to +0.0.
#[inline]
#[target_feature(enable = "avx2")]
fn zero_nan_ps(v: __m256) -> __m256 {
    _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q))
}

#[inline]
#[target_feature(enable = "avx2")]
fn zero_nan_pd(v: __m256d) -> __m256d {
    _mm256_and_pd(v, _mm256_cmp_pd(v, v, _CMP_ORD_Q))
}

/// The exact float32 -> int16 step for 8 scaled samples: NaN -> 0, clamp
/// the top inside i32 (the pack saturates it), convert; and the clip count.
#[inline]
#[target_feature(enable = "avx2")]
fn f32_i16_exact(a: __m256) -> (__m256i, u32) {
    let hi = _mm256_cmp_ps(a, _mm256_set1_ps(32_767.5), _CMP_GE_OQ);
    let lo = _mm256_cmp_ps(a, _mm256_set1_ps(-32_768.5), _CMP_LT_OQ);
    let n = _mm256_movemask_ps(_mm256_or_ps(hi, lo)).count_ones();
    let c = _mm256_min_ps(zero_nan_ps(a), _mm256_set1_ps(40_000.0));
    (_mm256_cvtps_epi32(c), n)
}

/// float32 -> int16, 16 samples a step.
///
/// Fast step: scale and convert, then one test that every result is in the
/// int16 range; NaN and every value beyond the range (either side) fail it
/// (they convert to `i32::MIN` or beyond int16), and only then the step is
/// redone exactly ([`f32_i16_exact`]). So in-range audio pays for neither
/// the NaN mask nor the clip count.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn f32_to_i16(src: &[f32], dst: &mut [i16]) -> (usize, u64) {
    let n = src.len().min(dst.len()) / 16 * 16;
    let scale = _mm256_set1_ps(32_768.0);
    let bias = _mm256_set1_epi32(32_768);
    let high16 = _mm256_set1_epi32(-65_536); // 0xffff_0000
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut clipped = 0u64;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= both lengths.
        let (a, b) = unsafe {
            (
                _mm256_mul_ps(_mm256_loadu_ps(sp.add(i)), scale),
                _mm256_mul_ps(_mm256_loadu_ps(sp.add(i + 8)), scale),
            )
        };
        let (mut ia, mut ib) = (_mm256_cvtps_epi32(a), _mm256_cvtps_epi32(b));
        // In range iff ia + 32768 (wrapping) is in [0, 65535].
        let t = _mm256_or_si256(_mm256_add_epi32(ia, bias), _mm256_add_epi32(ib, bias));
        if _mm256_testz_si256(t, high16) == 0 {
            let (ea, na) = f32_i16_exact(a);
            let (eb, nb) = f32_i16_exact(b);
            (ia, ib) = (ea, eb);
            clipped += (na + nb) as u64;
        }
        // Per 128-bit lane: a0..3 b0..3 | a4..7 b4..7; the permute restores the order.
        let p = _mm256_permute4x64_epi64(_mm256_packs_epi32(ia, ib), 0b11_01_10_00);
        // SAFETY: as above.
        unsafe { _mm256_storeu_si256(dp.add(i) as *mut __m256i, p) };
        i += 16;
    }
    (n, clipped)
}

/// The exact float32 -> int32 step: above the range `cvtps` gives
/// `i32::MIN` (0x8000_0000), which XOR all-ones turns into `i32::MAX`.
#[inline]
#[target_feature(enable = "avx2")]
fn f32_i32_exact(a: __m256) -> (__m256i, u32) {
    // float32 values this large are integers: no rounding near the limits.
    let hi = _mm256_cmp_ps(a, _mm256_set1_ps(2_147_483_648.0), _CMP_GE_OQ);
    let lo = _mm256_cmp_ps(a, _mm256_set1_ps(-2_147_483_648.0), _CMP_LT_OQ);
    let n = _mm256_movemask_ps(_mm256_or_ps(hi, lo)).count_ones();
    let r = _mm256_xor_si256(_mm256_cvtps_epi32(zero_nan_ps(a)), _mm256_castps_si256(hi));
    (r, n)
}

/// float32 -> int32, 16 samples a step. Fast step: scale and convert; NaN
/// and every value beyond the range give `i32::MIN`, and only a step with
/// an `i32::MIN` in it (possibly a legitimate -1.0) is redone exactly.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn f32_to_i32(src: &[f32], dst: &mut [i32]) -> (usize, u64) {
    let n = src.len().min(dst.len()) / 16 * 16;
    let scale = _mm256_set1_ps(2_147_483_648.0);
    let min = _mm256_set1_epi32(i32::MIN);
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut clipped = 0u64;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= both lengths.
        let (a, b) = unsafe {
            (
                _mm256_mul_ps(_mm256_loadu_ps(sp.add(i)), scale),
                _mm256_mul_ps(_mm256_loadu_ps(sp.add(i + 8)), scale),
            )
        };
        let (mut ra, mut rb) = (_mm256_cvtps_epi32(a), _mm256_cvtps_epi32(b));
        let t = _mm256_or_si256(_mm256_cmpeq_epi32(ra, min), _mm256_cmpeq_epi32(rb, min));
        if _mm256_testz_si256(t, t) == 0 {
            let (ea, na) = f32_i32_exact(a);
            let (eb, nb) = f32_i32_exact(b);
            (ra, rb) = (ea, eb);
            clipped += (na + nb) as u64;
        }
        // SAFETY: as above.
        unsafe {
            _mm256_storeu_si256(dp.add(i) as *mut __m256i, ra);
            _mm256_storeu_si256(dp.add(i + 8) as *mut __m256i, rb);
        }
        i += 16;
    }
    (n, clipped)
}

/// The exact float64 -> int16 step for 4 scaled samples (as for float32).
#[inline]
#[target_feature(enable = "avx2")]
fn f64_i16_exact(a: __m256d) -> (__m128i, u32) {
    let hi = _mm256_cmp_pd(a, _mm256_set1_pd(32_767.5), _CMP_GE_OQ);
    let lo = _mm256_cmp_pd(a, _mm256_set1_pd(-32_768.5), _CMP_LT_OQ);
    let n = _mm256_movemask_pd(_mm256_or_pd(hi, lo)).count_ones();
    let c = _mm256_min_pd(zero_nan_pd(a), _mm256_set1_pd(40_000.0));
    (_mm256_cvtpd_epi32(c), n)
}

/// float64 -> int16, 8 samples a step, with the fast step of [`f32_to_i16`].
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn f64_to_i16(src: &[f64], dst: &mut [i16]) -> (usize, u64) {
    let n = src.len().min(dst.len()) / 8 * 8;
    let scale = _mm256_set1_pd(32_768.0);
    let bias = _mm_set1_epi32(32_768);
    let high16 = _mm_set1_epi32(-65_536);
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut clipped = 0u64;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 8 <= n <= both lengths.
        let (a, b) = unsafe {
            (
                _mm256_mul_pd(_mm256_loadu_pd(sp.add(i)), scale),
                _mm256_mul_pd(_mm256_loadu_pd(sp.add(i + 4)), scale),
            )
        };
        let (mut ia, mut ib) = (_mm256_cvtpd_epi32(a), _mm256_cvtpd_epi32(b));
        let t = _mm_or_si128(_mm_add_epi32(ia, bias), _mm_add_epi32(ib, bias));
        if _mm_testz_si128(t, high16) == 0 {
            let (ea, na) = f64_i16_exact(a);
            let (eb, nb) = f64_i16_exact(b);
            (ia, ib) = (ea, eb);
            clipped += (na + nb) as u64;
        }
        // SAFETY: as above.
        unsafe { _mm_storeu_si128(dp.add(i) as *mut __m128i, _mm_packs_epi32(ia, ib)) };
        i += 8;
    }
    (n, clipped)
}

/// The exact float64 -> int32 step: clamping to `i32::MAX` first is exact
/// (it is an integer, and every value it replaces rounds or clips to it);
/// below the range `cvtpd` gives `i32::MIN`, the clipped value.
#[inline]
#[target_feature(enable = "avx2")]
fn f64_i32_exact(a: __m256d) -> (__m128i, u32) {
    let hi = _mm256_cmp_pd(a, _mm256_set1_pd(2_147_483_647.5), _CMP_GE_OQ);
    let lo = _mm256_cmp_pd(a, _mm256_set1_pd(-2_147_483_648.5), _CMP_LT_OQ);
    let n = _mm256_movemask_pd(_mm256_or_pd(hi, lo)).count_ones();
    let c = _mm256_min_pd(zero_nan_pd(a), _mm256_set1_pd(2_147_483_647.0));
    (_mm256_cvtpd_epi32(c), n)
}

/// float64 -> int32, 8 samples a step, with the fast step of [`f32_to_i32`]
/// (values in [2^31 - 0.5, 2^31) round out of range, so also to `i32::MIN`).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn f64_to_i32(src: &[f64], dst: &mut [i32]) -> (usize, u64) {
    let n = src.len().min(dst.len()) / 8 * 8;
    let scale = _mm256_set1_pd(2_147_483_648.0);
    let min = _mm_set1_epi32(i32::MIN);
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut clipped = 0u64;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 8 <= n <= both lengths.
        let (a, b) = unsafe {
            (
                _mm256_mul_pd(_mm256_loadu_pd(sp.add(i)), scale),
                _mm256_mul_pd(_mm256_loadu_pd(sp.add(i + 4)), scale),
            )
        };
        let (mut ra, mut rb) = (_mm256_cvtpd_epi32(a), _mm256_cvtpd_epi32(b));
        let t = _mm_or_si128(_mm_cmpeq_epi32(ra, min), _mm_cmpeq_epi32(rb, min));
        if _mm_testz_si128(t, t) == 0 {
            let (ea, na) = f64_i32_exact(a);
            let (eb, nb) = f64_i32_exact(b);
            (ra, rb) = (ea, eb);
            clipped += (na + nb) as u64;
        }
        // SAFETY: as above.
        unsafe {
            _mm_storeu_si128(dp.add(i) as *mut __m128i, ra);
            _mm_storeu_si128(dp.add(i + 4) as *mut __m128i, rb);
        }
        i += 8;
    }
    (n, clipped)
}
