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

/// A fused segment's chunk of at least this many input samples runs with the
/// GIL released. Every sample goes through several stages (a VAD frame of 480
/// samples alone is about 2 us of work), so the threshold is lower than
/// [`DETACH_MIN_ELEMENTS`]; below it (one real-time frame) the release and
/// re-acquisition would be a tenth of the call.
pub const FUSED_DETACH_MIN_SAMPLES: usize = 2_048;

/// Runs `f` with the GIL released, whatever its size: for calls known to do
/// more work than a release costs (a fused segment's flush, a video frame),
/// so that streams on other threads run meanwhile.
pub fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    py.detach(f)
}
