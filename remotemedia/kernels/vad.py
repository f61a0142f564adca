"""Voice activity detection kernels: the WebRTC GMM VAD and the energy VAD.

WebRTC VAD
    Native: a pure-Rust port of libfvad (``remotemedia_kernels::fvad``),
    tested decision by decision against libfvad's C. Python: an exact port of
    the same integer algorithm (:mod:`remotemedia.kernels._webrtc_vad_py`).
    Both make identical decisions, frame by frame, and match the
    ``webrtcvad-wheels`` package when each starts from a fresh state.

    The detector adapts its noise and speech models as it runs, so decisions
    depend on everything it has seen: one :class:`WebRtcVad` per stream or
    file, and :meth:`WebRtcVad.reset` between unrelated inputs.

    48 kHz: upstream looks only at the first 10 ms of a 20 or 30 ms frame at
    48 kHz (it resamples that 10 ms block again for each 10 ms of the frame).
    This wrapper does not inherit that: at 48 kHz the detector always runs on
    10 ms frames, and a 20/30 ms frame is speech when any of its 10 ms parts
    is (speech-favouring, so no speech is lost before segmenting). At 8, 16
    and 32 kHz the requested frame length is passed through unchanged.

Energy VAD
    The remotemedia 1.x behaviour: a frame is speech when its RMS exceeds a
    threshold. RMS = sqrt(sequential float64 sum of squares / frame length),
    computed the same way in numpy (``cumsum``, which sums in order) and in
    Rust, so decisions are identical.

Both detectors re-frame their input internally: any chunking of a stream
gives the same decisions; :meth:`flush` zero-pads a final partial frame and
flags it.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from remotemedia import _native
from remotemedia.errors import KernelInputError
from remotemedia.kernels import check_impl

VALID_RATES = (8000, 16000, 32000, 48000)
FRAME_MS = (10, 20, 30)
MODES = (0, 1, 2, 3)

# Energy frames per numpy block (bounds temporary memory).
_ENERGY_BLOCK_FRAMES = 2048


class VadResult(NamedTuple):
    """Decisions for a whole signal.

    Attributes:
        decisions: uint8 array, 1 = speech, one entry per frame.
        frame_length: samples per frame at the detector's sample rate.
        padded: True when the last frame was a zero-padded partial frame.
        rms: float64 per-frame RMS (energy VAD only, else None).
    """

    decisions: np.ndarray
    frame_length: int
    padded: bool
    rms: Optional[np.ndarray] = None


def _check_int(value: object, parameter: str, allowed: tuple, node_id: Optional[str] = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or int(value) not in allowed:
        expected = ", ".join(str(a) for a in allowed[:-1]) + f" or {allowed[-1]}"
        raise KernelInputError(parameter, expected, repr(value), node_id=node_id)
    return int(value)


def _mono_samples(samples: object, target: str, impl: str, node_id: Optional[str]) -> np.ndarray:
    """Validates a mono chunk and converts it to ``target`` (``i16`` or ``f32``), 1-D contiguous."""
    from remotemedia.kernels.convert import convert_format

    if not isinstance(samples, np.ndarray):
        raise KernelInputError("samples", "a numpy.ndarray", type(samples).__name__, node_id=node_id)
    if samples.dtype not in (np.int16, np.int32, np.float32, np.float64):
        raise KernelInputError("samples", "dtype int16, int32, float32 or float64", samples.dtype, node_id=node_id)
    if samples.ndim == 2 and samples.shape[0] == 1:
        samples = samples[0]
    if samples.ndim != 1:
        raise KernelInputError("samples", "mono audio, shape (frames,) or (1, frames)", samples.shape,
                               node_id=node_id)
    converted = convert_format(samples, target, impl=impl).samples
    return np.ascontiguousarray(converted)


class _Reframer:
    """Cuts a stream of 1-D chunks into whole frames; keeps the remainder."""

    def __init__(self, frame_length: int, dtype: np.dtype) -> None:
        self.frame_length = frame_length
        self._pending = np.zeros(0, dtype=dtype)

    @property
    def pending(self) -> int:
        return int(self._pending.size)

    def split(self, x: np.ndarray) -> "list[np.ndarray]":
        """Whole-frame blocks (each a multiple of frame_length samples) for ``x``."""
        fl = self.frame_length
        blocks = []
        if self._pending.size:
            need = fl - self._pending.size
            if x.size < need:
                self._pending = np.concatenate([self._pending, x])
                return blocks
            blocks.append(np.concatenate([self._pending, x[:need]]))
            x = x[need:]
        n_full = x.size // fl * fl
        if n_full:
            blocks.append(x[:n_full])  # a view: no copy of the chunk
        self._pending = x[n_full:].copy()
        return blocks

    def take_padded(self) -> Optional[np.ndarray]:
        """The pending partial frame, zero-padded to a whole frame (None when empty)."""
        if not self._pending.size:
            return None
        frame = np.zeros(self.frame_length, dtype=self._pending.dtype)
        frame[: self._pending.size] = self._pending
        self._pending = self._pending[:0]
        return frame

    def clear(self) -> None:
        self._pending = self._pending[:0]


class WebRtcVad:
    """Streaming WebRTC VAD with explicit state (one instance per stream).

    Args:
        sample_rate: Hz, one of 8000, 16000, 32000, 48000.
        mode: aggressiveness 0 (quality) to 3 (very aggressive).
        frame_ms: 10, 20 or 30.
        impl: ``"python"``, ``"native"`` or None (the default implementation).
        node_id: named in errors.

    Attributes:
        frame_length: samples per decision frame.
        frames_done: decisions produced so far.
        last_padded: True when the last :meth:`flush` padded a partial frame.
    """

    def __init__(self, sample_rate: int, mode: int = 3, frame_ms: int = 30, *, impl: Optional[str] = None,
                 node_id: Optional[str] = None) -> None:
        self.impl = check_impl(impl, "webrtc_vad")
        self.sample_rate = _check_int(sample_rate, "sample_rate", VALID_RATES, node_id)
        self.mode = _check_int(mode, "mode", MODES, node_id)
        self.frame_ms = _check_int(frame_ms, "frame_ms", FRAME_MS, node_id)
        self.node_id = node_id
        self.frame_length = self.sample_rate * self.frame_ms // 1000
        # At 48 kHz the detector runs on 10 ms frames (see the module docstring).
        self._group = self.frame_ms // 10 if self.sample_rate == 48000 else 1
        self._engine_frame = self.frame_length // self._group
        self._reframer = _Reframer(self.frame_length, np.dtype(np.int16))
        self.frames_done = 0
        self.last_padded = False
        self._engine = self._new_engine()

    def _new_engine(self):  # type: ignore[no-untyped-def]
        if self.impl == "native":
            return _native.module().WebRtcVad(self.mode, self.sample_rate)
        from remotemedia.kernels._webrtc_vad_py import FvadPy

        return FvadPy(self.mode, self.sample_rate)

    def _decide(self, block: np.ndarray) -> np.ndarray:
        ef = self._engine_frame
        if self.impl == "native":
            raw = self._engine.process_frames(block, ef)
        else:
            raw = self._engine.process_frames(block.reshape(-1, ef))
        if self._group > 1:
            raw = raw.reshape(-1, self._group).max(axis=1)
        return raw.astype(np.uint8, copy=False)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feeds a chunk; returns the decisions of the frames it completed.

        Args:
            samples: mono audio at ``sample_rate``: int16 (used as is) or
                int32/float32/float64 (converted to int16 with the convert
                kernel's rules), shape (frames,) or (1, frames).

        Returns:
            uint8 array, 1 = speech, one entry per completed frame.
        """
        x = _mono_samples(samples, "i16", self.impl, self.node_id)
        out = [self._decide(b) for b in self._reframer.split(x)]
        result = np.concatenate(out) if out else np.zeros(0, dtype=np.uint8)
        self.frames_done += result.size
        return result

    def flush(self) -> np.ndarray:
        """Decides the final partial frame, zero-padded (sets ``last_padded``).

        Returns:
            uint8 array of 0 or 1 decisions.
        """
        frame = self._reframer.take_padded()
        self.last_padded = frame is not None
        if frame is None:
            return np.zeros(0, dtype=np.uint8)
        self.frames_done += 1
        return self._decide(frame)

    @property
    def pending_samples(self) -> int:
        """Samples buffered towards the next frame."""
        return self._reframer.pending

    def reset(self) -> None:
        """Back to a fresh detector (same mode, rate and frame length); drops buffered samples."""
        self._engine.reset()
        self._reframer.clear()
        self.frames_done = 0
        self.last_padded = False


