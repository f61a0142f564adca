"""Voice activity detection kernels: the WebRTC GMM VAD and the energy VAD.

WebRTC VAD
    Native: a pure-Rust port of libfvad (``remotemedia_kernels::fvad``),
    tested decision by decision against libfvad's C. Python: an exact port of
    the same integer algorithm (the package :mod:`remotemedia.kernels._webrtc_vad_py`).
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

from typing import Any, Callable, NamedTuple, Optional, Tuple

import numpy as np

from remotemedia.errors import KernelInputError
from remotemedia.kernels import convert
from remotemedia.kernels.select import impl_table
from remotemedia.validate import check_choice, check_sample_rate

VALID_RATES = (8000, 16000, 32000, 48000)
FRAME_MS = (10, 20, 30)
MODES = (0, 1, 2, 3)

# Energy frames per numpy block (bounds temporary memory).
_ENERGY_BLOCK_FRAMES = 2048
_NO_DECISIONS = np.zeros(0, dtype=np.uint8)
_NO_DECISIONS.flags.writeable = False
_NO_RMS = np.zeros(0, dtype=np.float64)
_NO_RMS.flags.writeable = False


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


def _mono_samples(samples: object, target: str, kernel: convert.ConvertKernel, node_id: Optional[str]) -> np.ndarray:
    """Validates a mono chunk and converts it to ``target`` (``i16`` or ``f32``), 1-D contiguous."""
    if not isinstance(samples, np.ndarray):
        raise KernelInputError("samples", "a numpy.ndarray", type(samples).__name__, node_id=node_id)
    if samples.dtype not in (np.int16, np.int32, np.float32, np.float64):
        raise KernelInputError("samples", "dtype int16, int32, float32 or float64", samples.dtype, node_id=node_id)
    if samples.ndim == 2 and samples.shape[0] == 1:
        samples = samples[0]
    if samples.ndim != 1:
        raise KernelInputError("samples", "mono audio, shape (frames,) or (1, frames)", samples.shape,
                               node_id=node_id)
    return np.ascontiguousarray(kernel.convert(samples, target).samples)


class _Reframer:
    """Cuts a stream of 1-D chunks into whole frames; keeps the remainder in a one-frame buffer."""

    __slots__ = ("frame_length", "_buf", "_len")

    def __init__(self, frame_length: int, dtype: np.dtype) -> None:
        self.frame_length = frame_length
        self._buf = np.zeros(frame_length, dtype=dtype)
        self._len = 0

    @property
    def pending(self) -> int:
        return self._len

    def split(self, x: np.ndarray) -> "list[np.ndarray]":
        """Whole-frame blocks (each a multiple of frame_length samples, C-contiguous) for ``x`` (1-D, contiguous)."""
        fl = self.frame_length
        blocks = []
        have = self._len
        if have:
            need = fl - have
            if x.size < need:
                self._buf[have:have + x.size] = x
                self._len = have + x.size
                return blocks
            self._buf[have:] = x[:need]
            blocks.append(self._buf.copy())
            x = x[need:]
        n_full = x.size // fl * fl
        if n_full:
            blocks.append(x[:n_full])  # a view: no copy of the chunk
        rest = x.size - n_full
        self._buf[:rest] = x[n_full:]
        self._len = rest
        return blocks

    def take_padded(self) -> Optional[np.ndarray]:
        """The pending partial frame, zero-padded to a whole frame (None when empty)."""
        if not self._len:
            return None
        frame = np.zeros(self.frame_length, dtype=self._buf.dtype)
        frame[: self._len] = self._buf[: self._len]
        self._len = 0
        return frame

    def clear(self) -> None:
        self._len = 0


def _concat(parts: list, empty: np.ndarray) -> np.ndarray:
    n = len(parts)
    if n == 1:
        return parts[0]
    return np.concatenate(parts) if n else empty.copy()


# --- the implementations -----------------------------------------------------------------


class _PortEngine:
    """The numpy port (:class:`~remotemedia.kernels._webrtc_vad_py.FvadPy`) with the native class's calls."""

    __slots__ = ("_fvad",)

    def __init__(self, mode: int, sample_rate: int) -> None:
        from remotemedia.kernels._webrtc_vad_py import FvadPy

        self._fvad = FvadPy(mode, sample_rate)

    def process_frames(self, samples: np.ndarray, frame_length: int) -> np.ndarray:
        return self._fvad.process_frames(samples.reshape(-1, frame_length))

    def decide_clip(self, samples: np.ndarray, frame_length: int, group: int) -> np.ndarray:
        samples = samples.reshape(-1)  # 1-D or (1, frames), as the native call takes
        self._fvad.reset()
        frame = frame_length * group
        rest = samples.size % frame
        if rest:
            samples = np.concatenate([samples, np.zeros(frame - rest, dtype=np.int16)])
        raw = self._fvad.process_frames(samples.reshape(-1, frame_length))
        return raw.reshape(-1, group).max(axis=1) if group > 1 else raw

    def reset(self) -> None:
        self._fvad.reset()


