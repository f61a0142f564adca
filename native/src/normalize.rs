//! Bindings of `remotemedia_kernels::normalize` (the arithmetic contract there).

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use remotemedia_kernels::normalize as k;

use crate::convert::writable;
use crate::errors::to_py;
use crate::gil::maybe_detach;

/// Normalises a C-contiguous uint8 (height, width, channels) frame, given
/// flat, into the flat float32 (channels, height, width) array `out`.
///
/// `baseline=True` skips the AVX2 code (tests compare both paths).
#[pyfunction]
#[pyo3(signature = (src, channels, scale, offset, out, baseline=false))]
fn normalize_u8_f32(
    py: Python<'_>,
    src: PyReadonlyArray1<'_, u8>,
    channels: usize,
    scale: Vec<f32>,
    offset: Vec<f32>,
    out: &Bound<'_, PyArray1<f32>>,
    baseline: bool,
) -> PyResult<()> {
    let s = src.as_slice()?;
    let mut out = writable(out)?;
    let d = out.as_slice_mut()?;
    maybe_detach(py, s.len(), || {
        k::normalize_u8_f32(s, channels, &scale, &offset, d, baseline)
    })
    .map_err(to_py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(normalize_u8_f32, m)?)?;
    Ok(())
}
