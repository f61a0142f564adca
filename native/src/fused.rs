//! Bindings of `remotemedia_kernels::fused` (`FusedSegment`: the spec and the
//! semantics are documented there) and `remotemedia_kernels::segments`
//! (`SegmentTracker`, the Python class's twin).
//!
//! `FusedSegment.process` borrows its input (int16/int32/float32/float64,
//! (channels, frames) or (frames,)): planar (C-contiguous) and interleaved
//! (the transpose of a C-contiguous (frames, channels) array) are read in
//! place, any other strides are copied once. The GIL is released for the
//! whole chunk, unless it is smaller than `FUSED_DETACH_MIN_SAMPLES` (one
//! real-time frame: releasing would cost a tenth of the call). Results are
//! new arrays, except where a stage passes its input through (a mono mix of
//! mono audio, a conversion to the same format, a VAD's audio): that is the
//! caller's own input object, as with the nodes.

use numpy::{
    Element, PyArray1, PyArray2, PyArray3, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods,
    PyReadonlyArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use remotemedia_kernels::fused::{
    AudioAt, AudioRef, FlushOutput, FusedSegment as Kernel, Layout, OwnedAudio, PortKind, Samples,
    StageResult, VadSummary,
};
use remotemedia_kernels::segments::{self, Segment, SegmentParams};
use remotemedia_kernels::KernelError;

use crate::errors::{to_py, to_py_for};
use crate::gil::{detach, FUSED_DETACH_MIN_SAMPLES};

/// The Python exception of a kernel error, with the failing stage's id as
/// its `stage_id` attribute (None when the error is not a stage's).
fn stage_error(py: Python<'_>, seg: &Kernel, e: KernelError) -> PyErr {
    let err = to_py(e);
    let id = seg.failed_stage().map(|s| seg.ids()[s].clone());
    // Setting an attribute on a fresh exception instance cannot fail in practice;
    // if it did, the error itself is still the one to raise.
    let _ = err.value(py).setattr("stage_id", id);
    err
}

fn bad_input(message: String) -> PyErr {
    PyValueError::new_err(message)
}

/// `arr` (1-D, any dtype and stride) viewed as (1, frames): `arr.reshape(1, -1)` through
/// numpy's C API (a Python method call would cost a third of a one-frame call).
fn row_view<'py>(arr: &Bound<'py, PyUntypedArray>) -> PyResult<Bound<'py, PyAny>> {
    use numpy::npyffi::{npy_intp, PyArray_Dims, NPY_ORDER, PY_ARRAY_API};
    let py = arr.py();
    let mut dims: [npy_intp; 2] = [1, arr.len() as npy_intp];
    let mut shape = PyArray_Dims {
        ptr: dims.as_mut_ptr(),
        len: 2,
    };
    // SAFETY: `arr` is a live ndarray; PyArray_Newshape copies `shape` and returns a new
    // reference (a view: adding a leading axis of length 1 never needs a copy) or NULL with
    // an exception set.
    unsafe {
        let ptr = PY_ARRAY_API.PyArray_Newshape(
            py,
            arr.as_array_ptr(),
            &mut shape,
            NPY_ORDER::NPY_ANYORDER,
        );
        Bound::from_owned_ptr_or_err(py, ptr)
    }
}

/// A (channels, frames) numpy array holding a planar copy of `a`.
fn audio_array<'py>(py: Python<'py>, a: &AudioRef<'_>) -> PyResult<Bound<'py, PyAny>> {
    fn make<'py, T: Element + Copy>(
        py: Python<'py>,
        src: &[T],
        channels: usize,
        frames: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: a fresh array, not shared with anything, fully written below.
        let out = unsafe { PyArray2::<T>::new(py, [channels, frames], false) };
        {
            let mut w = out.try_readwrite()?;
            w.as_slice_mut()?.copy_from_slice(src);
        }
        Ok(out.into_any())
    }
    let (c, f) = (a.channels, a.frames);
    match a.samples {
        Samples::I16(s) => make(py, s, c, f),
        Samples::I32(s) => make(py, s, c, f),
        Samples::F32(s) => make(py, s, c, f),
        Samples::F64(s) => make(py, s, c, f),
    }
}

