//! Resampling with rubato's synchronous FFT resampler (`rubato::Fft`).
//!
//! The filter design (block length, window) is chosen by the Python wrapper
//! (`remotemedia/kernels/_resample_design.py`) and handed in as `block_in`
//! (input frames per FFT block, N) and a window name; rubato derives the
//! output block M = N * out_rate / in_rate, the cutoff and the filter.
//!
//! The stream scheme, shared with the numpy twin in
//! `remotemedia/kernels/resample.py`:
//! - input is cut into blocks of N frames counted from the start of the
//!   stream, whatever the caller's chunking (a partial block waits in
//!   `pending`), so the output does not depend on the chunking;
//! - every block gives M output frames; the first `M / 2` output frames of
//!   the stream (the filter delay, exactly `M / 2` because N and M are even
//!   multiples of the reduced rates) are dropped, so the output is aligned;
//! - `flush` zero-fills the partial block and feeds silence until the output
//!   reaches `round(frames_in * out_rate / in_rate)` (half to even) frames.
//!
//! Arrays are (channels, frames), C-contiguous, float32. Every function
//! checks what it relies on and returns `ValueError` instead of panicking.

use std::sync::Mutex;

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::gil::maybe_detach;

/// Largest accepted sample magnitude. Above it an FFT of a block could
/// overflow float32 (and rubato would panic on the resulting NaN); audio is
/// normally within +-1.
pub const MAX_ABS_SAMPLE: f32 = 1e30;

/// Message of the error returned for out-of-range sample values; the Python
/// wrapper recognises it and raises the same error as the numpy twin.
const VALUE_ERROR: &str = "samples: expected finite values of magnitude at most 1e30";

