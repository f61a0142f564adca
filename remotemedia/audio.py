"""AudioBuffer: samples as a numpy array shaped (channels, frames) plus a rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

import numpy as np

from remotemedia.errors import KernelInputError
from remotemedia.kernels import check_impl

SAMPLE_DTYPES = {
    np.dtype(np.int16): "i16", np.dtype(np.int32): "i32", np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
}
_PCM_DTYPES = {
    "i16": np.int16, "s16": np.int16, "int16": np.int16,
    "i32": np.int32, "s32": np.int32, "int32": np.int32,
    "f32": np.float32, "float32": np.float32,
}


@dataclass(frozen=True)
class AudioBuffer:
    """Audio samples with their sample rate.

    Attributes:
        samples: array shaped (channels, frames), dtype int16, int32, float32
            or float64 (a 1-D array is taken as mono and viewed as (1, n)).
        sample_rate: samples per second per channel (Hz).
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        samples = as_channels_first(self.samples, "samples")
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "sample_rate", check_sample_rate(self.sample_rate))

    @property
    def format(self) -> str:
        """``"i16"``, ``"i32"``, ``"f32"`` or ``"f64"``, from the dtype."""
        return SAMPLE_DTYPES[self.samples.dtype]

    @property
    def num_channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.sample_rate

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
        if self.num_channels == 1:
            return self
        from remotemedia.kernels.mix import mix_to_mono

        x = self.samples
        if x.dtype.kind == "f" and x.shape[0] >= 8 and (x.shape[1] == 1 or not x.flags.c_contiguous):
            # With 8+ channels on numpy's inner loop (channel-contiguous data or a single frame),
            # numpy's mean sums them pairwise, not in channel order as the kernel does; the
            # last bits can differ, and to_mono keeps the results it has always given.
            impl = check_impl(impl, "mix")  # still validates impl= the same way
            mixed = x.mean(axis=0, dtype=np.float64).astype(x.dtype)[np.newaxis, :]
        else:
            mixed = mix_to_mono(x, impl=impl)
        return AudioBuffer(mixed, self.sample_rate)

    def as_tuple(self) -> Tuple[np.ndarray, int]:
        """The 1.x tuple form ``(samples, sample_rate)``."""
        return self.samples, self.sample_rate


def check_sample_rate(sample_rate: Any, parameter: str = "sample_rate", node_id: Optional[str] = None) -> int:
    """Validates a sample rate (an integer number of Hz, 1 to 768000)."""
    if isinstance(sample_rate, (bool, np.bool_)) or not isinstance(sample_rate, (int, np.integer)):
        if isinstance(sample_rate, (float, np.floating)) and float(sample_rate).is_integer():
            sample_rate = int(sample_rate)
        else:
            raise KernelInputError(parameter, "an integer number of Hz", repr(sample_rate), node_id=node_id)
    if not 1 <= int(sample_rate) <= 768_000:
        raise KernelInputError(parameter, "1 to 768000 Hz", sample_rate, node_id=node_id)
    return int(sample_rate)


def as_channels_first(samples: Any, parameter: str = "audio", node_id: Optional[str] = None) -> np.ndarray:
    """Returns ``samples`` as a (channels, frames) array (a view for 1-D input)."""
    if not isinstance(samples, np.ndarray):
        raise KernelInputError(parameter, "a numpy.ndarray", type(samples).__name__, node_id=node_id)
    if samples.dtype not in SAMPLE_DTYPES:
        raise KernelInputError(parameter, "dtype int16, int32, float32 or float64", samples.dtype, node_id=node_id)
    if samples.ndim == 1:
        return samples[np.newaxis, :]
    if samples.ndim != 2 or samples.shape[0] < 1:
        raise KernelInputError(parameter, "shape (channels, frames) or (frames,)", samples.shape, node_id=node_id)
    return samples


def coerce_audio(data: Any, node_id: Optional[str] = None) -> Tuple[np.ndarray, int]:
    """Accepts an AudioBuffer or a 1.x ``(samples, sample_rate)`` tuple.

    Returns:
        ``(samples shaped (channels, frames), sample_rate)``.
    """
    if isinstance(data, AudioBuffer):
        return data.samples, data.sample_rate
    if isinstance(data, tuple) and len(data) >= 2:
        samples = as_channels_first(data[0], "audio", node_id)
        return samples, check_sample_rate(data[1], "sample_rate", node_id)
    raise KernelInputError("input", "an AudioBuffer or a (samples, sample_rate) tuple", type(data).__name__,
                           node_id=node_id)