fn segment_list<'py>(py: Python<'py>, segs: &[Segment]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(
        py,
        segs.iter().map(|s| (s.start, s.end, s.start_s, s.end_s)),
    )
}

/// The VAD info of one chunk: decisions, new segments, keep_from.
fn vad_info<'py>(
    py: Python<'py>,
    decisions: &[u8],
    new_segments: &[Segment],
    keep_from: i64,
) -> PyResult<Bound<'py, PyDict>> {
    // Interned keys: this dict is made for every chunk, a real-time caller's 30 ms frame too.
    let d = PyDict::new(py);
    d.set_item(
        intern!(py, "decisions"),
        PyArray1::from_slice(py, decisions),
    )?;
    d.set_item(intern!(py, "new_segments"), segment_list(py, new_segments)?)?;
    d.set_item(intern!(py, "keep_from"), keep_from)?;
    Ok(d)
}

fn summary_info<'py>(py: Python<'py>, s: &VadSummary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("is_speech", s.is_speech)?;
    d.set_item("speech_frames", s.speech_frames)?;
    d.set_item("total_frames", s.total_frames)?;
    d.set_item("speech_ratio", s.speech_ratio)?;
    d.set_item("decisions", PyArray1::from_slice(py, &s.decisions))?;
    if let Some(all) = &s.segments {
        d.set_item("segments", segment_list(py, all)?)?;
    }
    d.set_item("new_segments", segment_list(py, &s.new_segments)?)?;
    d.set_item(
        "flushed_decisions",
        PyArray1::from_slice(py, &s.flushed_decisions),
    )?;
    Ok(d)
}

/// The input, borrowed: a slice of one dtype (or a planar copy of it).
enum Borrowed<'py, T: Element> {
    InPlace(numpy::PyReadonlyArrayDyn<'py, T>, Layout),
    Copied(Vec<T>),
}

impl<'py, T: Element + Copy> Borrowed<'py, T> {
    fn new(arr: &Bound<'py, PyUntypedArray>) -> PyResult<Self> {
        let typed = arr.cast::<PyArrayDyn<T>>()?;
        let ro = typed.try_readonly().map_err(|e| {
            bad_input(format!(
                "samples: expected an array not borrowed mutably elsewhere, given one that is ({e})"
            ))
        })?;
        if ro.is_c_contiguous() {
            Ok(Borrowed::InPlace(ro, Layout::Planar))
        } else if ro.is_fortran_contiguous() {
            // 2-D and Fortran order: the transpose of interleaved PCM.
            Ok(Borrowed::InPlace(ro, Layout::Interleaved))
        } else {
            // Any other strides (a chunk sliced out of a longer (channels, frames) array): one
            // planar copy, on purpose, row by row.
            Ok(Borrowed::Copied(planar_copy(ro.as_array())))
        }
    }

    fn slice(&self) -> PyResult<(&[T], Layout)> {
        match self {
            Borrowed::InPlace(ro, layout) => Ok((ro.as_slice()?, *layout)),
            Borrowed::Copied(v) => Ok((v, Layout::Planar)),
        }
    }
}

/// A C-order copy of a strided 1-D or 2-D array, row by row: a row whose samples are contiguous
/// is one `memcpy` (a chunk sliced out of a longer (channels, frames) array), where iterating the
/// dynamic-dimension view element by element costs about 25 ns a sample.
pub(crate) fn planar_copy<T: Copy>(view: numpy::ndarray::ArrayViewD<'_, T>) -> Vec<T> {
    use numpy::ndarray::{Ix1, Ix2};
    let mut out = Vec::with_capacity(view.len());
    match view.ndim() {
        1 => {
            let v = view.into_dimensionality::<Ix1>().expect("1-D");
            match v.as_slice() {
                Some(s) => out.extend_from_slice(s),
                None => out.extend(v.iter().copied()),
            }
        }
        2 => {
            let v = view.into_dimensionality::<Ix2>().expect("2-D");
            for row in v.rows() {
                match row.as_slice() {
                    Some(s) => out.extend_from_slice(s),
                    None => out.extend(row.iter().copied()),
                }
            }
        }
        _ => out.extend(view.iter().copied()),
    }
    out
}