fn window_from_name(name: &str) -> PyResult<WindowFunction> {
    Ok(match name {
        "blackman" => WindowFunction::Blackman,
        "blackman2" => WindowFunction::Blackman2,
        "blackman_harris" => WindowFunction::BlackmanHarris,
        "blackman_harris2" => WindowFunction::BlackmanHarris2,
        "hann" => WindowFunction::Hann,
        "hann2" => WindowFunction::Hann2,
        other => {
            return Err(PyValueError::new_err(format!(
                "window: expected one of blackman, blackman2, blackman_harris, blackman_harris2, hann, hann2, given {other:?}"
            )))
        }
    })
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `round(frames * out_rate / in_rate)`, half to even, exact in integers.
fn output_len(frames: u64, in_rate: u64, out_rate: u64) -> u64 {
    let num = frames as u128 * out_rate as u128;
    let den = in_rate as u128;
    let (q, r) = (num / den, num % den);
    let q = q as u64;
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

fn values_ok(samples: &[f32]) -> bool {
    // Eight independent lanes so that the loop vectorises.
    let mut bad = [false; 8];
    let mut lanes = samples.chunks_exact(8);
    for c in &mut lanes {
        for j in 0..8 {
            bad[j] |= c[j].is_nan() | (c[j].abs() > MAX_ABS_SAMPLE);
        }
    }
    let tail_bad = lanes
        .remainder()
        .iter()
        .any(|v| v.is_nan() || v.abs() > MAX_ABS_SAMPLE);
    !(tail_bad || bad.iter().any(|&b| b))
}

/// The block resampler plus the stream bookkeeping.
struct Engine {
    fft: Fft<f32>,
    channels: usize,
    in_rate: u64,
    out_rate: u64,
    block_in: usize,
    block_out: usize,
    delay: usize,
    /// Partial input block, channel c at `[c * block_in ..]`.
    pending: Vec<f32>,
    pending_len: usize,
    /// One output block, channel c at `[c * block_out ..]`.
    scratch: Vec<f32>,
    blocks_done: u64,
    frames_in: u64,
    frames_out: u64,
}

/// The most channels one resampler takes (the Python wrapper has the same bound).
const MAX_CHANNELS: usize = 4096;
/// Sample rates the engine takes, in Hz (the Python wrapper has the same bounds).
const MIN_RATE: usize = 8_000;
const MAX_RATE: usize = 192_000;

impl Engine {
    fn new(
        in_rate: usize,
        out_rate: usize,
        block_in: usize,
        window: &str,
        channels: usize,
    ) -> PyResult<Self> {
        let window = window_from_name(window)?;
        if !(MIN_RATE..=MAX_RATE).contains(&in_rate) || !(MIN_RATE..=MAX_RATE).contains(&out_rate) {
            // The Python wrapper has the same bounds; here they keep a hostile
            // call from sizing an output array by an absurd rate ratio.
            return Err(PyValueError::new_err(format!(
                "rates: expected {MIN_RATE} to {MAX_RATE} Hz, given {in_rate} -> {out_rate}"
            )));
        }
        if channels == 0 || channels > MAX_CHANNELS {
            // A bound, so a hostile channel count cannot size an allocation
            // that aborts the process (Rust aborts on allocation failure).
            return Err(PyValueError::new_err(format!(
                "channels: expected 1 to {MAX_CHANNELS}, given {channels}"
            )));
        }
        let g = gcd(in_rate as u64, out_rate as u64) as usize;
        let (unit_in, unit_out) = (in_rate / g, out_rate / g);
        if block_in == 0
            || !block_in.is_multiple_of(unit_in)
            || !(block_in / unit_in).is_multiple_of(2)
        {
            return Err(PyValueError::new_err(format!(
                "block_in: expected an even multiple of {unit_in} (in_rate / gcd), given {block_in}"
            )));
        }
        let k = block_in / unit_in;
        let block_out = k
            .checked_mul(unit_out)
            .filter(|&m| m <= 1 << 24 && block_in <= 1 << 24)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "block_in: expected blocks of at most 2^24 frames, given {block_in} -> {k} * {unit_out}"
                ))
            })?;
        let fft = Fft::<f32>::new_custom(
            in_rate,
            out_rate,
            block_in,
            1,
            channels,
            window,
            FixedSync::Input,
        )
        .map_err(|e| PyValueError::new_err(format!("resampler construction failed: {e}")))?;
        if fft.fft_size_in() != block_in || fft.fft_size_out() != block_out {
            return Err(PyRuntimeError::new_err(format!(
                "rubato chose blocks {} -> {}, expected {block_in} -> {block_out}",
                fft.fft_size_in(),
                fft.fft_size_out()
            )));
        }
        Ok(Engine {
            fft,
            channels,
            in_rate: in_rate as u64,
            out_rate: out_rate as u64,
            block_in,
            block_out,
            delay: block_out / 2,
            pending: vec![0.0; channels * block_in],
            pending_len: 0,
            scratch: vec![0.0; channels * block_out],
            blocks_done: 0,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Output frames emitted once `blocks` blocks have been resampled.
    fn emitted_after(&self, blocks: u64) -> u64 {
        (blocks * self.block_out as u64).saturating_sub(self.delay as u64)
    }

    /// Output frames that `process` of `frames` more input frames returns.
    fn process_len(&self, frames: usize) -> usize {
        let blocks = self.blocks_done + ((self.pending_len + frames) / self.block_in) as u64;
        (self.emitted_after(blocks) - self.frames_out) as usize
    }

    /// Output frames that `flush` returns.
    fn flush_len(&self) -> usize {
        (output_len(self.frames_in, self.in_rate, self.out_rate) - self.frames_out) as usize
    }

    /// Resamples one block into `scratch`, then appends its undelayed part to
    /// `out` (channel c at `[c * stride ..]`) from column `*out_pos`, up to
    /// column `out_end`.
    ///
    /// `source` selects the input: `None` = the pending block (zero-filled
    /// after `partial` frames), `Some((samples, frames, offset))` = a whole
    /// block of the caller's input starting at frame `offset`.
    fn emit(
        &mut self,
        source: Option<(&[f32], usize, usize)>,
        partial: Option<usize>,
        out: &mut [f32],
        stride: usize,
        out_pos: &mut usize,
        out_end: usize,
    ) -> Result<(), String> {
        let m = self.block_out;
        let mut dst = SequentialSlice::new_mut(&mut self.scratch[..], self.channels, m)
            .map_err(|e| e.to_string())?;
        let (src_buf, src_frames, offset) = match source {
            Some(s) => s,
            None => (&self.pending[..], self.block_in, 0),
        };
        let src =
            SequentialSlice::new(src_buf, self.channels, src_frames).map_err(|e| e.to_string())?;
        let mut indexing = Indexing::new().input_offset(offset);
        indexing.partial_len = partial;
        self.fft
            .process_into_buffer(&src, &mut dst, Some(&indexing))
            .map_err(|e| e.to_string())?;
        let produced_before = self.blocks_done * m as u64;
        self.blocks_done += 1;
        let skip = (self.delay as u64)
            .saturating_sub(produced_before)
            .min(m as u64) as usize;
        let take = (m - skip).min(out_end - *out_pos);
        if take > 0 {
            for c in 0..self.channels {
                let from = &self.scratch[c * m + skip..c * m + skip + take];
                out[c * stride + *out_pos..c * stride + *out_pos + take].copy_from_slice(from);
            }
        }
        *out_pos += take;
        self.frames_out += take as u64;
        Ok(())
    }

    /// Feeds `frames` frames of `input` (channels x frames); writes exactly
    /// `process_len(frames)` frames into `out` (channel stride `stride`) from
    /// column `start`.
    fn process(
        &mut self,
        input: &[f32],
        frames: usize,
        out: &mut [f32],
        stride: usize,
        start: usize,
    ) -> Result<(), String> {
        let (n, ch) = (self.block_in, self.channels);
        let out_end = start + self.process_len(frames);
        let mut pos = 0usize;
        let mut out_pos = start;
        if self.pending_len > 0 {
            let take = (n - self.pending_len).min(frames);
            for c in 0..ch {
                self.pending[c * n + self.pending_len..c * n + self.pending_len + take]
                    .copy_from_slice(&input[c * frames..c * frames + take]);
            }
            self.pending_len += take;
            pos = take;
            if self.pending_len == n {
                self.emit(None, None, out, stride, &mut out_pos, out_end)?;
                self.pending_len = 0;
            }
        }
        while frames - pos >= n {
            self.emit(
                Some((input, frames, pos)),
                None,
                out,
                stride,
                &mut out_pos,
                out_end,
            )?;
            pos += n;
        }
        let rest = frames - pos;
        if rest > 0 {
            for c in 0..ch {
                self.pending[c * n..c * n + rest]
                    .copy_from_slice(&input[c * frames + pos..c * frames + frames]);
            }
            self.pending_len = rest;
        }
        self.frames_in += frames as u64;
        if out_pos != out_end {
            return Err(format!(
                "internal: wrote up to frame {out_pos}, expected {out_end}"
            ));
        }
        Ok(())
    }

    /// Ends the stream: writes exactly `flush_len()` frames into `out`
    /// (channel stride `stride`) from column `start`, then resets the engine
    /// for a new stream.
    fn flush(&mut self, out: &mut [f32], stride: usize, start: usize) -> Result<(), String> {
        let out_end = start + self.flush_len();
        let mut out_pos = start;
        let mut partial = self.pending_len;
        while out_pos < out_end {
            self.emit(None, Some(partial), out, stride, &mut out_pos, out_end)?;
            partial = 0;
        }
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.fft.reset();
        self.pending_len = 0;
        self.blocks_done = 0;
        self.frames_in = 0;
        self.frames_out = 0;
    }
}

/// What identifies an engine's construction.
type EngineKey = (usize, usize, usize, String, usize);

/// Engines kept for reuse by whole-signal calls: building one (FFT plans,
/// filter design) costs about as much as resampling 0.3 s of audio.
static ENGINE_POOL: Mutex<Vec<(EngineKey, Engine)>> = Mutex::new(Vec::new());
const ENGINE_POOL_SIZE: usize = 8;

fn take_engine(key: &EngineKey) -> PyResult<Engine> {
    if let Ok(mut pool) = ENGINE_POOL.lock() {
        if let Some(i) = pool.iter().position(|(k, _)| k == key) {
            return Ok(pool.swap_remove(i).1);
        }
    }
    Engine::new(key.0, key.1, key.2, &key.3, key.4)
}

fn return_engine(key: EngineKey, mut engine: Engine) {
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
        return Err(PyValueError::new_err(format!(
            "samples: expected {channels} channels, given {}",
            shape[0]
        )));
    }
    Ok(shape[1])
}

