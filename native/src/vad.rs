//! WebRTC voice activity detection through the `webrtc-vad` crate (libfvad's C code).
//!
//! The Python wrapper (`remotemedia/kernels/vad.py`) validates mode, rate and
//! frame length and handles re-framing, the 48 kHz sub-framing and flushing;
//! this module only runs complete frames through one libfvad instance, whose
//! state persists between calls until `reset()`.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::convert::TryFrom;
use webrtc_vad::{SampleRate, Vad, VadMode};

use crate::gil::maybe_detach;

/// A libfvad instance that may move between threads.
///
/// `Vad` holds a raw pointer to heap state with no thread affinity; it is
/// only ever used through `&mut` (PyO3's borrow flag makes access exclusive),
/// so sending it to another thread, or sharing the wrapper, is sound.
struct FvadHandle(Vad);
// SAFETY: see above: libfvad state is plain memory, accessed exclusively.
unsafe impl Send for FvadHandle {}
// SAFETY: the handle is never used through a shared reference.
unsafe impl Sync for FvadHandle {}

impl FvadHandle {
    /// A method (not a field access) so closures capture the whole `Send` handle.
    fn decide(&mut self, frame: &[i16]) -> Result<bool, ()> {
        if frame.is_empty() {
            // The crate indexes frame[0]: an empty frame would panic.
            return Err(());
        }
        self.0.is_voice_segment(frame)
    }
}

fn mode_of(mode: i32) -> PyResult<VadMode> {
    Ok(match mode {
        0 => VadMode::Quality,
        1 => VadMode::LowBitrate,
        2 => VadMode::Aggressive,
        3 => VadMode::VeryAggressive,
        _ => {
            return Err(PyValueError::new_err(format!(
                "mode: expected 0, 1, 2 or 3, given {mode}"
            )))
        }
    })
}

fn rate_of(sample_rate: i32) -> PyResult<SampleRate> {
    SampleRate::try_from(sample_rate).map_err(|_| {
        PyValueError::new_err(format!(
            "sample_rate: expected 8000, 16000, 32000 or 48000, given {sample_rate}"
        ))
    })
}

/// One WebRTC VAD state (fresh at construction and after `reset`).
#[pyclass(name = "WebRtcVad", module = "remotemedia_runtime")]
pub struct WebRtcVad {
    vad: FvadHandle,
    mode: i32,
    sample_rate: i32,
}

#[pymethods]
impl WebRtcVad {
    #[new]
    fn new(mode: i32, sample_rate: i32) -> PyResult<Self> {
        let vad = Vad::new_with_rate_and_mode(rate_of(sample_rate)?, mode_of(mode)?);
        Ok(Self {
            vad: FvadHandle(vad),
            mode,
            sample_rate,
        })
    }

    #[getter]
    fn mode(&self) -> i32 {
        self.mode
    }

    #[getter]
    fn sample_rate(&self) -> i32 {
        self.sample_rate
    }

    /// Back to a fresh state, keeping mode and sample rate (libfvad's reset
    /// clears both, so they are set again).
    fn reset(&mut self) -> PyResult<()> {
        self.vad.0.reset();
        self.vad.0.set_sample_rate(rate_of(self.sample_rate)?);
        self.vad.0.set_mode(mode_of(self.mode)?);
        Ok(())
    }

    /// Decisions (0/1, uint8) for `samples.len() / frame_length` consecutive
    /// frames of `frame_length` int16 samples each.
    fn process_frames<'py>(
        &mut self,
        py: Python<'py>,
        samples: PyReadonlyArray1<'py, i16>,
        frame_length: usize,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let valid = [10usize, 20, 30].map(|ms| ms * self.sample_rate as usize / 1000);
        if !valid.contains(&frame_length) {
            return Err(PyValueError::new_err(format!(
                "frame_length: expected one of {valid:?} samples at {} Hz, given {frame_length}",
                self.sample_rate
            )));
        }
        let s = samples.as_slice()?;
        if s.len() % frame_length != 0 {
            return Err(PyValueError::new_err(format!(
                "samples: expected a multiple of {frame_length} samples, given {}",
                s.len()
            )));
        }
        let vad = &mut self.vad;
        let out: Result<Vec<u8>, usize> = maybe_detach(py, s.len(), || {
            s.chunks_exact(frame_length)
                .enumerate()
                .map(|(i, frame)| match vad.decide(frame) {
                    Ok(v) => Ok(v as u8),
                    Err(()) => Err(i),
                })
                .collect()
        });
        match out {
            Ok(v) => Ok(PyArray1::from_vec(py, v)),
            Err(i) => Err(PyValueError::new_err(format!(
                "libfvad rejected frame {i} (length {frame_length})"
            ))),
        }
    }
}

/// Per-frame decisions (uint8) and RMS values (float64).
type DecisionsAndRms<'py> = (Bound<'py, PyArray1<u8>>, Bound<'py, PyArray1<f64>>);

/// Energy VAD: per frame of `frame_length` samples, RMS computed as
/// sqrt(sequential float64 sum of squares / frame_length); speech when
/// RMS > threshold. Returns (decisions uint8, rms float64). A trailing partial
/// frame is ignored (the wrapper pads or buffers it).
#[pyfunction]
fn energy_vad_frames<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray1<'py, f32>,
    frame_length: usize,
    threshold: f64,
) -> PyResult<DecisionsAndRms<'py>> {
    if frame_length == 0 {
        return Err(PyValueError::new_err(
            "frame_length: expected at least 1 sample, given 0",
        ));
    }
    let s = samples.as_slice()?;
    let (dec, rms): (Vec<u8>, Vec<f64>) = maybe_detach(py, s.len(), || {
        s.chunks_exact(frame_length)
            .map(|frame| {
                let mut acc = 0.0f64;
                for &x in frame {
                    let v = x as f64;
                    acc += v * v;
                }
                let r = (acc / frame_length as f64).sqrt();
                ((r > threshold) as u8, r)
            })
            .unzip()
    });
    Ok((PyArray1::from_vec(py, dec), PyArray1::from_vec(py, rms)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WebRtcVad>()?;
    m.add_function(wrap_pyfunction!(energy_vad_frames, m)?)?;
    Ok(())
}
