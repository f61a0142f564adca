"""Sample rate conversion: whole signals (:func:`resample`) and streams (:class:`Resampler`).

Both implementations run the same algorithm: rubato's synchronous FFT resampler
(``rubato::Fft``) in the native module, and a vectorised numpy twin of it that
recomputes rubato's filter with rubato's float32 arithmetic
(:mod:`remotemedia.kernels._resample_design`). They agree to float rounding
(signal-to-difference ratio above 120 dB; the FFT library picks CPU-specific
code, so the bits are not identical).

Algorithm: the input is cut into blocks of N frames counted from the start of
the stream; each block is filtered by an N-tap windowed sinc and resampled in
the frequency domain to M output frames (N : M = in_rate : out_rate), with
overlap-add. The filter delay (M / 2 output frames, an exact integer) is
removed, so output frame j is at time ``j / out_rate`` like input frame i at
``i / in_rate``. A whole signal of n frames gives ``round(n * out_rate /
in_rate)`` frames (half to even); a stream fed in any chunking and flushed gives
the same samples as the whole-signal call.

Quality presets, measured by ``test_preset_quality_as_documented`` in
``tests/kernels/test_resample.py`` (run it with ``-s`` to print them) for
48k -> 16k and 16k -> 48k, which give the same numbers; pairs whose reduced
ratio forces longer blocks (44.1k -> 16k: N = 1764, M = 640 for every preset)
do better. Passband edge: the highest frequency, as a fraction of the lower
Nyquist, up to which the gain stays within +-0.1 dB. Ripple: peak-to-peak gain
up to 0.75 of the lower Nyquist. Gain at 0.9: the lowest gain up to 0.9 of the
lower Nyquist. Aliasing: energy of white noise above the new Nyquist that lands
below it (downsampling), or energy above the old Nyquist in the output
(upsampling), relative to the input; the native float32 numbers are given, the
numpy implementation (float64 transforms) measures 2-13 dB lower. Latency: the
filter delay held back by a stream, 48k -> 16k.

============  =====================  ==========  ===========  ===========  ===========  ===========
quality       window, min block      edge        ripple       gain at 0.9  aliasing     latency
============  =====================  ==========  ===========  ===========  ===========  ===========
``low``       Blackman-Harris, 64    0.800       0.0001 dB    -12.6 dB     -137 dB      32 (2 ms)
``medium``    Blackman-Harris, 128   0.900       < 0.0001 dB  -0.10 dB     -139 dB      64 (4 ms)
``high``      Blackman-Harris^2, 256 0.920       < 0.0001 dB  -0.00 dB     -141 dB      128 (8 ms)
``very_high`` Blackman-Harris^2, 512 0.960       < 0.0001 dB  -0.00 dB     -140 dB      256 (16 ms)
============  =====================  ==========  ===========  ===========  ===========  ===========

"min block" is the shorter side of a block (M when downsampling, N when
upsampling); the aliasing comes mostly from the block processing, not from the
window's stopband, which is why it is about the same for every preset.

Rates: integers from 8000 to 192000 Hz whose reduced ratio ``in_rate / g :
out_rate / g`` has both terms at most 8192 (every pair of the usual rates 8000,
11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400,
192000 qualifies); a pair like 8001 -> 16000 is refused, since its blocks would
be tens of thousands of frames long (latency near one second). Equal rates
return a float32 copy of the input.

Dtypes: float32 in, float32 out. float64 input is converted to float32 once
(a copy); integer input is refused (convert it first with
:func:`remotemedia.kernels.convert.convert_format`). A 1-D input is mono and
gives a 1-D output; a 2-D input is (channels, frames). Sample values must be
finite with magnitude at most 1e30.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from remotemedia.errors import KernelInputError
from remotemedia.kernels import _resample_design as design
from remotemedia.kernels.select import impl_table

QUALITIES = design.QUALITIES

_VALUE_EXPECTED = f"finite values of magnitude at most {design.MAX_ABS_SAMPLE:g}"
_VALUE_GIVEN = "an array with NaN, inf or larger values"
#: Blocks transformed at once by the numpy implementation (bounds its memory).
_NUMPY_GROUP_ELEMENTS = 1 << 18

#: The most channels one resampler takes (the native engine has the same bound).
MAX_CHANNELS = 4096


# --- validation (shared by both implementations) ----------------------------------


def check_rate(rate: Any, parameter: str = "sample_rate", *, node_id: Optional[str] = None) -> int:
    """Validates a sample rate for resampling (an int from 8000 to 192000 Hz)."""
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, np.integer)):
        raise KernelInputError(parameter, "an integer number of Hz", repr(rate), node_id=node_id)
    if not design.MIN_RATE <= int(rate) <= design.MAX_RATE:
        raise KernelInputError(parameter, f"{design.MIN_RATE} to {design.MAX_RATE} Hz", rate, node_id=node_id)
    return int(rate)


def check_rates(in_rate: Any, out_rate: Any) -> Tuple[int, int]:
    """Validates a rate pair: each from 8000 to 192000 Hz, their reduced ratio's terms at most 8192."""
    in_rate = check_rate(in_rate, "in_rate")
    out_rate = check_rate(out_rate, "out_rate")
    a, b = design.reduced_ratio(in_rate, out_rate)
    if max(a, b) > design.MAX_RATIO_TERM:
        raise KernelInputError(
            "out_rate",
            f"a rate whose ratio to in_rate reduces to terms of at most {design.MAX_RATIO_TERM} "
            "(any two of 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, "
            "176400, 192000 Hz)",
            f"{in_rate} -> {out_rate} Hz (ratio {a}:{b})",
        )
    return in_rate, out_rate


