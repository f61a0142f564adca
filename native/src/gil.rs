//! The one place where the GIL is released around pure-Rust work.

use pyo3::prelude::*;

/// Work below this many elements runs with the GIL held: releasing and
/// re-acquiring it costs more than the work itself.
pub const DETACH_MIN_ELEMENTS: usize = 16_384;

/// Runs `f` with the GIL released when `n_elements` is large enough.
pub fn maybe_detach<T, F>(py: Python<'_>, n_elements: usize, f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if n_elements >= DETACH_MIN_ELEMENTS {
        py.detach(f)
    } else {
        f()
    }
}

/// Runs `f` with the GIL released, whatever its size: for calls known to do
/// more work than a release costs (a whole fused segment's chunk: every
/// stage of it, a VAD's frames included), so that streams on other threads
/// run meanwhile.
pub fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    py.detach(f)
}
