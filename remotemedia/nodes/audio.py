"""Audio nodes backed by kernels (remotemedia 1.x signatures)."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from remotemedia.audio import coerce_audio
from remotemedia.errors import KernelInputError
from remotemedia.kernels import convert, resample, resolve_impl
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node


class KernelNode(Node):
    """A node whose work is done by a kernel family.

    Args:
        runtime_hint: ``auto`` (the class default chosen at import), ``native``
            (alias ``rust``; fails loudly when native is missing) or ``python``.
        name: node id.

    Attributes:
        impl: ``"native"`` or ``"python"``, what this instance runs.
        impl_reason: why.
    """

    def __init__(self, runtime_hint: str = "auto", name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.runtime_hint = runtime_hint
        assert self.kernel_family is not None
        self.impl, self.impl_reason = resolve_impl(self.kernel_family, runtime_hint, node_id=self.name)


@register_node
class FormatConverterNode(KernelNode):
    """Converts audio to another sample format.

    Args:
        target_format: ``"f32"``, ``"i16"`` or ``"i32"``.
        runtime_hint: see :class:`KernelNode`.
        name: node id.

    ``process((samples, sample_rate))`` returns ``(array (channels, n), sample_rate)``
    of the target dtype; input already in the target format is returned as is.
    The number of clipped samples of the last call is in ``last_clipped`` and
    the running total in ``total_clipped``.
    """

    kernel_family = "convert"

    def __init__(self, target_format: str = "f32", runtime_hint: str = "auto", name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        self.target_format = convert.normalize_format(target_format, node_id=self.name)
        self.last_clipped = 0
        self.total_clipped = 0

    def process(self, data: Any) -> Tuple[np.ndarray, int]:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        result = convert.convert_format(samples, self.target_format, impl=self.impl)
        self.last_clipped = result.clipped
        self.total_clipped += result.clipped
        return result.samples, sample_rate


@register_node
class AudioResampleNode(KernelNode):
    """Resamples audio to a target sample rate (remotemedia 1.x signature).

    Args:
        target_sample_rate: output rate (Hz), 8000 to 192000.
        quality: ``"low"``, ``"medium"``, ``"high"`` (default) or ``"very_high"``
            (see :mod:`remotemedia.kernels.resample` for their measured response).
        runtime_hint: see :class:`KernelNode`.
        name: node id.

    ``process((samples, sample_rate))`` resamples one whole signal and returns
    ``(float32 array (channels, round(frames * target / sample_rate)),
    target_sample_rate)``; 1-D input is mono and comes out as (1, n). Integer
    input is first converted to float32 by the convert kernel's rules (divided
    by 2^15 or 2^31); float64 is rounded to float32.

    Streaming: ``process_chunk((samples, sample_rate))`` feeds one chunk of a
    stream and returns ``(output available so far, target_sample_rate)``; the
    state (partial block, filter memory) is kept across calls. ``flush()`` ends
    the stream and returns ``(the rest, target_sample_rate)``; the chunks'
    outputs followed by the flush's are exactly the output of ``process`` on the
    whole stream, whatever the chunking. The rate and channel count must stay
    the same within a stream; a new stream starts after ``flush()``.
    ``latency_frames`` is the number of output frames held back (the filter
    delay) once a stream has started.
    """

    kernel_family = "resample"

    def __init__(self, target_sample_rate: int = 16000, quality: str = "high", runtime_hint: str = "auto",
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        self.target_sample_rate = resample.check_rate(target_sample_rate, "target_sample_rate", node_id=self.name)
        self.quality = resample.check_quality(quality, node_id=self.name)
        self._stream: Optional[resample.Resampler] = None

    def _float32(self, data: Any) -> Tuple[np.ndarray, int]:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        if samples.dtype.kind == "i":
            samples = convert.convert_format(samples, "f32", impl=self.impl).samples
        return samples, sample_rate

    def process(self, data: Any) -> Tuple[np.ndarray, int]:
        samples, sample_rate = self._float32(data)
        out = resample.resample(samples, sample_rate, self.target_sample_rate, self.quality, impl=self.impl)
        return out, self.target_sample_rate

    def process_chunk(self, data: Any) -> Tuple[np.ndarray, int]:
        """Feeds one chunk of a stream; returns ``(float32 (channels, n), target_sample_rate)``."""
        samples, sample_rate = self._float32(data)
        stream = self._stream
        if stream is None:
            stream = resample.Resampler(sample_rate, self.target_sample_rate, samples.shape[0], self.quality,
                                        impl=self.impl)
            self._stream = stream
        elif sample_rate != stream.in_rate:
            raise KernelInputError("sample_rate", f"{stream.in_rate} Hz (as earlier in this stream)", sample_rate,
                                   node_id=self.name)
        elif samples.shape[0] != stream.channels:
            raise KernelInputError("audio", f"{stream.channels} channel(s) (as earlier in this stream)",
                                   samples.shape[0], node_id=self.name)
        return stream.process(samples), self.target_sample_rate

    def flush(self) -> Tuple[np.ndarray, int]:
        """Ends the stream; returns ``(the remaining float32 (channels, n), target_sample_rate)``."""
        stream, self._stream = self._stream, None
        if stream is None:
            return np.zeros((1, 0), dtype=np.float32), self.target_sample_rate
        return stream.flush(), self.target_sample_rate

    @property
    def latency_frames(self) -> int:
        """Output frames held back by the current stream (0 before a stream starts)."""
        return 0 if self._stream is None else self._stream.delay