class VadKernel(NamedTuple):
    """One VAD family bound to one implementation (an entry of :data:`WEBRTC_TABLE` / :data:`ENERGY_TABLE`).

    Attributes:
        impl: ``"python"`` or ``"native"``.
        engine: WebRTC: ``engine(mode, sample_rate)`` -> a detector with
            ``process_frames(int16 1-D, frame_length)`` and ``reset()``; energy:
            ``engine(float32 1-D, frame_length, threshold)`` -> ``(decisions, rms)``.
        convert: the format conversion its input goes through (same
            implementation when available; conversion is bit-identical in both).
    """

    impl: str
    engine: Callable[..., Any]
    convert: convert.ConvertKernel


def _convert_for(impl: str) -> convert.ConvertKernel:
    return convert.TABLE.get(impl) or convert.TABLE["python"]


def _energy_numpy(x: np.ndarray, frame_length: int, threshold: float) -> Tuple[np.ndarray, np.ndarray]:
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


#: The WebRTC VAD's implementations (see :func:`remotemedia.kernels.impl_table`).
WEBRTC_TABLE = impl_table(
    "webrtc_vad",
    python=VadKernel("python", _PortEngine, convert.TABLE["python"]),
    native=lambda mod: VadKernel("native", mod.WebRtcVad, _convert_for("native")),
)
#: The energy VAD's implementations.
ENERGY_TABLE = impl_table(
    "energy_vad",
    python=VadKernel("python", _energy_numpy, convert.TABLE["python"]),
    native=lambda mod: VadKernel("native", mod.energy_vad_frames, _convert_for("native")),
)


# --- WebRTC VAD ------------------------------------------------------------------------------


