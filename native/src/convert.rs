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

/// Float samples that can be scaled, rounded and clipped to an integer type.
trait Sample: Copy + Send + Sync {
    fn scaled_round(self, scale: f64) -> f64;
}

impl Sample for f32 {
    #[inline(always)]
    fn scaled_round(self, scale: f64) -> f64 {
        // The product and the rounding happen in f32, as in numpy.
        (self * scale as f32).round_ties_even() as f64
    }
}

impl Sample for f64 {
    #[inline(always)]
    fn scaled_round(self, scale: f64) -> f64 {
        (self * scale).round_ties_even()
    }
}

/// float -> int for one slice: scale, round half to even, NaN -> 0, clip.
fn float_to_int<S: Sample, T: Copy + Send>(
    src: &[S],
    dst: &mut [T],
    bits: u32,
    cast: fn(i64) -> T,
) -> u64 {
    let scale = (1u64 << (bits - 1)) as f64;
    let hi = (1i64 << (bits - 1)) - 1;
    let lo = -(1i64 << (bits - 1));
    // The smallest float above the integer range, and the range's bottom.
    let hi_f = (1u64 << (bits - 1)) as f64;
    let lo_f = lo as f64;
    let mut clipped = 0u64;
    for (d, &x) in dst.iter_mut().zip(src) {
        let r = x.scaled_round(scale);
        let v = if r.is_nan() {
            0
        } else if r >= hi_f {
            clipped += 1;
            hi
        } else if r < lo_f {
            clipped += 1;
            lo
        } else {
            r as i64
        };
        *d = cast(v);
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
    ($name:ident, $src:ty, $dst:ty, $bits:expr) => {
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
            Ok(maybe_detach(py, s.len(), || {
                float_to_int(s, d, $bits, |v| v as $dst)
            }))
        }
    };
}

float_to_int!(convert_f32_i16, f32, i16, 16);
float_to_int!(convert_f32_i32, f32, i32, 32);
float_to_int!(convert_f64_i16, f64, i16, 16);
float_to_int!(convert_f64_i32, f64, i32, 32);

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
