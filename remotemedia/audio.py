"""AudioBuffer: samples as a numpy array shaped (channels, frames) plus a rate, validated once.

An :class:`AudioBuffer` is checked when it is built and is immutable afterwards
(a tuple), so whoever receives one can trust it: nodes pass them to each other
and :func:`coerce_audio` hands one back as it is. It is also the remotemedia 1.x
``(samples, sample_rate)`` tuple: it unpacks, indexes and compares like one.

This module imports no kernel at import time (validators live in the leaf
module :mod:`remotemedia.validate`); :meth:`AudioBuffer.to_mono` loads the mix
kernel when first called.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from remotemedia.errors import KernelInputError
from remotemedia.validate import (
    MAX_MIX_CHANNELS,
    MAX_SAMPLE_RATE,
    SAMPLE_DTYPES,
    as_channels_first,
    check_sample_rate,
)

__all__ = ["AudioBuffer", "SAMPLE_DTYPES", "as_channels_first", "check_sample_rate", "coerce_audio", "mix_down"]

_PCM_DTYPES = {
    "i16": np.int16, "s16": np.int16, "int16": np.int16,
    "i32": np.int32, "s32": np.int32, "int32": np.int32,
    "f32": np.float32, "float32": np.float32,
}
_new_tuple = tuple.__new__
_NDARRAY = np.ndarray


class AudioBuffer(Tuple[np.ndarray, int]):
    """Audio samples with their sample rate: a validated, immutable ``(samples, sample_rate)`` pair.

    Args:
        samples: array shaped (channels, frames) with at least one channel,
            dtype int16, int32, float32 or float64; a 1-D array is taken as
            mono and viewed as (1, n) (never copied).
        sample_rate: samples per second per channel (Hz), an integer from 1 to
            768000 (a float holding an integer is accepted).

    Attributes:
        samples: the (channels, frames) array.
        sample_rate: the rate in Hz (an int).

    Raises:
        KernelInputError: a bad array or rate.

    Being a tuple, ``samples, rate = buffer`` works, ``buffer[0]`` is the
    samples and ``buffer == (samples, rate)`` compares like the 1.x tuple.
    Do not change the array's contents, shape or dtype in place: receivers
    trust what was checked when the buffer was built.
    """

    __slots__ = ()

    def __new__(cls, samples: Any, sample_rate: Any) -> "AudioBuffer":
        return _new_tuple(cls, (as_channels_first(samples, "samples"), check_sample_rate(sample_rate)))

    @classmethod
    def trusted(cls, samples: np.ndarray, sample_rate: int) -> "AudioBuffer":
        """An AudioBuffer built without checks, for code whose output meets the contract by construction.

        Args:
            samples: a 2-D (channels >= 1, frames) array of a sample dtype.
            sample_rate: an int from 1 to 768000.
        """
        return _new_tuple(cls, (samples, sample_rate))

    @property
    def samples(self) -> np.ndarray:
        """The (channels, frames) array."""
        return self[0]

    @property
    def sample_rate(self) -> int:
        """The sample rate in Hz."""
        return self[1]

    def __getnewargs__(self) -> Tuple[np.ndarray, int]:  # type: ignore[override]
        return self[0], self[1]  # pickling builds it again through __new__ (checked)

    def __repr__(self) -> str:
        return f"AudioBuffer(samples={self[0]!r}, sample_rate={self[1]!r})"

    @property
    def format(self) -> str:
        """``"i16"``, ``"i32"``, ``"f32"`` or ``"f64"``, from the dtype."""
        return SAMPLE_DTYPES[self[0].dtype]

    @property
    def num_channels(self) -> int:
        return int(self[0].shape[0])

    @property
    def num_frames(self) -> int:
        return int(self[0].shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self[1]

    @classmethod
    def from_pcm_bytes(cls, data: Union[bytes, bytearray, memoryview], sample_rate: int, num_channels: int = 1,
                       format: str = "i16") -> "AudioBuffer":
        """Views interleaved PCM bytes as an AudioBuffer without copying.

        Args:
            data: interleaved samples (frame 0 channel 0, frame 0 channel 1, ...).
            sample_rate: Hz.
            num_channels: channels interleaved in ``data``.
            format: ``i16``, ``i32`` or ``f32`` (little-endian, native order).

        Returns:
            An AudioBuffer whose samples are a (channels, frames) view of ``data``
            (read-only when ``data`` is ``bytes``).
        """
        if format not in _PCM_DTYPES:
            raise KernelInputError("format", "one of i16, i32, f32", repr(format))
        if not isinstance(num_channels, int) or num_channels < 1:
            raise KernelInputError("num_channels", "an int >= 1", repr(num_channels))
        dtype = np.dtype(_PCM_DTYPES[format])
        frame_bytes = dtype.itemsize * num_channels
        if len(memoryview(data).cast("B")) % frame_bytes:
            raise KernelInputError("data", f"a multiple of {frame_bytes} bytes", f"{len(data)} bytes")
        flat = np.frombuffer(data, dtype=dtype)
        return cls(flat.reshape(-1, num_channels).T, sample_rate)

    def to_mono(self, *, impl: Optional[str] = None) -> "AudioBuffer":
        """Mixes down to one channel: the mean of the channels of each frame.

        Integer input gives the mean rounded half to even in the input's
        dtype; float input the float64 mean cast back to the input's dtype
        (:func:`remotemedia.kernels.mix.mix_to_mono` has the exact rules).
        Mono input is returned as is.

        Args:
            impl: ``"python"``, ``"native"`` or None for the default implementation.

        Returns:
            An AudioBuffer with samples shaped (1, frames), same dtype and rate.
        """
        if self[0].shape[0] == 1:
            return self
        from remotemedia.kernels.mix import TABLE

        return _new_tuple(AudioBuffer, (mix_down(self[0], TABLE.select(impl)), self[1]))

    def as_tuple(self) -> Tuple[np.ndarray, int]:
        """The 1.x tuple form ``(samples, sample_rate)`` (a plain tuple)."""
        return self[0], self[1]


def mix_down(samples: np.ndarray, kernel: Any) -> np.ndarray:
    """:meth:`AudioBuffer.to_mono`'s arithmetic on checked (channels, frames) samples.

    Args:
        samples: a 2-D array of a sample dtype (as an AudioBuffer holds).
        kernel: a :class:`remotemedia.kernels.mix.MixKernel` (one implementation).

    Returns:
        (1, frames) of the input's dtype; one channel returns ``samples`` itself.

    Raises:
        KernelInputError: more channels than the mix kernel takes (1024).
    """
    channels, frames = samples.shape
    if channels == 1:
        return samples
    if samples.dtype.kind == "f" and channels >= 8 and (frames == 1 or not samples.flags.c_contiguous):
        # With 8+ channels on numpy's inner loop (channel-contiguous data or a single frame),
        # numpy's mean sums them pairwise, not in channel order as the kernel does; the
        # last bits can differ, and to_mono keeps the results it has always given.
        return samples.mean(axis=0, dtype=np.float64).astype(samples.dtype)[np.newaxis, :]
    if channels > MAX_MIX_CHANNELS:
        raise KernelInputError("samples", f"1 to {MAX_MIX_CHANNELS} channels", f"{channels} channels")
    return kernel.mix(samples)


def coerce_audio(data: Any, node_id: Optional[str] = None) -> Tuple[np.ndarray, int]:
    """Accepts an AudioBuffer (returned as is: it was checked when built) or a 1.x ``(samples, sample_rate)`` tuple.

    Returns:
        ``(samples shaped (channels, frames), sample_rate)``: the AudioBuffer
        itself, or, for a tuple, a plain tuple of what was checked here (a
        1-D array viewed as (1, frames), the rate as an int).

    Raises:
        KernelInputError: not audio, or bad samples or rate (naming ``node_id``).
    """
    if isinstance(data, AudioBuffer):
        return data
    if isinstance(data, tuple) and len(data) >= 2:
        samples, rate = data[0], data[1]
        # The usual 1.x tuple (an array of a sample dtype, an int rate in range), checked inline;
        # anything else goes through the validators, which say what is wrong.
        if samples.__class__ is _NDARRAY and rate.__class__ is int and 1 <= rate <= MAX_SAMPLE_RATE \
                and samples.dtype in SAMPLE_DTYPES:
            ndim = samples.ndim
            if ndim == 2 and samples.shape[0]:
                return samples, rate
            if ndim == 1:
                return samples[None], rate
        return as_channels_first(samples, "audio", node_id), check_sample_rate(rate, "sample_rate", node_id)
    raise KernelInputError("input", "an AudioBuffer or a (samples, sample_rate) tuple", type(data).__name__,
                           node_id=node_id)
