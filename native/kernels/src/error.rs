//! The one error type of the kernels.

use std::fmt;

/// Why a kernel refused to run or could not finish.
///
/// The bindings map `Invalid` to Python's `ValueError` and `Internal` to
/// `RuntimeError`; the message is shown to the user as is, so it names the
/// parameter and says what was expected and what was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// An argument the kernel does not take (a caller's mistake).
    Invalid(String),
    /// A failure inside the kernel or a library it uses (a bug, not the input).
    Internal(String),
}

impl KernelError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        KernelError::Invalid(message.into())
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        KernelError::Internal(message.into())
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            KernelError::Invalid(m) | KernelError::Internal(m) => m,
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for KernelError {}
