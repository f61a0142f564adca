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

    def with_impl(self, impl: str) -> "KernelNode":
        """A copy of this node bound to ``impl`` (``"python"`` or ``"native"``), without stream state.

        The node itself is not changed (another run may be using it).
        """
        import copy

        clone = copy.copy(self)
        clone.impl, clone.impl_reason = resolve_impl(self.kernel_family, impl, node_id=self.name)
        reset = getattr(clone, "reset", None)
        if callable(reset):
            reset()
        return clone


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
    input_types = {"audio": "audio"}
    output_types = {"audio": "audio"}

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
    input_types = {"audio": "audio"}
    output_types = {"audio": "audio"}

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

    def reset(self) -> None:
        """Drops the stream state (the next chunk starts a new stream)."""
        self._stream = None

    @property
    def latency_frames(self) -> int:
        """Output frames held back by the current stream (0 before a stream starts)."""
        return 0 if self._stream is None else self._stream.delay


_SEGMENT_DEFAULTS = {"min_speech_ms": 250.0, "min_silence_ms": 300.0, "pre_roll_ms": 100.0, "post_roll_ms": 100.0,
                     "max_segment_s": 30.0}


@register_node
class VADNode(KernelNode):
    """Voice activity detection (remotemedia 1.x signature).

    Args:
        frame_duration_ms: frame length in ms (WebRTC: 10, 20 or 30).
        energy_threshold: RMS threshold of the energy backend (samples in [-1, 1]).
        runtime_hint: ``auto``, ``native`` (alias ``rust``) or ``python``.
        name: node id.
        backend: ``"energy"`` (the 1.x default) or ``"webrtc"`` (the WebRTC GMM VAD).
        mode: WebRTC aggressiveness, 0 (quality) to 3 (very aggressive).
        segments: add the speech segment list to the result.
        min_speech_ms, min_silence_ms, pre_roll_ms, post_roll_ms, max_segment_s:
            segmenting rules (see :mod:`remotemedia.kernels.segments`).
        speech_ratio_threshold: ``is_speech`` is True when more than this
            fraction of the frames are speech.

    ``process((audio, sample_rate))`` treats its input as one whole clip (a
    fresh detector per call) and returns ``(audio (channels, frames), sample_rate,
    info)`` with ``info`` keys ``is_speech`` (bool), ``speech_frames``,
    ``total_frames``, ``speech_ratio``, ``frame_ms``, ``backend``, ``mode``
    (WebRTC aggressiveness; None for the energy backend), ``implementation``, ``decisions`` (uint8 per frame) and, with
    ``segments=True``, ``segments`` (list of dicts with ``start``/``end`` in
    samples and ``start_s``/``end_s`` in seconds, at the input's sample rate).
    Multi-channel input is mixed to mono for detection; the audio is returned
    unchanged. For streams use ``process_chunk`` and ``flush``: any chunking
    gives the same decisions and segments as one whole call.

    WebRTC runs at 8, 16, 32 or 48 kHz; other rates are resampled to 16 kHz
    first (decisions then match between implementations up to the
    resampler's float rounding).
    """

    # The class default (energy backend); an instance with backend="webrtc" uses "webrtc_vad".
    kernel_family = "energy_vad"
    # The output is (audio, sample_rate, info): audio nodes downstream accept it.
    input_types = {"audio": "audio"}
    output_types = {"audio": "audio"}

    def __init__(self, frame_duration_ms: int = 30, energy_threshold: float = 0.02, runtime_hint: str = "auto",
                 name: Optional[str] = None, backend: str = "energy", mode: int = 3, segments: bool = False,
                 min_speech_ms: float = 250.0, min_silence_ms: float = 300.0, pre_roll_ms: float = 100.0,
                 post_roll_ms: float = 100.0, max_segment_s: float = 30.0, speech_ratio_threshold: float = 0.5,
                 **kwargs: Any) -> None:
        from remotemedia.kernels import vad as vad_kernels
        from remotemedia.kernels.segments import SegmentTracker

        if backend not in ("energy", "webrtc"):
            raise KernelInputError("backend", "'energy' or 'webrtc'", repr(backend), node_id=name or "VADNode")
        self.backend = backend
        self.kernel_family = "webrtc_vad" if backend == "webrtc" else "energy_vad"  # per instance
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        self.frame_duration_ms = frame_duration_ms
        self.energy_threshold = energy_threshold
        self.mode = mode
        self.segments = bool(segments)
        self.speech_ratio_threshold = float(speech_ratio_threshold)
        self.segment_params = {"min_speech_ms": min_speech_ms, "min_silence_ms": min_silence_ms,
                               "pre_roll_ms": pre_roll_ms, "post_roll_ms": post_roll_ms,
                               "max_segment_s": max_segment_s}
        # Validate everything now, before anything runs, with a probe detector at 16 kHz.
        if backend == "webrtc":
            vad_kernels.WebRtcVad(16000, mode, frame_duration_ms, impl=self.impl, node_id=self.name)
        else:
            vad_kernels.EnergyVad(16000, frame_duration_ms, energy_threshold, impl=self.impl, node_id=self.name)
        SegmentTracker(480, 16000, node_id=self.name, **self.segment_params)
        self._stream: Optional[_VadStream] = None

    def _new_stream(self, sample_rate: int) -> "_VadStream":
        return _VadStream(self, sample_rate)

    def process(self, data: Any) -> Tuple[np.ndarray, int, dict]:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        stream = self._new_stream(sample_rate)
        stream.feed(samples)
        stream.finish()
        return samples, sample_rate, stream.info()

    def process_chunk(self, data: Any) -> Tuple[np.ndarray, int, dict]:
        """Streaming: feeds one chunk; returns it with the decisions and the
        segments completed so far (``info["new_segments"]``); ``info["keep_from"]``
        is the first sample of the stream that a later segment may include."""
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        if self._stream is None:
            self._stream = self._new_stream(sample_rate)
        elif self._stream.sample_rate != sample_rate:
            raise KernelInputError("sample_rate", f"{self._stream.sample_rate} Hz (the stream's rate)", sample_rate,
                                   node_id=self.name)
        new_dec, new_seg = self._stream.feed(samples)
        return samples, sample_rate, {"decisions": new_dec, "new_segments": [s.to_dict() for s in new_seg],
                                      "keep_from": self._stream.keep_from()}

    def flush(self) -> dict:
        """Streaming: ends the stream; returns the whole stream's info (as ``process`` does)
        plus ``new_segments``/``decisions`` of the final partial frame."""
        if self._stream is None:
            return {}
        stream, self._stream = self._stream, None
        new_dec, new_seg = stream.finish()
        info = stream.info()
        info["new_segments"] = [s.to_dict() for s in new_seg]
        info["flushed_decisions"] = new_dec
        return info

    def reset(self) -> None:
        """Drops any stream state (the next chunk starts a fresh detector)."""
        self._stream = None


