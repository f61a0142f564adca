//! Bindings of `remotemedia_kernels::vad`.
//!
//! Results are copied into numpy-owned arrays (`from_slice`): for the few
//! bytes of decisions a frame makes, that is cheaper than handing numpy the
//! `Vec` (`from_vec` wraps it in an extra owner object).

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use remotemedia_kernels::fvad::{FRAME_MS, MODES, SAMPLE_RATES};
use remotemedia_kernels::vad as k;

use crate::errors::{invalid, to_py};
use crate::gil::maybe_detach;

/// One WebRTC VAD state (fresh at construction and after `reset`).
#[pyclass(name = "WebRtcVad", module = "remotemedia_runtime")]
pub struct WebRtcVad {
    vad: k::WebRtcVad,
}

#[pymethods]
impl WebRtcVad {
    #[new]
    fn new(mode: i32, sample_rate: i32) -> PyResult<Self> {
        Ok(Self {
            vad: k::WebRtcVad::new(mode, sample_rate).map_err(to_py)?,
        })
    }

    #[getter]
    fn mode(&self) -> i32 {
        self.vad.mode()
    }

    #[getter]
    fn sample_rate(&self) -> i32 {
        self.vad.sample_rate()
    }

    /// Back to a fresh state, keeping mode and sample rate.
    fn reset(&mut self) {
        self.vad.reset();
    }

    /// Decisions (0/1, uint8) for `samples.len() / frame_length` consecutive
    /// frames of `frame_length` int16 samples each.
    fn process_frames<'py>(
        &mut self,
        py: Python<'py>,
        samples: PyReadonlyArray1<'py, i16>,
        frame_length: usize,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let s = samples.as_slice()?;
        let vad = &mut self.vad;
        let out =
            maybe_detach(py, s.len(), || vad.process_frames(s, frame_length)).map_err(to_py)?;
        Ok(PyArray1::from_slice(py, &out))
    }

    /// Decisions (uint8) for one whole clip from a fresh state: one per frame
    /// of `frame_length * group` samples (1 when any of its `group`
    /// sub-frames is speech), the last partial frame zero-padded. `samples`
    /// is 1-D, or (1, frames) (mono audio as a node holds it); a strided
    /// array (a channel of interleaved audio) is copied once.
    fn decide_clip<'py>(
        &mut self,
        py: Python<'py>,
        samples: PyReadonlyArrayDyn<'py, i16>,
        frame_length: usize,
        group: usize,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let view = samples.as_array();
        if view.ndim() > 2 || (view.ndim() == 2 && view.shape()[0] != 1) {
            return Err(invalid(
                "samples",
                "mono audio, shape (frames,) or (1, frames)",
                format!("{:?}", view.shape()),
            ));
        }
        let copied: Vec<i16>;
        let s: &[i16] = match view.as_slice() {
            Some(s) => s,
            None => {
                copied = crate::fused::planar_copy(view);
                &copied
            }
        };
        let vad = &mut self.vad;
        let out =
            maybe_detach(py, s.len(), || vad.decide_clip(s, frame_length, group)).map_err(to_py)?;
        Ok(PyArray1::from_slice(py, &out))
    }
}

/// Per-frame decisions (uint8) and RMS values (float64).
type DecisionsAndRms<'py> = (Bound<'py, PyArray1<u8>>, Bound<'py, PyArray1<f64>>);

/// Energy VAD over whole frames of `frame_length` samples (see the kernel).
#[pyfunction]
fn energy_vad_frames<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray1<'py, f32>,
    frame_length: usize,
    threshold: f64,
) -> PyResult<DecisionsAndRms<'py>> {
    let s = samples.as_slice()?;
    let (dec, rms) = maybe_detach(py, s.len(), || {
        k::energy_vad_frames(s, frame_length, threshold)
    })
    .map_err(to_py)?;
    Ok((
        PyArray1::from_slice(py, &dec),
        PyArray1::from_slice(py, &rms),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WebRtcVad>()?;
    m.add_function(wrap_pyfunction!(energy_vad_frames, m)?)?;
    m.add("VAD_SAMPLE_RATES", SAMPLE_RATES)?;
    m.add("VAD_MODES", MODES)?;
    m.add("VAD_FRAME_MS", FRAME_MS)?;
    Ok(())
}
