//! Kernel errors as Python exceptions.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::PyErr;
use remotemedia_kernels::KernelError;

/// `Invalid` -> `ValueError`, `Internal` -> `RuntimeError`, message unchanged.
pub fn to_py(e: KernelError) -> PyErr {
    match e {
        KernelError::Invalid(m) => PyValueError::new_err(m),
        KernelError::Internal(m) => PyRuntimeError::new_err(m),
    }
}