def webrtc_vad(samples: np.ndarray, sample_rate: int, mode: int = 3, frame_ms: int = 30, *,
               impl: Optional[str] = None) -> VadResult:
    """WebRTC VAD decisions for a whole mono signal, from a fresh state.

    Args:
        samples: mono audio (see :meth:`WebRtcVad.process`).
        sample_rate: Hz, one of 8000, 16000, 32000, 48000.
        mode: 0 to 3.
        frame_ms: 10, 20 or 30.
        impl: ``"python"``, ``"native"`` or None.

    Returns:
        :class:`VadResult`; a final partial frame is zero-padded and flagged.
    """
    vad = WebRtcVad(sample_rate, mode, frame_ms, impl=impl)
    head = vad.process(samples)
    tail = vad.flush()
    return VadResult(np.concatenate([head, tail]), vad.frame_length, vad.last_padded)


def _energy_numpy(x: np.ndarray, frame_length: int, threshold: float) -> "tuple[np.ndarray, np.ndarray]":
    n_frames = x.size // frame_length
    rms = np.empty(n_frames, dtype=np.float64)
    for start in range(0, n_frames, _ENERGY_BLOCK_FRAMES):
        stop = min(n_frames, start + _ENERGY_BLOCK_FRAMES)
        frames = x[start * frame_length: stop * frame_length].reshape(-1, frame_length).astype(np.float64)
        np.multiply(frames, frames, out=frames)
        # cumsum adds in order, like the native loop, so the sums are bit-identical.
        sums = np.cumsum(frames, axis=1)[:, -1]
        np.sqrt(sums / frame_length, out=rms[start:stop])
    return (rms > threshold).astype(np.uint8), rms