/// Runs `f` on `samples` viewed as audio (validating dtype and shape).
fn with_audio<R>(
    samples: &Bound<'_, PyAny>,
    sample_rate: u32,
    f: impl FnOnce(AudioRef<'_>) -> R,
) -> PyResult<R> {
    let arr = samples.cast::<PyUntypedArray>().map_err(|_| {
        bad_input(format!(
            "samples: expected a numpy.ndarray, given {}",
            samples
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let shape = arr.shape().to_vec();
    let channels = match shape.as_slice() {
        [_] => 1,
        [c, _] if *c >= 1 => *c,
        _ => {
            return Err(bad_input(format!(
                "samples: expected shape (channels, frames) or (frames,), given {shape:?}"
            )))
        }
    };
    macro_rules! run {
        ($t:ty, $variant:ident) => {{
            let held = Borrowed::<$t>::new(arr)?;
            let (s, layout) = held.slice()?;
            let a = AudioRef::new(Samples::$variant(s), channels, layout, sample_rate)
                .map_err(to_py)?;
            Ok(f(a))
        }};
    }
    let py = samples.py();
    let dtype = arr.dtype();
    if dtype.is_equiv_to(&numpy::dtype::<i16>(py)) {
        run!(i16, I16)
    } else if dtype.is_equiv_to(&numpy::dtype::<i32>(py)) {
        run!(i32, I32)
    } else if dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
        run!(f32, F32)
    } else if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
        run!(f64, F64)
    } else {
        Err(bad_input(format!(
            "samples: expected dtype int16, int32, float32 or float64, given {dtype}"
        )))
    }
}

/// A run of kernel stages executed as one unit (see `remotemedia_kernels::fused`).
#[pyclass(module = "remotemedia_runtime")]
pub struct FusedSegment {
    seg: Kernel,
    /// The stage ids as Python strings, made once (the keys of every result dict).
    ids_py: Vec<Py<PyString>>,
}

impl FusedSegment {
    fn id(&self, s: usize) -> &str {
        &self.seg.ids()[s]
    }

    fn flush_output<'py>(&self, py: Python<'py>, out: &FlushOutput) -> PyResult<Bound<'py, PyAny>> {
        let audio = |a: &OwnedAudio| audio_array(py, &a.audio());
        Ok(match out {
            FlushOutput::Audio(a) => (audio(a)?, a.sample_rate).into_pyobject(py)?.into_any(),
            FlushOutput::Converted(a, clipped) => (audio(a)?, a.sample_rate, *clipped)
                .into_pyobject(py)?
                .into_any(),
            FlushOutput::VadChunk {
                audio: a,
                decisions,
                new_segments,
                keep_from,
            } => (
                audio(a)?,
                a.sample_rate,
                vad_info(py, decisions, new_segments, *keep_from)?,
            )
                .into_pyobject(py)?
                .into_any(),
            FlushOutput::VadFinal(s) => summary_info(py, s)?.into_any(),
            FlushOutput::VadNotStarted => PyDict::new(py).into_any(),
        })
    }
}

#[pymethods]
impl FusedSegment {
    /// Parses, validates and orders the JSON spec; a ValueError names what is wrong.
    #[new]
    fn new(py: Python<'_>, spec_json: &str) -> PyResult<Self> {
        let seg = Kernel::from_json(spec_json).map_err(to_py)?;
        let ids_py = seg
            .ids()
            .iter()
            .map(|id| PyString::new(py, id).unbind())
            .collect();
        Ok(FusedSegment { seg, ids_py })
    }

    /// Stage ids in the order the stages run.
    #[getter]
    fn order(&self) -> Vec<String> {
        self.seg
            .order()
            .iter()
            .map(|&s| self.id(s).to_owned())
            .collect()
    }

    /// The ids of the stages whose results `process` / `flush` return.
    #[getter]
    fn outputs(&self) -> Vec<String> {
        self.seg
            .outputs()
            .iter()
            .map(|&s| self.id(s).to_owned())
            .collect()
    }

    /// Stage id -> kind (`"resample"`, ...), in spec order.
    #[getter]
    fn kinds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (i, id) in self.seg.ids().iter().enumerate() {
            d.set_item(id, self.seg.kind(i))?;
        }
        Ok(d)
    }

    /// `"audio"` or `"video"`: what `process` / `process_frame` take.
    #[getter]
    fn input_kind(&self) -> &'static str {
        match self.seg.input_kind() {
            PortKind::Video => "video",
            _ => "audio",
        }
    }

    /// Runs one chunk through every stage; returns {output stage id: result}.
    ///
    /// Results: mono_mix / resample `(array (channels, frames), sample_rate)`;
    /// convert `(array, sample_rate, clipped)`; a VAD `(audio, sample_rate,
    /// {"decisions": uint8 array, "new_segments": [(start, end, start_s,
    /// end_s)], "keep_from": int})`, its audio being what it was given.
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        samples: &Bound<'py, PyAny>,
        sample_rate: u32,
    ) -> PyResult<Bound<'py, PyDict>> {
        let seg = &mut self.seg;
        with_audio(samples, sample_rate, |a| {
            if a.channels * a.frames >= FUSED_DETACH_MIN_SAMPLES {
                detach(py, || seg.process(a))
            } else {
                seg.process(a)
            }
        })?
        .map_err(|e| stage_error(py, &self.seg, e))?;
        // The input as the nodes pass it on: (channels, frames) (a view of 1-D input).
        let arr = samples.cast::<PyUntypedArray>()?;
        let passed = if arr.ndim() == 1 {
            row_view(arr)?
        } else {
            samples.clone()
        };
        let mut made: Vec<Option<Bound<'py, PyAny>>> = vec![None; self.seg.ids().len()];
        let mut audio_at = |at: AudioAt| -> PyResult<Bound<'py, PyAny>> {
            match at {
                AudioAt::Input => Ok(passed.clone()),
                AudioAt::Stage(k) => {
                    if made[k].is_none() {
                        made[k] = Some(audio_array(py, &self.seg.stage_audio(k))?);
                    }
                    Ok(made[k].clone().expect("just made"))
                }
            }
        };
        let out = PyDict::new(py);
        for &s in self.seg.outputs() {
            let value: Bound<'py, PyAny> = match self.seg.output(s) {
                StageResult::Audio { at, sample_rate } => {
                    (audio_at(at)?, sample_rate).into_pyobject(py)?.into_any()
                }
                StageResult::Converted {
                    at,
                    sample_rate,
                    clipped,
                } => (audio_at(at)?, sample_rate, clipped)
                    .into_pyobject(py)?
                    .into_any(),
                StageResult::Vad {
                    at,
                    sample_rate,
                    decisions,
                    new_segments,
                    keep_from,
                } => (
                    audio_at(at)?,
                    sample_rate,
                    vad_info(py, decisions, new_segments, keep_from)?,
                )
                    .into_pyobject(py)?
                    .into_any(),
                StageResult::Tensor { .. } => {
                    return Err(bad_input("internal: a tensor from audio".into()))
                }
            };
            out.set_item(self.ids_py[s].bind(py), value)?;
        }
        Ok(out)
    }

    /// Runs one uint8 video frame ((height, width, channels) or (height,
    /// width)) through a normalize segment; returns {stage id: float32
    /// (channels, height, width)}.
    fn process_frame<'py>(
        &mut self,
        py: Python<'py>,
        frame: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let arr = frame
            .cast::<PyArrayDyn<u8>>()
            .map_err(|_| bad_input("frame: expected a numpy.ndarray of dtype uint8".into()))?;
        let shape = arr.shape().to_vec();
        let (h, w, c) = match shape.as_slice() {
            [h, w] => (*h, *w, 1),
            [h, w, c] if *c >= 1 => (*h, *w, *c),
            _ => {
                return Err(bad_input(format!(
                    "frame: expected shape (height, width, channels) or (height, width), given {shape:?}"
                )))
            }
        };
        let ro = arr
            .try_readonly()
            .map_err(|e| bad_input(format!("frame: {e}")))?;
        let copy: Vec<u8>;
        let data: &[u8] = if ro.is_c_contiguous() {
            ro.as_slice()?
        } else {
            copy = ro.as_array().iter().copied().collect(); // one copy, on purpose
            &copy
        };
        let seg = &mut self.seg;
        detach(py, || seg.process_frame(data, h, w, c))
            .map_err(|e| stage_error(py, &self.seg, e))?;
        let out = PyDict::new(py);
        for &s in self.seg.outputs() {
            if let StageResult::Tensor { data, shape } = self.seg.output(s) {
                // SAFETY: a fresh array, fully written below.
                let t = unsafe { PyArray3::<f32>::new(py, shape, false) };
                t.try_readwrite()?.as_slice_mut()?.copy_from_slice(data);
                out.set_item(self.id(s), t)?;
            }
        }
        Ok(out)
    }

    /// Ends the stream: returns {output stage id: [outputs emitted during
    /// the flush, in order]}: chunk results as `process` gives them (for the
    /// chunks fed by upstream flushes), a resampler's flush `(array,
    /// sample_rate)`, a VAD's flush info (`VADNode.flush()`'s keys but
    /// `frame_ms`, `backend`, `implementation`; segments as tuples; `{}` when
    /// the VAD saw no chunk). Every stage is then ready for a new stream.
    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let seg = &mut self.seg;
        detach(py, || seg.flush()).map_err(|e| stage_error(py, &self.seg, e))?;
        let out = PyDict::new(py);
        for &s in self.seg.outputs() {
            out.set_item(self.id(s), PyList::empty(py))?;
        }
        for e in self.seg.flush_events() {
            if !self.seg.outputs().contains(&e.stage) {
                continue;
            }
            let value = self.flush_output(py, &e.output)?;
            out.get_item(self.id(e.stage))?
                .expect("set above")
                .cast::<PyList>()?
                .append(value)?;
        }
        Ok(out)
    }

    /// Drops every stream (the next chunk starts fresh ones).
    fn reset(&mut self) {
        self.seg.reset();
    }

    /// Stage id -> wall time (microseconds) in the latest call, for the stages that ran.
    fn stage_times_us<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (i, m) in self.seg.metrics().iter().enumerate() {
            if m.calls > 0 {
                d.set_item(self.id(i), m.wall_us)?;
            }
        }
        Ok(d)
    }

    /// Stage id -> {"calls", "in_samples", "in_bytes", "out_samples",
    /// "out_bytes"} of the latest call, for the stages that ran.
    fn stage_sizes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (i, m) in self.seg.metrics().iter().enumerate() {
            if m.calls == 0 {
                continue;
            }
            let s = PyDict::new(py);
            s.set_item("calls", m.calls)?;
            s.set_item("in_samples", m.in_samples)?;
            s.set_item("in_bytes", m.in_bytes)?;
            s.set_item("out_samples", m.out_samples)?;
            s.set_item("out_bytes", m.out_bytes)?;
            d.set_item(self.id(i), s)?;
        }
        Ok(d)
    }
}

