//! Bindings of `remotemedia_kernels::mix` (the rules are there).
//!
//! Each function reads the flat samples of a (channels, frames) array, planar
//! (channel after channel) or interleaved (frame after frame), and writes the
//! mean of every frame into `out` (allocated by the caller, `frames` long).

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use remotemedia_kernels::mix as k;

use crate::convert::writable;
use crate::errors::to_py;
use crate::gil::maybe_detach;

macro_rules! binding {
    ($name:ident, $t:ty, $kernel:path) => {
        #[pyfunction]
        fn $name(
            py: Python<'_>,
            src: PyReadonlyArray1<'_, $t>,
            channels: usize,
            interleaved: bool,
            out: &Bound<'_, PyArray1<$t>>,
        ) -> PyResult<()> {
            let s = src.as_slice()?;
            let mut out = writable(out)?;
            let d = out.as_slice_mut()?;
            let layout = if interleaved {
                k::Layout::Interleaved
            } else {
                k::Layout::Planar
            };
            maybe_detach(py, s.len(), || $kernel(s, channels, layout, d)).map_err(to_py)
        }
    };
}

binding!(mix_i16, i16, k::mix_i16);
binding!(mix_i32, i32, k::mix_i32);
binding!(mix_f32, f32, k::mix_f32);
binding!(mix_f64, f64, k::mix_f64);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MIX_MAX_CHANNELS", k::MAX_CHANNELS)?;
    m.add_function(wrap_pyfunction!(mix_i16, m)?)?;
    m.add_function(wrap_pyfunction!(mix_i32, m)?)?;
    m.add_function(wrap_pyfunction!(mix_f32, m)?)?;
    m.add_function(wrap_pyfunction!(mix_f64, m)?)?;
    Ok(())
}