class EnergyVad:
    """Streaming energy VAD (remotemedia 1.x): speech when frame RMS > threshold.

    Args:
        sample_rate: Hz (any rate).
        frame_ms: frame duration in ms (1 to 1000).
        energy_threshold: RMS threshold on float samples in [-1, 1].
        impl: ``"python"``, ``"native"`` or None.
        node_id: named in errors.
    """

    def __init__(self, sample_rate: int, frame_ms: int = 30, energy_threshold: float = 0.02, *,
                 impl: Optional[str] = None, node_id: Optional[str] = None) -> None:
        from remotemedia.audio import check_sample_rate

        self.impl = check_impl(impl, "energy_vad")
        self.sample_rate = check_sample_rate(sample_rate, node_id=node_id)
        if isinstance(frame_ms, bool) or not isinstance(frame_ms, (int, np.integer)) or not 1 <= frame_ms <= 1000:
            raise KernelInputError("frame_ms", "an int from 1 to 1000", repr(frame_ms), node_id=node_id)
        if isinstance(energy_threshold, bool) or not isinstance(energy_threshold, (int, float, np.floating)) \
                or not np.isfinite(energy_threshold) or energy_threshold < 0:
            raise KernelInputError("energy_threshold", "a finite number >= 0", repr(energy_threshold),
                                   node_id=node_id)
        self.frame_ms = int(frame_ms)
        self.energy_threshold = float(energy_threshold)
        self.node_id = node_id
        self.frame_length = max(1, self.sample_rate * self.frame_ms // 1000)
        self._reframer = _Reframer(self.frame_length, np.dtype(np.float32))
        self.last_padded = False

    def _decide(self, block: np.ndarray) -> "tuple[np.ndarray, np.ndarray]":
        if self.impl == "native":
            return _native.module().energy_vad_frames(block, self.frame_length, self.energy_threshold)
        return _energy_numpy(block, self.frame_length, self.energy_threshold)

    def process(self, samples: np.ndarray) -> "tuple[np.ndarray, np.ndarray]":
        """Feeds a mono chunk; returns (decisions uint8, rms float64) of completed frames."""
        x = _mono_samples(samples, "f32", self.impl, self.node_id)
        parts = [self._decide(b) for b in self._reframer.split(x)]
        if not parts:
            return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.float64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def flush(self) -> "tuple[np.ndarray, np.ndarray]":
        """Decides the zero-padded final partial frame, if any (sets ``last_padded``)."""
        frame = self._reframer.take_padded()
        self.last_padded = frame is not None
        if frame is None:
            return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.float64)
        return self._decide(frame)

    def reset(self) -> None:
        """Drops buffered samples (the energy VAD has no other state)."""
        self._reframer.clear()
        self.last_padded = False


def energy_vad(samples: np.ndarray, sample_rate: int, frame_ms: int = 30, energy_threshold: float = 0.02, *,
               impl: Optional[str] = None, pad_last: bool = False) -> VadResult:
    """Energy VAD decisions for a whole mono signal.

    Args:
        samples: mono audio; int input is scaled to [-1, 1) first.
        sample_rate: Hz.
        frame_ms: frame duration in ms.
        energy_threshold: RMS threshold.
        impl: ``"python"``, ``"native"`` or None.
        pad_last: decide a final partial frame too (zero-padded); 1.x dropped it.

    Returns:
        :class:`VadResult` with ``rms`` filled.
    """
    vad = EnergyVad(sample_rate, frame_ms, energy_threshold, impl=impl)
    dec, rms = vad.process(samples)
    padded = False
    if pad_last:
        d2, r2 = vad.flush()
        padded = vad.last_padded
        dec, rms = np.concatenate([dec, d2]), np.concatenate([rms, r2])
    return VadResult(dec, vad.frame_length, padded, rms)
