//! Bindings of `remotemedia_kernels::convert` (rules and rounding there).
//!
//! Each function writes into `out` (allocated by the caller) and returns the
//! number of clipped samples.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::prelude::*;
use remotemedia_kernels::convert as k;

use crate::errors::{invalid, to_py};
use crate::gil::maybe_detach;

/// A write borrow of `out`, or a `KernelInputError` (read-only or already
/// borrowed) instead of the panic that extracting a `PyReadwriteArray` would raise.
pub fn writable<'py, T: numpy::Element>(
    out: &Bound<'py, PyArray1<T>>,
) -> PyResult<PyReadwriteArray1<'py, T>> {
    out.try_readwrite().map_err(|e| {
        invalid(
            "out",
            "a writeable array not borrowed elsewhere",
            format!("one that is not ({e})"),
        )
    })
}

macro_rules! binding {
    ($name:ident, $src:ty, $dst:ty, $kernel:path) => {
        #[pyfunction]
        fn $name(
            py: Python<'_>,
            src: PyReadonlyArray1<'_, $src>,
            out: &Bound<'_, PyArray1<$dst>>,
        ) -> PyResult<u64> {
            let s = src.as_slice()?;
            let mut out = writable(out)?;
            let d = out.as_slice_mut()?;
            maybe_detach(py, s.len(), || $kernel(s, d)).map_err(to_py)
        }
    };
}

binding!(convert_i16_f32, i16, f32, k::i16_to_f32);
binding!(convert_i32_f32, i32, f32, k::i32_to_f32);
binding!(convert_f32_i16, f32, i16, k::f32_to_i16);
binding!(convert_f32_i32, f32, i32, k::f32_to_i32);
binding!(convert_f64_i16, f64, i16, k::f64_to_i16);
binding!(convert_f64_i32, f64, i32, k::f64_to_i32);
binding!(convert_f64_f32, f64, f32, k::f64_to_f32);
binding!(convert_i16_i32, i16, i32, k::i16_to_i32);
binding!(convert_i32_i16, i32, i16, k::i32_to_i16);

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