fn new_output<'py>(py: Python<'py>, channels: usize, frames: usize) -> Bound<'py, PyArray2<f32>> {
    PyArray2::<f32>::zeros(py, [channels, frames], false)
}

/// Streaming resampler state (one stream, any chunking).
#[pyclass(module = "remotemedia_runtime")]
pub struct ResampleStream {
    engine: Engine,
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
            engine: Engine::new(in_rate, out_rate, block_in, window, channels)?,
        })
    }

    /// Feeds a (channels, frames) float32 chunk; returns the output frames
    /// that are complete, (channels, n) float32.
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        samples: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let frames = check_input(&samples, self.engine.channels)?;
        let input = samples.as_slice()?;
        let engine = &mut self.engine;
        let ok = maybe_detach(py, input.len(), || values_ok(input));
        if !ok {
            return Err(PyValueError::new_err(VALUE_ERROR));
        }
        let out_frames = engine.process_len(frames);
        let out = new_output(py, engine.channels, out_frames);
        {
            let mut w = out.try_readwrite()?;
            let o = w.as_slice_mut()?;
            maybe_detach(py, input.len() + o.len(), || {
                engine.process(input, frames, o, out_frames, 0)
            })
            .map_err(PyRuntimeError::new_err)?;
        }
        Ok(out)
    }

    /// Ends the stream: returns the rest of the output, (channels, n)
    /// float32, and resets the state for a new stream.
    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let engine = &mut self.engine;
        let out_frames = engine.flush_len();
        let out = new_output(py, engine.channels, out_frames);
        {
            let mut w = out.try_readwrite()?;
            let o = w.as_slice_mut()?;
            maybe_detach(py, o.len(), || engine.flush(o, out_frames, 0))
                .map_err(PyRuntimeError::new_err)?;
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
        self.engine.delay
    }

    /// Output frames per block (M).
    #[getter]
    fn block_out(&self) -> usize {
        self.engine.block_out
    }

    /// rubato's anti-aliasing cutoff, relative to the input Nyquist.
    #[getter]
    fn cutoff(&self) -> f32 {
        self.engine.fft.cutoff()
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
        let res = maybe_detach(py, input.len() + o.len(), || {
            if !values_ok(input) {
                return Ok::<bool, String>(false);
            }
            // The blocks complete in the input, then the flush, both written
            // straight into the one output array.
            let head = engine.process_len(frames);
            engine.process(input, frames, o, total, 0)?;
            engine.flush(o, total, head)?;
            Ok(true)
        })
        .map_err(PyRuntimeError::new_err)?;
        if !res {
            return Err(PyValueError::new_err(VALUE_ERROR));
        }
    }
    return_engine(key, engine);
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ResampleStream>()?;
    m.add_function(wrap_pyfunction!(resample_f32, m)?)?;
    m.add("RESAMPLE_MAX_ABS_SAMPLE", MAX_ABS_SAMPLE)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::output_len;

    #[test]
    fn output_len_rounds_half_to_even() {
        assert_eq!(output_len(3, 2, 1), 2); // 1.5 -> 2
        assert_eq!(output_len(5, 2, 1), 2); // 2.5 -> 2
        assert_eq!(output_len(7, 2, 1), 4); // 3.5 -> 4
        assert_eq!(output_len(48000, 48000, 16000), 16000);
        assert_eq!(output_len(1, 44100, 16000), 0);
    }
}
