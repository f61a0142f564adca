"""Validators of audio arrays and sample rates: a leaf module (numpy and the errors only).

Used by :mod:`remotemedia.audio` (an :class:`~remotemedia.audio.AudioBuffer` is
validated once, when it is built), by the kernels' public functions and by nodes
for untrusted input. Every failure is a :class:`~remotemedia.errors.KernelInputError`
naming the parameter, what was expected and what was given.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from remotemedia.errors import KernelInputError

#: Sample dtypes of audio arrays -> their short format code.
SAMPLE_DTYPES = {
    np.dtype(np.int16): "i16", np.dtype(np.int32): "i32", np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
}
#: Highest sample rate accepted anywhere (Hz); file readers refuse higher ones too.
MAX_SAMPLE_RATE = 768_000
#: Most channels the mix kernel takes (the native kernel's ``MIX_MAX_CHANNELS``; a test keeps them equal).
MAX_MIX_CHANNELS = 1024

_INTS = (int, np.integer)
_BOOLS = (bool, np.bool_)


def check_sample_rate(sample_rate: Any, parameter: str = "sample_rate", node_id: Optional[str] = None) -> int:
    """Validates a sample rate: an integer number of Hz from 1 to 768000.

    A float holding an integer (``16000.0``) is accepted and returned as an int.

    Returns:
        The rate as a Python int.

    Raises:
        KernelInputError: not an integer, or out of range.
    """
    if sample_rate.__class__ is int and 1 <= sample_rate <= MAX_SAMPLE_RATE:
        return sample_rate  # the common case, decided without isinstance chains
    if isinstance(sample_rate, _BOOLS) or not isinstance(sample_rate, _INTS):
        if isinstance(sample_rate, (float, np.floating)) and float(sample_rate).is_integer():
            sample_rate = int(sample_rate)
        else:
            raise KernelInputError(parameter, "an integer number of Hz", repr(sample_rate), node_id=node_id)
    if not 1 <= int(sample_rate) <= MAX_SAMPLE_RATE:
        raise KernelInputError(parameter, f"1 to {MAX_SAMPLE_RATE} Hz", sample_rate, node_id=node_id)
    return int(sample_rate)


def as_channels_first(samples: Any, parameter: str = "audio", node_id: Optional[str] = None) -> np.ndarray:
    """Validates audio samples and returns them as a (channels, frames) array.

    Args:
        samples: a numpy array of int16, int32, float32 or float64, shaped
            (channels, frames) with at least one channel, or (frames,) (mono).
        parameter: named in errors.
        node_id: named in errors.

    Returns:
        ``samples`` itself when 2-D, a (1, frames) view when 1-D (never a copy).

    Raises:
        KernelInputError: not an array, another dtype or another shape.
    """
    if not isinstance(samples, np.ndarray):
        raise KernelInputError(parameter, "a numpy.ndarray", type(samples).__name__, node_id=node_id)
    if samples.dtype not in SAMPLE_DTYPES:
        raise KernelInputError(parameter, "dtype int16, int32, float32 or float64", samples.dtype, node_id=node_id)
    ndim = samples.ndim
    if ndim == 2 and samples.shape[0] >= 1:
        return samples
    if ndim == 1:
        return samples[None]
    raise KernelInputError(parameter, "shape (channels, frames) or (frames,)", samples.shape, node_id=node_id)


def check_choice(value: Any, parameter: str, allowed: tuple, node_id: Optional[str] = None) -> int:
    """Validates an int that must be one of ``allowed`` (a tuple of ints); returns it as an int.

    Raises:
        KernelInputError: ``expected 1, 2 or 3``-style message.
    """
    if isinstance(value, _BOOLS) or not isinstance(value, _INTS) or int(value) not in allowed:
        expected = ", ".join(str(a) for a in allowed[:-1]) + f" or {allowed[-1]}"
        raise KernelInputError(parameter, expected, repr(value), node_id=node_id)
    return int(value)
