//! `remotemedia_runtime`: the compiled kernels of remotemedia.
//!
//! Only `remotemedia/_native.py` imports this module. Every function here
//! receives inputs that the Python wrapper already validated and coerced
//! (dtype, contiguity, shape); it still checks what it relies on and returns
//! Python exceptions instead of panicking.

use pyo3::prelude::*;

mod alloc;
mod convert;
mod errors;
mod fused;
mod gil;
mod mix;
mod normalize;
mod resample;
mod vad;

/// Bumped whenever a signature or a semantic contract of this module changes;
/// `remotemedia._native` refuses a module whose ABI version differs. A new
/// function is not such a change (an older module simply lacks it, which
/// `remotemedia.kernels.native_missing_reason` reports per kernel family).
///
/// 2: kernel input errors are raised as `remotemedia.errors.KernelInputError`
/// (parameter, expected, given) instead of `ValueError` messages the Python
/// side had to parse; `WebRtcVad.decide_clip`, which the Python wrapper calls.
/// 3: `FusedSegment` (a fused segment's malformed spec is a `ValueError`, its
/// stages' input errors `KernelInputError`s naming the stage) and
/// `SegmentTracker`, which the engine and `VADNode` call.
pub const ABI_VERSION: u32 = 3;

/// Crossing the language boundary with one array: returns its element count.
///
/// Used by the benchmarks to measure the fixed cost of a call (no borrow flag,
/// no dtype check beyond "is an ndarray").
#[pyfunction]
fn noop(arr: &Bound<'_, numpy::PyUntypedArray>) -> usize {
    use numpy::PyUntypedArrayMethods;
    arr.len()
}

/// Same as `noop`, but takes a typed read-only borrow of a float32 array
/// (what real kernels do): measures the borrow-checking overhead too.
#[pyfunction]
fn noop_borrow_f32(arr: numpy::PyReadonlyArrayDyn<'_, f32>) -> usize {
    arr.as_array().len()
}

/// Build facts: version, ABI version, profile, target.
#[pyfunction]
fn build_info(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let d = pyo3::types::PyDict::new(py);
    d.set_item("version", env!("CARGO_PKG_VERSION"))?;
    d.set_item("abi_version", ABI_VERSION)?;
    d.set_item(
        "profile",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )?;
    d.set_item("target_arch", std::env::consts::ARCH)?;
    d.set_item("target_os", std::env::consts::OS)?;
    d.set_item("pyo3_abi3", true)?;
    Ok(d)
}

#[pymodule]
fn remotemedia_runtime(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ABI_VERSION", ABI_VERSION)?;
    m.add_function(wrap_pyfunction!(noop, m)?)?;
    m.add_function(wrap_pyfunction!(noop_borrow_f32, m)?)?;
    m.add_function(wrap_pyfunction!(build_info, m)?)?;
    convert::register(m)?;
    mix::register(m)?;
    normalize::register(m)?;
    resample::register(m)?;
    vad::register(m)?;
    fused::register(m)?;
    alloc::register(m)?;
    Ok(())
}