class _VadStream:
    """One stream's detector, resampler (if needed), decisions and segments."""

    def __init__(self, node: VADNode, sample_rate: int) -> None:
        from remotemedia.kernels import vad as vad_kernels
        from remotemedia.kernels.segments import SegmentTracker

        self.node = node
        self.sample_rate = sample_rate
        self.total_samples = 0
        self.resampler = None
        det_rate = sample_rate
        if node.backend == "webrtc" and sample_rate not in vad_kernels.VALID_RATES:
            det_rate = 16000
            self.resampler = _make_resampler(sample_rate, det_rate, node)
        self.det_rate = det_rate
        if node.backend == "webrtc":
            self.detector = vad_kernels.WebRtcVad(det_rate, node.mode, node.frame_duration_ms, impl=node.impl,
                                                  node_id=node.name)
        else:
            self.detector = vad_kernels.EnergyVad(det_rate, node.frame_duration_ms, node.energy_threshold,
                                                  impl=node.impl, node_id=node.name)
        # Energy of each frame, for placing segment cuts (numpy in both implementations: same values).
        self.energy_frame = vad_kernels.EnergyVad(det_rate, node.frame_duration_ms, 0.0, impl="python",
                                                  node_id=node.name)
        self.tracker = SegmentTracker(self.detector.frame_length, det_rate, node_id=node.name, **node.segment_params)
        self.decisions: list = []
        self.segments: list = []

    def _mono_float(self, samples: np.ndarray) -> np.ndarray:
        from remotemedia.audio import AudioBuffer

        mono = AudioBuffer(samples, self.sample_rate).to_mono(impl=self.node.impl).samples[0]
        if self.resampler is not None:
            from remotemedia.kernels.convert import convert_format

            mono = convert_format(mono, "f32", impl=self.node.impl).samples
            mono = self.resampler.process(mono[np.newaxis, :])[0]
        return mono

    def _track(self, dec: np.ndarray, mono: Optional[np.ndarray], flush: bool) -> list:
        if flush:
            _, energy = self.energy_frame.flush()
        else:
            _, energy = self.energy_frame.process(mono)
        self.decisions.append(dec)
        return self.tracker.push(dec, energy)

    @staticmethod
    def _decisions(result: Any) -> np.ndarray:
        # EnergyVad returns (decisions, rms); WebRtcVad returns decisions.
        return result[0] if isinstance(result, tuple) else result

    def feed(self, samples: np.ndarray) -> "tuple[np.ndarray, list]":
        self.total_samples += samples.shape[-1]
        mono = self._mono_float(samples)
        dec = self._decisions(self.detector.process(mono))
        new = self._track(dec, mono, flush=False)
        if self.det_rate != self.sample_rate:  # segments are reported at the input's rate
            new = [_rescale(s, self.det_rate, self.sample_rate, self.total_samples) for s in new]
        self.segments += new
        return dec, new

    def finish(self) -> "tuple[np.ndarray, list]":
        new: list = []
        decs = []  # every decision made here: the resampler's tail's, then the padded last frame's
        if self.resampler is not None:
            tail = self.resampler.flush()[0]
            dec = self._decisions(self.detector.process(tail))
            decs.append(dec)
            new += self._track(dec, tail, flush=False)
        dec = self._decisions(self.detector.flush())
        decs.append(dec)
        dec = np.concatenate(decs)
        new += self._track(decs[-1], None, flush=True)
        det_total = self.total_samples if self.resampler is None else \
            int(round(self.total_samples * self.det_rate / self.sample_rate))
        new += self.tracker.finish(det_total)
        if self.det_rate != self.sample_rate:
            new = [_rescale(s, self.det_rate, self.sample_rate, self.total_samples) for s in new]
        self.segments += new
        return dec, new

    def keep_from(self) -> int:
        """First sample (at the input rate) a segment not returned yet may include."""
        start = self.tracker.earliest_pending_start()
        if self.det_rate != self.sample_rate:  # one sample of margin for the rounding in _rescale
            start = max(0, start * self.sample_rate // self.det_rate - 1)
        return int(start)

    def info(self) -> dict:
        decisions = np.concatenate(self.decisions) if self.decisions else np.zeros(0, dtype=np.uint8)
        total = int(decisions.size)
        speech = int(np.count_nonzero(decisions))
        ratio = speech / total if total else 0.0
        info = {
            "is_speech": ratio > self.node.speech_ratio_threshold,
            "speech_frames": speech,
            "total_frames": total,
            "speech_ratio": ratio,
            "frame_ms": self.node.frame_duration_ms,
            "backend": self.node.backend,
            "mode": self.node.mode if self.node.backend == "webrtc" else None,
            "implementation": self.node.impl,
            "decisions": decisions,
        }
        if self.node.segments:
            info["segments"] = [s.to_dict() for s in self.segments]
        return info


def _rescale(seg: Any, from_rate: int, to_rate: int, total: int) -> Any:
    from remotemedia.kernels.segments import Segment

    start = min(total, int(round(seg.start * to_rate / from_rate)))
    end = min(total, int(round(seg.end * to_rate / from_rate)))
    return Segment(start, end, start / to_rate, end / to_rate)


def _make_resampler(in_rate: int, out_rate: int, node: VADNode) -> Any:
    return resample.Resampler(in_rate, out_rate, 1, impl=node.impl)


from remotemedia.nodes._audio_1x import *  # noqa: E402,F401,F403  1.x: AudioTransform, AudioBuffer, AudioResampler, ExtractAudioDataNode, VoiceActivityDetector