def check_quality(quality: Any, *, node_id: Optional[str] = None) -> str:
    """Validates a quality preset name (``low``, ``medium``, ``high``, ``very_high``)."""
    if not isinstance(quality, str) or quality not in design.PRESETS:
        raise KernelInputError("quality", "one of 'low', 'medium', 'high', 'very_high'", repr(quality),
                               node_id=node_id)
    return quality


def _check_float_2d(samples: Any, parameter: str = "samples") -> np.ndarray:
    """Validates a float32/float64 (channels, frames) or (frames,) array; returns it 2-D (a view)."""
    if not isinstance(samples, np.ndarray):
        raise KernelInputError(parameter, "a numpy.ndarray", type(samples).__name__)
    if samples.dtype not in (np.float32, np.float64):
        raise KernelInputError(parameter, "dtype float32 or float64 (convert integer audio with convert_format)",
                               samples.dtype)
    if samples.ndim == 1:
        return samples[np.newaxis, :]
    if samples.ndim != 2 or samples.shape[0] < 1:
        raise KernelInputError(parameter, "shape (channels, frames) or (frames,)", samples.shape)
    return samples


def as_f32(samples: np.ndarray) -> np.ndarray:
    """A float (channels, frames) array as C-contiguous float32: the array itself when it is one, else one copy."""
    return np.ascontiguousarray(samples, dtype=np.float32)


def _check_values_numpy(x: np.ndarray) -> None:
    if x.size == 0:
        return
    lo, hi = x.min(), x.max()  # NaN propagates and fails both comparisons
    if not (-design.MAX_ABS_SAMPLE <= lo and hi <= design.MAX_ABS_SAMPLE):
        raise KernelInputError("samples", _VALUE_EXPECTED, _VALUE_GIVEN)


# --- numpy implementation ----------------------------------------------------------


