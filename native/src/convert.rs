//! Sample format conversion: int16/int32 <-> float32, float64 -> any.
//!
//! Rules (identical to the numpy implementation in
//! `remotemedia/kernels/convert.py`, bit for bit):
//! - int -> float: convert, then multiply by 2^-(bits-1) (exact: a power of two);
//! - float -> int: multiply by 2^(bits-1) in the input's precision, round
//!   half to even, NaN -> 0, clip to the integer range and count the clipped;
//! - int16 <-> int32: shift by 16 bits, rounding half to even on the way down.
//!
//! Each function writes into `out` (allocated by the caller) and returns the
//! number of clipped samples.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::gil::maybe_detach;

/// A write borrow of `out`, or a ValueError (read-only or already borrowed)
/// instead of the panic that extracting a `PyReadwriteArray` would raise.
fn writable<'py, T: numpy::Element>(
    out: &Bound<'py, PyArray1<T>>,
) -> PyResult<PyReadwriteArray1<'py, T>> {
    out.try_readwrite().map_err(|e| {
        PyValueError::new_err(format!(
            "out: expected a writeable array not borrowed elsewhere, given one that is not ({e})"
        ))
    })
}

fn check_len(n_in: usize, n_out: usize) -> PyResult<()> {
    if n_in != n_out {
        return Err(PyValueError::new_err(format!(
            "out: expected {n_in} samples (same as the input), given {n_out}"
        )));
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

float_to_int_loop!(f32_to_i16, f32, i16, 16, 40_000.0, 12_582_912.0); // 1.5 * 2^23
float_to_int_loop!(f64_to_i16, f64, i16, 16, 40_000.0, 6_755_399_441_055_744.0); // 1.5 * 2^52
float_to_int_loop!(
    f64_to_i32,
    f64,
    i32,
    32,
    4_294_967_296.0,
    6_755_399_441_055_744.0
);

/// float32 -> int32: the range (2^31) is beyond the float32 window of the
/// trick above, so values of magnitude >= 2^23 (integers already) pass
/// through and the rest are rounded on their magnitude.
fn f32_to_i32(src: &[f32], dst: &mut [i32]) -> u64 {
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

macro_rules! int_to_float {
    ($name:ident, $src:ty, $bits:expr) => {
        #[pyfunction]
        fn $name(
            py: Python<'_>,
            src: PyReadonlyArray1<'_, $src>,
            out: &Bound<'_, PyArray1<f32>>,
        ) -> PyResult<u64> {
            let s = src.as_slice()?;
            let mut out = writable(out)?;
            let d = out.as_slice_mut()?;
            check_len(s.len(), d.len())?;
            let scale = 1.0 / ((1u64 << ($bits - 1)) as f32);
            maybe_detach(py, s.len(), || {
                for (o, &x) in d.iter_mut().zip(s) {
                    *o = (x as f32) * scale;
                }
            });
            Ok(0)
        }
    };
}

int_to_float!(convert_i16_f32, i16, 16);
int_to_float!(convert_i32_f32, i32, 32);

macro_rules! float_to_int {
    ($name:ident, $src:ty, $dst:ty, $kernel:ident) => {
        #[pyfunction]
        fn $name(
            py: Python<'_>,
            src: PyReadonlyArray1<'_, $src>,
            out: &Bound<'_, PyArray1<$dst>>,
        ) -> PyResult<u64> {
            let s = src.as_slice()?;
            let mut out = writable(out)?;
            let d = out.as_slice_mut()?;
            check_len(s.len(), d.len())?;
            Ok(maybe_detach(py, s.len(), || $kernel(s, d)))
        }
    };
}

float_to_int!(convert_f32_i16, f32, i16, f32_to_i16);
float_to_int!(convert_f32_i32, f32, i32, f32_to_i32);
float_to_int!(convert_f64_i16, f64, i16, f64_to_i16);
float_to_int!(convert_f64_i32, f64, i32, f64_to_i32);

#[pyfunction]
fn convert_f64_f32(
    py: Python<'_>,
    src: PyReadonlyArray1<'_, f64>,
    out: &Bound<'_, PyArray1<f32>>,
) -> PyResult<u64> {
    let s = src.as_slice()?;
    let mut out = writable(out)?;
    let d = out.as_slice_mut()?;
    check_len(s.len(), d.len())?;
    maybe_detach(py, s.len(), || {
        for (o, &x) in d.iter_mut().zip(s) {
            *o = x as f32;
        }
    });
    Ok(0)
}

#[pyfunction]
fn convert_i16_i32(
    py: Python<'_>,
    src: PyReadonlyArray1<'_, i16>,
    out: &Bound<'_, PyArray1<i32>>,
) -> PyResult<u64> {
    let s = src.as_slice()?;
    let mut out = writable(out)?;
    let d = out.as_slice_mut()?;
    check_len(s.len(), d.len())?;
    maybe_detach(py, s.len(), || {
        for (o, &x) in d.iter_mut().zip(s) {
            *o = (x as i32) << 16;
        }
    });
    Ok(0)
}

#[pyfunction]
fn convert_i32_i16(
    py: Python<'_>,
    src: PyReadonlyArray1<'_, i32>,
    out: &Bound<'_, PyArray1<i16>>,
) -> PyResult<u64> {
    let s = src.as_slice()?;
    let mut out = writable(out)?;
    let d = out.as_slice_mut()?;
    check_len(s.len(), d.len())?;
    Ok(maybe_detach(py, s.len(), || {
        let mut clipped = 0u64;
        for (o, &x) in d.iter_mut().zip(s) {
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
    }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(convert_i16_f32, m)?)?;
    m.add_function(wrap_pyfunction!(convert_i32_f32, m)?)?;
    m.add_function(wrap_pyfunction!(convert_f32_i16, m)?)?;
    m.add_function(wrap_pyfunction!(convert_f32_i32, m)?)?;
    m.add_function(wrap_pyfunction!(convert_f64_i16, m)?)?;
    m.add_function(wrap_pyfunction!(convert_f64_i32, m)?)?;
    m.add_function(wrap_pyfunction!(convert_f64_f32, m)?)?;
    m.add_function(wrap_pyfunction!(convert_i16_i32, m)?)?;
    m.add_function(wrap_pyfunction!(convert_i32_i16, m)?)?;
    Ok(())
}
