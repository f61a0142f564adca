//! `remotemedia-kernels`: the compiled kernels of remotemedia as plain Rust.
//!
//! No Python types here: every function takes slices and numbers and returns
//! a [`KernelError`] for input it cannot handle, never a panic. The PyO3
//! bindings (`remotemedia-runtime`, `native/src/`) wrap these functions; the
//! fuzz targets (`native/fuzz/`) and the crate's own tests call them directly.

pub mod convert;
pub mod error;
pub mod fused;
pub mod fvad;
pub mod mix;
pub mod normalize;
pub mod resample;
pub mod segments;
pub mod vad;

#[cfg(test)]
mod test_util;

pub use error::KernelError;