def check_webrtc_params(mode: Any, frame_ms: Any, node_id: Optional[str] = None) -> Tuple[int, int]:
    """Validates the WebRTC VAD's ``mode`` (0 to 3) and ``frame_ms`` (10, 20, 30); returns them as ints."""
    return check_choice(mode, "mode", MODES, node_id), check_choice(frame_ms, "frame_ms", FRAME_MS, node_id)


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
        kernel = WEBRTC_TABLE.select(impl)
        self.impl = kernel.impl
        self.sample_rate = check_choice(sample_rate, "sample_rate", VALID_RATES, node_id)
        self.mode, self.frame_ms = check_webrtc_params(mode, frame_ms, node_id)
        self.node_id = node_id
        self.frame_length = self.sample_rate * self.frame_ms // 1000
        # At 48 kHz the detector runs on 10 ms frames (see the module docstring).
        self._group = self.frame_ms // 10 if self.sample_rate == 48000 else 1
        self._engine_frame = self.frame_length // self._group
        self._reframer = _Reframer(self.frame_length, np.dtype(np.int16))
        self._convert = kernel.convert
        self.frames_done = 0
        self.last_padded = False
        self._engine = kernel.engine(self.mode, self.sample_rate)
        #: ``engine_decide_clip(x, engine_frame, group)``: :meth:`decide_clip`'s kernel call, for
        #: callers that own this detector and need none of its bookkeeping (``VADNode.process``).
        self.engine_decide_clip = self._engine.decide_clip
        self.engine_frame, self.group = self._engine_frame, self._group

    def _decide(self, block: np.ndarray) -> np.ndarray:
        raw = self._engine.process_frames(block, self._engine_frame)
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
        return self.process_i16(_mono_samples(samples, "i16", self._convert, self.node_id))

    def process_i16(self, x: np.ndarray) -> np.ndarray:
        """:meth:`process` for input already checked: a 1-D C-contiguous int16 array."""
        result = _concat([self._decide(b) for b in self._reframer.split(x)], _NO_DECISIONS)
        self.frames_done += result.size
        return result

    def decide_clip(self, x: np.ndarray) -> np.ndarray:
        """Decisions of one whole clip from a fresh state (a 1-D C-contiguous int16 array, not checked).

        Resets first; a final partial frame is zero-padded (``last_padded``).
        Equals :meth:`reset`, :meth:`process_i16`, :meth:`flush`, in one kernel call.
        """
        self._reframer.clear()
        result = self._engine.decide_clip(x, self._engine_frame, self._group)
        self.frames_done = result.size
        self.last_padded = x.size % self.frame_length != 0
        return result

    def flush(self) -> np.ndarray:
        """Decides the final partial frame, zero-padded (sets ``last_padded``).

        Returns:
            uint8 array of 0 or 1 decisions.
        """
        frame = self._reframer.take_padded()
        self.last_padded = frame is not None
        if frame is None:
            return _NO_DECISIONS.copy()
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
    decisions = vad.decide_clip(_mono_samples(samples, "i16", vad._convert, None))
    return VadResult(decisions, vad.frame_length, vad.last_padded)


# --- energy VAD ------------------------------------------------------------------------------


def check_energy_params(frame_ms: Any, energy_threshold: Any, node_id: Optional[str] = None) -> Tuple[int, float]:
    """Validates the energy VAD's ``frame_ms`` (an int from 1 to 1000) and ``energy_threshold`` (finite, >= 0)."""
    if isinstance(frame_ms, bool) or not isinstance(frame_ms, (int, np.integer)) or not 1 <= frame_ms <= 1000:
        raise KernelInputError("frame_ms", "an int from 1 to 1000", repr(frame_ms), node_id=node_id)
    if isinstance(energy_threshold, bool) or not isinstance(energy_threshold, (int, float, np.floating)) \
            or not np.isfinite(energy_threshold) or energy_threshold < 0:
        raise KernelInputError("energy_threshold", "a finite number >= 0", repr(energy_threshold), node_id=node_id)
    return int(frame_ms), float(energy_threshold)


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
        kernel = ENERGY_TABLE.select(impl)
        self.impl = kernel.impl
        self.sample_rate = check_sample_rate(sample_rate, node_id=node_id)
        self.frame_ms, self.energy_threshold = check_energy_params(frame_ms, energy_threshold, node_id)
        self.node_id = node_id
        self.frame_length = max(1, self.sample_rate * self.frame_ms // 1000)
        self._reframer = _Reframer(self.frame_length, np.dtype(np.float32))
        self._engine = kernel.engine
        self._convert = kernel.convert
        self.last_padded = False

    def _decide(self, block: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return self._engine(block, self.frame_length, self.energy_threshold)

    def process(self, samples: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Feeds a mono chunk; returns (decisions uint8, rms float64) of completed frames."""
        return self.process_f32(_mono_samples(samples, "f32", self._convert, self.node_id))

    def process_f32(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """:meth:`process` for input already checked: a 1-D C-contiguous float32 array."""
        parts = [self._decide(b) for b in self._reframer.split(x)]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return _NO_DECISIONS.copy(), _NO_RMS.copy()
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def flush(self) -> Tuple[np.ndarray, np.ndarray]:
        """Decides the zero-padded final partial frame, if any (sets ``last_padded``)."""
        frame = self._reframer.take_padded()
        self.last_padded = frame is not None
        if frame is None:
            return _NO_DECISIONS.copy(), _NO_RMS.copy()
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
