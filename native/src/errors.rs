//! Kernel errors as Python exceptions.
//!
//! `Invalid { parameter, expected, given }` is raised as
//! `remotemedia.errors.KernelInputError(parameter, expected, given)`: the same
//! type, attributes and message as the numpy implementation's error, so Python
//! never has to read a message to know what went wrong. `Internal` is a
//! `RuntimeError`.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use pyo3::PyErr;
use remotemedia_kernels::KernelError;

static KERNEL_INPUT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `remotemedia.errors.KernelInputError`, imported once (None if remotemedia is not importable).
fn kernel_input_error(py: Python<'_>) -> Option<Bound<'_, PyType>> {
    KERNEL_INPUT_ERROR
        .import(py, "remotemedia.errors", "KernelInputError")
        .ok()
        .cloned()
}

/// The Python exception of a kernel error.
pub fn to_py(e: KernelError) -> PyErr {
    match e {
        KernelError::Invalid {
            parameter,
            expected,
            given,
        } => Python::attach(|py| match kernel_input_error(py) {
            Some(ty) => PyErr::from_type(ty, (parameter, expected, given)),
            // Only when the compiled module is used without the remotemedia package.
            None => {
                PyValueError::new_err(format!("{parameter}: expected {expected}, given {given}"))
            }
        }),
        KernelError::Spec(m) => PyValueError::new_err(m),
        KernelError::Internal(m) => PyRuntimeError::new_err(m),
    }
}

/// The Python exception of a kernel error about node `node_id`: a `KernelInputError` with the
/// node id (its message starts with `node '{id}': `), other kinds with that prefix.
pub fn to_py_for(e: KernelError, node_id: &str) -> PyErr {
    match e {
        KernelError::Invalid {
            parameter,
            expected,
            given,
        } => Python::attach(|py| match kernel_input_error(py) {
            Some(ty) => {
                let kwargs = pyo3::types::PyDict::new(py);
                match kwargs.set_item("node_id", node_id) {
                    Ok(()) => match ty.call((parameter, expected, given), Some(&kwargs)) {
                        Ok(err) => PyErr::from_value(err),
                        Err(err) => err,
                    },
                    Err(err) => err,
                }
            }
            None => PyValueError::new_err(format!(
                "node '{node_id}': {parameter}: expected {expected}, given {given}"
            )),
        }),
        other => to_py(other.about(&format!("node '{node_id}'"))),
    }
}

/// A `KernelInputError` raised by the bindings themselves (an argument the kernel never sees).
pub fn invalid(parameter: &str, expected: &str, given: impl std::fmt::Display) -> PyErr {
    to_py(KernelError::Invalid {
        parameter: parameter.to_owned(),
        expected: expected.to_owned(),
        given: given.to_string(),
    })
}
