//! The one error type of the kernels.

use std::fmt;

/// Why a kernel refused to run or could not finish.
///
/// `Invalid` names the parameter, what was expected and what was given; the
/// bindings raise it as Python's `remotemedia.errors.KernelInputError(parameter,
/// expected, given)`, whose message is [`KernelError::message`] (the same text
/// the Python implementation writes). `Internal` becomes a `RuntimeError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// An argument the kernel does not take (a caller's mistake).
    Invalid {
        /// The argument's name, e.g. `"samples"`.
        parameter: String,
        /// What it had to be, e.g. `"1 to 1024"`.
        expected: String,
        /// What it was, e.g. `"2000"`.
        given: String,
    },
    /// A malformed description (a fused segment's spec: its JSON, its graph):
    /// the message says what and where. Raised as Python's `ValueError`.
    Spec(String),
    /// A failure inside the kernel or a library it uses (a bug, not the input).
    Internal(String),
}

impl KernelError {
    /// An `Invalid` error: `parameter: expected {expected}, given {given}`.
    pub(crate) fn invalid(
        parameter: impl Into<String>,
        expected: impl Into<String>,
        given: impl fmt::Display,
    ) -> Self {
        KernelError::Invalid {
            parameter: parameter.into(),
            expected: expected.into(),
            given: given.to_string(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        KernelError::Internal(message.into())
    }

    pub(crate) fn spec(message: impl Into<String>) -> Self {
        KernelError::Spec(message.into())
    }

    /// The same error about `subject` (a stage, a node): `"{subject}: "` in front of its
    /// message; an `Invalid` error's parameter gets the prefix, so its parts stay whole.
    pub fn about(self, subject: &str) -> Self {
        match self {
            KernelError::Invalid {
                parameter,
                expected,
                given,
            } => KernelError::Invalid {
                parameter: format!("{subject}: {parameter}"),
                expected,
                given,
            },
            KernelError::Spec(m) => KernelError::Spec(format!("{subject}: {m}")),
            KernelError::Internal(m) => KernelError::Internal(format!("{subject}: {m}")),
        }
    }

    /// The message shown to users, without the kind:
    /// `"{parameter}: expected {expected}, given {given}"` for `Invalid`.
    pub fn message(&self) -> String {
        match self {
            KernelError::Invalid {
                parameter,
                expected,
                given,
            } => format!("{parameter}: expected {expected}, given {given}"),
            KernelError::Spec(m) | KernelError::Internal(m) => m.clone(),
        }
    }

    /// The parameter an `Invalid` error names (None for `Internal`).
    pub fn parameter(&self) -> Option<&str> {
        match self {
            KernelError::Invalid { parameter, .. } => Some(parameter),
            KernelError::Spec(_) | KernelError::Internal(_) => None,
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for KernelError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_carries_its_parts_and_formats_like_python() {
        let e = KernelError::invalid("channels", "1 to 1024", 2000);
        assert_eq!(
            e,
            KernelError::Invalid {
                parameter: "channels".into(),
                expected: "1 to 1024".into(),
                given: "2000".into()
            }
        );
        assert_eq!(e.parameter(), Some("channels"));
        assert_eq!(e.message(), "channels: expected 1 to 1024, given 2000");
        assert_eq!(e.to_string(), e.message());
        let i = KernelError::internal("broken");
        assert_eq!((i.parameter(), i.message()), (None, "broken".to_string()));
    }
}
