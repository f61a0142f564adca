//! Bindings of `remotemedia_kernels::resample` (the stream scheme is
//! documented there): `ResampleStream` and whole-signal `resample_f32`.
//!
//! Arrays are (channels, frames), C-contiguous, float32.

use std::sync::Mutex;

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use remotemedia_kernels::resample::{
    output_len, Resampler, MAX_ABS_SAMPLE, MAX_CHANNELS, MAX_RATE, MIN_RATE,
};

use crate::errors::{invalid, to_py};
use crate::gil::maybe_detach;

/// What identifies an engine's construction.
type EngineKey = (usize, usize, usize, String, usize);

/// Engines kept for reuse by whole-signal calls: building one (FFT plans,
/// filter design) costs about as much as resampling 0.3 s of audio.
static ENGINE_POOL: Mutex<Vec<(EngineKey, Resampler)>> = Mutex::new(Vec::new());
const ENGINE_POOL_SIZE: usize = 8;

fn take_engine(key: &EngineKey) -> PyResult<Resampler> {
    if let Ok(mut pool) = ENGINE_POOL.lock() {
        if let Some(i) = pool.iter().position(|(k, _)| k == key) {
            return Ok(pool.swap_remove(i).1);
        }
    }
    Resampler::new(key.0, key.1, key.2, &key.3, key.4).map_err(to_py)
}

fn return_engine(key: EngineKey, mut engine: Resampler) {
    engine.reset();
    if let Ok(mut pool) = ENGINE_POOL.lock() {
        if pool.len() >= ENGINE_POOL_SIZE {
            pool.remove(0);
        }
        pool.push((key, engine));
    }
}

fn check_input(input: &PyReadonlyArray2<'_, f32>, channels: usize) -> PyResult<usize> {
    let shape = input.shape();
    if shape[0] != channels {
        return Err(invalid(
            "samples",
            &format!("{channels} channels"),
            shape[0],
        ));
    }
    Ok(shape[1])
}

fn new_output<'py>(py: Python<'py>, channels: usize, frames: usize) -> Bound<'py, PyArray2<f32>> {
    PyArray2::<f32>::zeros(py, [channels, frames], false)
}

/// Streaming resampler state (one stream, any chunking).
#[pyclass(module = "remotemedia_runtime")]
pub struct ResampleStream {
    engine: Resampler,
}

#[pymethods]
impl ResampleStream {
    #[new]
    fn new(
        in_rate: usize,
        out_rate: usize,
        block_in: usize,
        window: &str,
        channels: usize,
    ) -> PyResult<Self> {
        Ok(ResampleStream {
            engine: Resampler::new(in_rate, out_rate, block_in, window, channels).map_err(to_py)?,
        })
    }

    /// Feeds a (channels, frames) float32 chunk; returns the output frames
    /// that are complete, (channels, n) float32.
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        samples: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let frames = check_input(&samples, self.engine.channels())?;
        let input = samples.as_slice()?;
        let engine = &mut self.engine;
        let out = new_output(py, engine.channels(), engine.process_len(frames));
        {
            let mut w = out.try_readwrite()?;
            let o = w.as_slice_mut()?;
            maybe_detach(py, input.len() + o.len(), || engine.process(input, o)).map_err(to_py)?;
        }
        Ok(out)
    }

    /// Ends the stream: returns the rest of the output, (channels, n)
    /// float32, and resets the state for a new stream.
    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let engine = &mut self.engine;
        let out = new_output(py, engine.channels(), engine.flush_len());
        {
            let mut w = out.try_readwrite()?;
            let o = w.as_slice_mut()?;
            maybe_detach(py, o.len(), || engine.flush(o)).map_err(to_py)?;
        }
        Ok(out)
    }

    /// Drops the stream state (pending input, filter memory).
    fn reset(&mut self) {
        self.engine.reset();
    }

    /// Output frames between an input event and its appearance in the
    /// output of `process` (the part held back until `flush`).
    #[getter]
    fn delay(&self) -> usize {
        self.engine.delay()
    }

    /// Output frames per block (M).
    #[getter]
    fn block_out(&self) -> usize {
        self.engine.block_out()
    }

    /// rubato's anti-aliasing cutoff, relative to the input Nyquist.
    #[getter]
    fn cutoff(&self) -> f32 {
        self.engine.cutoff()
    }
}

/// Whole-signal resampling of (channels, frames) float32 into a new array of
/// (channels, round(frames * out_rate / in_rate)) float32.
#[pyfunction]
fn resample_f32<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray2<'py, f32>,
    in_rate: usize,
    out_rate: usize,
    block_in: usize,
    window: &str,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let channels = samples.shape()[0];
    let key: EngineKey = (in_rate, out_rate, block_in, window.to_string(), channels);
    let mut engine = take_engine(&key)?;
    let frames = check_input(&samples, channels)?;
    let input = samples.as_slice()?;
    let total = output_len(frames as u64, in_rate as u64, out_rate as u64) as usize;
    let out = new_output(py, channels, total);
    {
        let mut w = out.try_readwrite()?;
        let o = w.as_slice_mut()?;
        maybe_detach(py, input.len() + o.len(), || engine.resample(input, o)).map_err(to_py)?;
    }
    return_engine(key, engine);
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ResampleStream>()?;
    m.add_function(wrap_pyfunction!(resample_f32, m)?)?;
    m.add("RESAMPLE_MAX_ABS_SAMPLE", MAX_ABS_SAMPLE)?;
    m.add("RESAMPLE_MAX_CHANNELS", MAX_CHANNELS)?;
    m.add("RESAMPLE_MIN_RATE", MIN_RATE)?;
    m.add("RESAMPLE_MAX_RATE", MAX_RATE)?;
    Ok(())
}
