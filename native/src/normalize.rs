//! Frame normalisation: uint8 HWC -> float32 CHW, `x * scale[c] + offset[c]`.
//!
//! Bit-identical to the numpy implementation in
//! `remotemedia/kernels/normalize.py`: the per-channel coefficients come from
//! Python (float32), and each output is `(x as f32) * scale` rounded to f32,
//! then `+ offset` rounded to f32. Rust never contracts `*` and `+` into a
//! fused multiply-add, so the two roundings are the same as numpy's.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::gil::maybe_detach;

/// Pixels per block: one block of each output plane stays in L1/L2 while
/// the input block streams through.
const BLOCK_PIXELS: usize = 4096;

/// One channel: a contiguous plane from a contiguous uint8 input.
fn plane1(src: &[u8], dst: &mut [f32], s: f32, o: f32) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = (x as f32) * s + o;
    }
}

/// `C` interleaved channels into `C` planes, one block of pixels at a time.
///
/// Per block, each channel is a strided read of the (cache-resident) input
/// block and a contiguous write: loops LLVM vectorises.
fn planes<const C: usize>(src: &[u8], dst: &mut [f32], scale: &[f32], offset: &[f32]) {
    let n = src.len() / C;
    let mut start = 0;
    while start < n {
        let len = BLOCK_PIXELS.min(n - start);
        let block = &src[start * C..(start + len) * C];
        for c in 0..C {
            let (s, o) = (scale[c], offset[c]);
            let d = &mut dst[c * n + start..c * n + start + len];
            for (dv, px) in d.iter_mut().zip(block.chunks_exact(C)) {
                *dv = (px[c] as f32) * s + o;
            }
        }
        start += len;
    }
}

/// Any channel count: per channel, a strided pass over the whole input.
fn planes_any(src: &[u8], dst: &mut [f32], channels: usize, scale: &[f32], offset: &[f32]) {
    let n = src.len() / channels;
    for (c, plane) in dst.chunks_exact_mut(n).enumerate() {
        let (s, o) = (scale[c], offset[c]);
        for (d, px) in plane.iter_mut().zip(src.chunks_exact(channels)) {
            *d = (px[c] as f32) * s + o;
        }
    }
}

/// Normalises a C-contiguous uint8 (height, width, channels) frame, given
/// flat, into the flat float32 (channels, height, width) array `out`.
#[pyfunction]
fn normalize_u8_f32(
    py: Python<'_>,
    src: PyReadonlyArray1<'_, u8>,
    channels: usize,
    scale: Vec<f32>,
    offset: Vec<f32>,
    out: &Bound<'_, PyArray1<f32>>,
) -> PyResult<()> {
    let s = src.as_slice()?;
    let mut out = out.try_readwrite().map_err(|e| {
        PyValueError::new_err(format!(
            "out: expected a writeable array not borrowed elsewhere, given one that is not ({e})"
        ))
    })?;
    let d = out.as_slice_mut()?;
    if channels == 0 || s.len() % channels != 0 {
        return Err(PyValueError::new_err(format!(
            "channels: expected a divisor of the input length {}, given {channels}",
            s.len()
        )));
    }
    if scale.len() != channels || offset.len() != channels {
        return Err(PyValueError::new_err(format!(
            "scale/offset: expected {channels} values each, given {} and {}",
            scale.len(),
            offset.len()
        )));
    }
    if d.len() != s.len() {
        return Err(PyValueError::new_err(format!(
            "out: expected {} elements (same as the input), given {}",
            s.len(),
            d.len()
        )));
    }
    if s.is_empty() {
        return Ok(());
    }
    maybe_detach(py, s.len(), || match channels {
        1 => plane1(s, d, scale[0], offset[0]),
        3 => planes::<3>(s, d, &scale, &offset),
        4 => planes::<4>(s, d, &scale, &offset),
        _ => planes_any(s, d, channels, &scale, &offset),
    });
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(normalize_u8_f32, m)?)?;
    Ok(())
}