class _NumpyEngine:
    """The numpy twin of the native engine (same blocks, delay and flush)."""

    def __init__(self, plan: design.Plan, channels: int) -> None:
        self.plan = plan
        self.channels = channels
        self.n = plan.block_in
        self.m = plan.block_out
        self.delay = plan.delay
        self.spectrum = design.filter_spectrum(plan)
        self.group = max(1, _NUMPY_GROUP_ELEMENTS // (2 * max(self.n, self.m) * channels))
        self.pending = np.zeros((channels, self.n), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        self.pending_len = 0
        self.overlap = np.zeros((self.channels, self.m), dtype=np.float64)
        self.blocks_done = 0
        self.frames_in = 0
        self.frames_out = 0

    def _blocks(self, blocks: np.ndarray) -> np.ndarray:
        """Resamples blocks shaped (channels, nb, N) to (channels, nb * M), keeping the overlap."""
        n, m = self.n, self.m
        nb = blocks.shape[1]
        spec = np.fft.rfft(blocks, n=2 * n, axis=-1)
        used = self.spectrum.shape[0]
        out_spec = np.zeros((self.channels, nb, m + 1), dtype=np.complex128)
        np.multiply(spec[:, :, :used], self.spectrum, out=out_spec[:, :, :used])
        y = np.fft.irfft(out_spec, n=2 * m, axis=-1, norm="forward")
        out = y[:, :, :m].copy()
        out[:, 0, :] += self.overlap
        out[:, 1:, :] += y[:, :-1, m:]
        self.overlap = y[:, -1, m:].copy()
        self.blocks_done += nb
        return out.reshape(self.channels, nb * m)

    def _trim(self, produced: np.ndarray, produced_before: int) -> np.ndarray:
        skip = min(max(self.delay - produced_before, 0), produced.shape[1])
        return produced[:, skip:]

    def _run(self, blocks: np.ndarray) -> np.ndarray:
        before = self.blocks_done * self.m
        return self._trim(self._blocks(blocks), before)

    def process(self, x: np.ndarray) -> np.ndarray:
        _check_values_numpy(x)
        n = self.n
        frames = x.shape[1]
        parts = []
        pos = 0
        if self.pending_len:
            take = min(n - self.pending_len, frames)
            self.pending[:, self.pending_len:self.pending_len + take] = x[:, :take]
            self.pending_len += take
            pos = take
            if self.pending_len == n:
                parts.append(self._run(self.pending[:, np.newaxis, :]))
                self.pending_len = 0
        whole = (frames - pos) // n
        for g in range(0, whole, self.group):
            nb = min(self.group, whole - g)
            start = pos + g * n
            parts.append(self._run(x[:, start:start + nb * n].reshape(self.channels, nb, n)))
        pos += whole * n
        rest = frames - pos
        if rest:
            self.pending[:, :rest] = x[:, pos:]
            self.pending_len = rest
        self.frames_in += frames
        return self._emit(parts)

    def flush(self) -> np.ndarray:
        target = design.output_len(self.frames_in, self.plan.in_rate, self.plan.out_rate)
        need = target - self.frames_out
        parts = []
        got = 0
        first = True
        while got < need:
            block = np.zeros((self.channels, 1, self.n), dtype=np.float32)
            if first:
                block[:, 0, :self.pending_len] = self.pending[:, :self.pending_len]
                first = False
            out = self._run(block)
            parts.append(out[:, :need - got])
            got += parts[-1].shape[1]
        result = self._emit(parts)
        self.reset()
        return result

    def _emit(self, parts: list) -> np.ndarray:
        if not parts:
            return np.zeros((self.channels, 0), dtype=np.float32)
        out = np.concatenate(parts, axis=1).astype(np.float32) if len(parts) > 1 else parts[0].astype(np.float32)
        self.frames_out += out.shape[1]
        return out


class _IdentityEngine:
    """Equal rates: output = input (a float32 copy), no delay."""

    delay = 0

    def __init__(self, channels: int) -> None:
        self.channels = channels

    def process(self, x: np.ndarray) -> np.ndarray:
        _check_values_numpy(x)
        return x.copy()

    def flush(self) -> np.ndarray:
        return np.zeros((self.channels, 0), dtype=np.float32)

    def reset(self) -> None:
        pass


# --- the two implementations --------------------------------------------------------


class ResampleKernel:
    """Resampling bound to one implementation (an entry of :data:`TABLE`).

    Its methods trust their arguments (rates checked with :func:`check_rates`,
    a known preset, C-contiguous float32 (channels, frames) input of 1 to
    4096 channels); the sample values are still checked (finite, magnitude
    at most 1e30), by the engines themselves.

    Attributes:
        impl: ``"python"`` or ``"native"``.
    """

    __slots__ = ("impl", "_mod")

    def __init__(self, impl: str, mod: Any = None) -> None:
        self.impl = impl
        self._mod = mod

    def stream(self, in_rate: int, out_rate: int, channels: int, quality: str) -> Any:
        """A fresh stream engine: ``process(x)``, ``flush()``, ``reset()``, ``delay``."""
        if in_rate == out_rate:
            return _IdentityEngine(channels)
        plan = design.make_plan(in_rate, out_rate, quality)
        if self._mod is not None:
            return self._mod.ResampleStream(in_rate, out_rate, plan.block_in, plan.window, channels)
        return _NumpyEngine(plan, channels)

    def resample(self, x: np.ndarray, in_rate: int, out_rate: int, quality: str) -> np.ndarray:
        """A whole signal: (channels, round(frames * out_rate / in_rate)) float32."""
        if in_rate == out_rate:
            _check_values_numpy(x)
            return x.copy()
        plan = design.make_plan(in_rate, out_rate, quality)
        if self._mod is not None:
            return self._mod.resample_f32(x, in_rate, out_rate, plan.block_in, plan.window)
        engine = _NumpyEngine(plan, x.shape[0])
        head = engine.process(x)
        return np.concatenate([head, engine.flush()], axis=1)


#: The implementations of the ``resample`` family (see :func:`remotemedia.kernels.impl_table`).
TABLE = impl_table("resample", python=ResampleKernel("python"), native=lambda mod: ResampleKernel("native", mod))


# --- public API -------------------------------------------------------------------------


def _check_channels(x: np.ndarray) -> None:
    if x.shape[0] > MAX_CHANNELS:
        raise KernelInputError("samples", f"1 to {MAX_CHANNELS} channels", x.shape[0])


def resample(samples: np.ndarray, in_rate: int, out_rate: int, quality: str = "high", *,
             impl: Optional[str] = None) -> np.ndarray:
    """Resamples a whole signal.

    Args:
        samples: float32 (or float64, converted once) array shaped (channels,
            frames) or (frames,); a non-contiguous input is copied once.
        in_rate: the input's sample rate (Hz).
        out_rate: the wanted sample rate (Hz).
        quality: ``"low"``, ``"medium"``, ``"high"`` (default) or ``"very_high"``.
        impl: ``"python"``, ``"native"`` or None for the default implementation.

    Returns:
        float32 array of ``round(frames * out_rate / in_rate)`` frames (half to
        even), aligned with the input (no delay), 1-D for 1-D input, else
        (channels, frames_out). Equal rates give a copy of the input.

    Raises:
        KernelInputError: bad dtype, shape, rate, quality or sample values.
    """
    kernel = TABLE.select(impl)
    x = _check_float_2d(samples)
    _check_channels(x)
    in_rate, out_rate = check_rates(in_rate, out_rate)
    quality = check_quality(quality)
    out = kernel.resample(as_f32(x), in_rate, out_rate, quality)
    return out[0] if samples.ndim == 1 else out


class Resampler:
    """Streaming resampler: keeps its state across chunks.

    Feeding a signal in any chunking through :meth:`process` and then calling
    :meth:`flush` gives exactly the samples of one :func:`resample` call on the
    whole signal (same implementation).

    Args:
        in_rate: input sample rate (Hz).
        out_rate: output sample rate (Hz).
        channels: number of channels of every chunk.
        quality: ``"low"``, ``"medium"``, ``"high"`` (default) or ``"very_high"``.
        impl: ``"python"``, ``"native"`` or None for the default implementation.

    Attributes:
        delay: output frames held back until later chunks or :meth:`flush`
            (M / 2 of the block; 0 for equal rates): the latency in frames.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1, quality: str = "high", *,
                 impl: Optional[str] = None) -> None:
        kernel = TABLE.select(impl)
        self.impl = kernel.impl
        self.in_rate, self.out_rate = check_rates(in_rate, out_rate)
        self.quality = check_quality(quality)
        if isinstance(channels, (bool, np.bool_)) or not isinstance(channels, (int, np.integer)) \
                or not 1 <= int(channels) <= MAX_CHANNELS:
            raise KernelInputError("channels", f"an int from 1 to {MAX_CHANNELS}", repr(channels))
        self.channels = int(channels)
        self._engine = kernel.stream(self.in_rate, self.out_rate, self.channels, self.quality)
        self.delay = int(self._engine.delay)
        self._one_d: Optional[bool] = None

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feeds one chunk and returns the output that is complete.

        Args:
            chunk: float32 (or float64) array (channels, frames), or (frames,)
                when ``channels == 1``; any number of frames, 0 included.

        Returns:
            float32 output frames, (channels, n) or (n,) like the chunk; n
            varies from call to call (0 while the first block fills).
        """
        x = _check_float_2d(chunk)
        if x.shape[0] != self.channels:
            raise KernelInputError("samples", f"{self.channels} channel(s)", f"shape {chunk.shape}")
        one_d = self._one_d = chunk.ndim == 1
        out = self._engine.process(as_f32(x))
        return out[0] if one_d else out

    def process_f32(self, x: np.ndarray) -> np.ndarray:
        """:meth:`process` for input already checked: C-contiguous float32 (channels, frames) of ``channels``.

        Returns:
            float32 (channels, n); sample values are still checked.
        """
        return self._engine.process(x)

    def flush(self) -> np.ndarray:
        """Ends the stream: returns the remaining output and resets the state.

        Returns:
            float32 array, shaped like the chunks' output; after it the total
            output is ``round(total_in * out_rate / in_rate)`` frames.
        """
        out = self._engine.flush()
        return out[0] if self._one_d else out

    def reset(self) -> None:
        """Drops the stream state (pending input and filter memory)."""
        self._engine.reset()

    def __repr__(self) -> str:
        return (f"Resampler({self.in_rate}, {self.out_rate}, channels={self.channels}, "
                f"quality={self.quality!r}, impl={self.impl!r})")