/// The speech-segment state machine (`remotemedia.kernels.segments.SegmentTracker`'s twin).
#[pyclass(module = "remotemedia_runtime")]
pub struct SegmentTracker {
    tracker: segments::SegmentTracker,
    node_id: Option<String>,
    out: Vec<Segment>,
}

impl SegmentTracker {
    fn err(&self, e: KernelError) -> PyErr {
        node_error(&self.node_id, e)
    }

    fn take_segments<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = segment_list(py, &self.out);
        self.out.clear();
        list
    }
}

fn node_error(node_id: &Option<String>, e: KernelError) -> PyErr {
    match node_id {
        None => to_py(e),
        Some(id) => to_py_for(e, id),
    }
}

#[pymethods]
impl SegmentTracker {
    #[new]
    #[pyo3(signature = (frame_length, sample_rate, *, min_speech_ms=250.0, min_silence_ms=300.0,
                        pre_roll_ms=100.0, post_roll_ms=100.0, max_segment_s=30.0, node_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        frame_length: usize,
        sample_rate: usize,
        min_speech_ms: f64,
        min_silence_ms: f64,
        pre_roll_ms: f64,
        post_roll_ms: f64,
        max_segment_s: f64,
        node_id: Option<String>,
    ) -> PyResult<Self> {
        let params = SegmentParams {
            min_speech_ms,
            min_silence_ms,
            pre_roll_ms,
            post_roll_ms,
            max_segment_s,
        };
        let tracker = segments::SegmentTracker::new(frame_length, sample_rate, &params)
            .map_err(|e| node_error(&node_id, e))?;
        Ok(SegmentTracker {
            tracker,
            node_id,
            out: Vec::new(),
        })
    }

    /// Feeds per-frame decisions (uint8, nonzero = speech) and optional
    /// float64 energies; returns the segments now complete as
    /// `(start, end, start_s, end_s)` tuples.
    #[pyo3(signature = (decisions, energy=None))]
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        decisions: PyReadonlyArray1<'py, u8>,
        energy: Option<PyReadonlyArray1<'py, f64>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let dec_copy: Vec<u8>;
        let dec = match decisions.as_slice() {
            Ok(s) => s,
            Err(_) => {
                dec_copy = decisions.as_array().to_vec();
                &dec_copy
            }
        };
        let en_copy: Vec<f64>;
        let en = match &energy {
            None => None,
            Some(e) => Some(match e.as_slice() {
                Ok(s) => s,
                Err(_) => {
                    en_copy = e.as_array().to_vec();
                    &en_copy[..]
                }
            }),
        };
        let result = self.tracker.push(dec, en, &mut self.out);
        if let Err(e) = result {
            self.out.clear();
            return Err(self.err(e));
        }
        self.take_segments(py)
    }

    /// Closes the stream; returns the remaining segments (ends clipped to
    /// `total_samples`, default frames seen x frame length).
    #[pyo3(signature = (total_samples=None))]
    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        total_samples: Option<i64>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.tracker.finish(total_samples, &mut self.out);
        self.take_segments(py)
    }

    /// The first sample a segment not returned yet may start at.
    fn earliest_pending_start(&self) -> i64 {
        self.tracker.earliest_pending_start()
    }

    #[getter]
    fn frame_length(&self) -> usize {
        self.tracker.frame_length()
    }

    #[getter]
    fn sample_rate(&self) -> usize {
        self.tracker.sample_rate()
    }

    #[getter]
    fn min_speech_frames(&self) -> i64 {
        self.tracker.min_speech_frames()
    }

    #[getter]
    fn min_silence_frames(&self) -> i64 {
        self.tracker.min_silence_frames()
    }

    #[getter]
    fn pre_roll(&self) -> i64 {
        self.tracker.pre_roll()
    }

    #[getter]
    fn post_roll(&self) -> i64 {
        self.tracker.post_roll()
    }

    #[getter]
    fn max_frames(&self) -> i64 {
        self.tracker.max_frames()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FusedSegment>()?;
    m.add_class::<SegmentTracker>()?;
    Ok(())
}
