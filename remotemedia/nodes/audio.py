"""Audio nodes backed by kernels (remotemedia 1.x signatures).

Each node binds its kernel implementations when it is built (see
:class:`~remotemedia.nodes.kernel_node.KernelNode`), checks its input once
(:func:`~remotemedia.audio.coerce_audio`: an :class:`~remotemedia.audio.AudioBuffer`
is trusted, a 1.x tuple is checked) and calls the kernels' unchecked entry
points. Audio outputs are AudioBuffers, which unpack like the 1.x
``(samples, sample_rate)`` tuples.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from remotemedia.audio import AudioBuffer, coerce_audio, mix_down
from remotemedia.errors import KernelInputError
from remotemedia.kernels import convert, mix, resample, vad
from remotemedia.kernels.segments import Segment, SegmentTracker, tracker_params
from remotemedia.nodes.kernel_node import KernelNode
from remotemedia.nodes.registry import register_node

__all__ = ["KernelNode", "FormatConverterNode", "AudioResampleNode", "MonoMixNode", "VADNode"]

_trusted = AudioBuffer.trusted
_I16 = np.dtype(np.int16)
_F32 = np.dtype(np.float32)


def _audio_stage_output(result: Tuple[np.ndarray, int]) -> AudioBuffer:
    """What an audio node returns (``process`` / ``process_chunk`` / ``flush``), from its fused stage's
    ``(samples, sample_rate)``."""
    return _trusted(result[0], result[1])


def _convert_kernel(impl: str) -> convert.ConvertKernel:
    """The conversion a node of another family runs inside (numpy when native lacks it: same bits)."""
    return convert.TABLE.get(impl) or convert.TABLE["python"]


@register_node
class FormatConverterNode(KernelNode):
    """Converts audio to another sample format.

    Args:
        target_format: ``"f32"``, ``"i16"`` or ``"i32"``.
        runtime_hint: see :class:`KernelNode`.
        name: node id.

    ``process((samples, sample_rate))`` returns an AudioBuffer ``(array
    (channels, n), sample_rate)`` of the target dtype; input already in the
    target format is returned as is (the same array). The number of clipped
    samples of the last call is in ``last_clipped`` and the running total in
    ``total_clipped``.
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

    def _bind(self, impl: str) -> None:
        self._convert = convert.TABLE[impl]

    def process(self, data: Any) -> AudioBuffer:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        samples, clipped = self._convert.convert(samples, self.target_format)
        self.last_clipped = clipped
        self.total_clipped += clipped
        return _trusted(samples, sample_rate)

    # ------------------------------------------------ fused native segments
    def fused_stage(self) -> Dict[str, Any]:
        """This node as a stage of a fused native segment (see :mod:`remotemedia.engine.fusion`)."""
        return {"kind": "convert", "params": {"target_format": self.target_format}}

    def fused_output(self, result: Tuple[np.ndarray, int, int]) -> AudioBuffer:
        """What ``process`` returns, from the stage's ``(samples, sample_rate, clipped)``; counts the clipping."""
        samples, sample_rate, clipped = result
        self.last_clipped = clipped
        self.total_clipped += clipped
        return _trusted(samples, sample_rate)

    fused_flush_output = fused_output


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
    an AudioBuffer ``(float32 array (channels, round(frames * target /
    sample_rate)), target_sample_rate)``; 1-D input is mono and comes out as
    (1, n). Integer input is first converted to float32 by the convert
    kernel's rules (divided by 2^15 or 2^31); float64 is rounded to float32.

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
        self._stream: Optional[resample.Resampler] = None
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        self.target_sample_rate = resample.check_rate(target_sample_rate, "target_sample_rate", node_id=self.name)
        self.quality = resample.check_quality(quality, node_id=self.name)
        self._rates_ok: set = set()  # input rates already checked against the target

    def _bind(self, impl: str) -> None:
        self._resample = resample.TABLE[impl]
        self._convert = _convert_kernel(impl)
        self._stream = None

    def _float32(self, data: Any) -> Tuple[np.ndarray, int]:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        dtype = samples.dtype
        if dtype is _F32 and samples.flags.c_contiguous:  # what nodes pass each other: no conversion call
            return samples, sample_rate
        if dtype.kind == "i":
            samples = self._convert.convert(samples, "f32").samples
        return resample.as_f32(samples), sample_rate

    def process(self, data: Any) -> AudioBuffer:
        x, sample_rate = self._float32(data)
        target = self.target_sample_rate
        if x.shape[0] > resample.MAX_CHANNELS:
            raise KernelInputError("samples", f"1 to {resample.MAX_CHANNELS} channels", x.shape[0])
        if sample_rate not in self._rates_ok:
            resample.check_rates(sample_rate, target)
            self._rates_ok.add(sample_rate)
        return _trusted(self._resample.resample(x, sample_rate, target, self.quality), target)

    def process_chunk(self, data: Any) -> AudioBuffer:
        """Feeds one chunk of a stream; returns ``(float32 (channels, n), target_sample_rate)``."""
        x, sample_rate = self._float32(data)
        stream = self._stream
        if stream is None:
            stream = resample.Resampler(sample_rate, self.target_sample_rate, x.shape[0], self.quality,
                                        impl=self._resample.impl)
            self._stream = stream
        elif sample_rate != stream.in_rate:
            raise KernelInputError("sample_rate", f"{stream.in_rate} Hz (as earlier in this stream)", sample_rate,
                                   node_id=self.name)
        elif x.shape[0] != stream.channels:
            raise KernelInputError("audio", f"{stream.channels} channel(s) (as earlier in this stream)",
                                   x.shape[0], node_id=self.name)
        return _trusted(stream.process_f32(x), self.target_sample_rate)

    def flush(self) -> AudioBuffer:
        """Ends the stream; returns ``(the remaining float32 (channels, n), target_sample_rate)``."""
        stream, self._stream = self._stream, None
        if stream is None:
            return _trusted(np.zeros((1, 0), dtype=np.float32), self.target_sample_rate)
        return _trusted(stream.flush(), self.target_sample_rate)

    def reset(self) -> None:
        """Drops the stream state (the next chunk starts a new stream)."""
        self._stream = None

    @property
    def latency_frames(self) -> int:
        """Output frames held back by the current stream (0 before a stream starts)."""
        return 0 if self._stream is None else self._stream.delay

    # ------------------------------------------------ fused native segments
    def fused_stage(self) -> Dict[str, Any]:
        """This node as a stage of a fused native segment (see :mod:`remotemedia.engine.fusion`)."""
        return {"kind": "resample", "params": {"target_sample_rate": int(self.target_sample_rate),
                                               "quality": self.quality}}

    fused_output = fused_flush_output = staticmethod(_audio_stage_output)


@register_node
class MonoMixNode(KernelNode):
    """Mixes every channel down to one (the mean of the channels).

    Args:
        runtime_hint: implementation of the mix kernel (see :class:`KernelNode`).
        name: node id.

    ``process((samples, sample_rate))`` returns an AudioBuffer ``(samples (1,
    frames), sample_rate)`` of the input's dtype: float input is averaged in
    float64 and cast back; integer input is averaged and rounded half to even
    (see :meth:`remotemedia.audio.AudioBuffer.to_mono` and
    :mod:`remotemedia.kernels.mix`). Mono input is returned as is. Each frame
    is mixed on its own, so any chunking gives the same samples (the node is
    stateless).
    """

    kernel_family = "mix"
    input_types = {"audio": "audio"}
    output_types = {"audio": "audio"}

    def __init__(self, runtime_hint: str = "auto", name: Optional[str] = None) -> None:
        super().__init__(runtime_hint=runtime_hint, name=name)

    def _bind(self, impl: str) -> None:
        self._mix = mix.TABLE[impl]

    def process(self, data: Any) -> AudioBuffer:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        return _trusted(mix_down(samples, self._mix), sample_rate)

    # ------------------------------------------------ fused native segments
    def fused_stage(self) -> Dict[str, Any]:
        """This node as a stage of a fused native segment (see :mod:`remotemedia.engine.fusion`)."""
        return {"kind": "mono_mix", "params": {}}

    fused_output = fused_flush_output = staticmethod(_audio_stage_output)


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
    fresh detector state per call) and returns ``(audio (channels, frames),
    sample_rate, info)`` with ``info`` keys ``is_speech`` (bool),
    ``speech_frames``, ``total_frames``, ``speech_ratio``, ``frame_ms``,
    ``backend``, ``mode`` (WebRTC aggressiveness; None for the
    energy backend), ``implementation``, ``decisions`` (uint8 per frame) and, with
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
        if backend not in ("energy", "webrtc"):
            raise KernelInputError("backend", "'energy' or 'webrtc'", repr(backend), node_id=name or "VADNode")
        self.backend = backend
        self.kernel_family = "webrtc_vad" if backend == "webrtc" else "energy_vad"  # per instance
        self._stream: Optional[_VadStream] = None
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        self.frame_duration_ms = frame_duration_ms
        self.energy_threshold = energy_threshold
        self.mode = mode
        self.segments = bool(segments)
        self.speech_ratio_threshold = float(speech_ratio_threshold)
        self.segment_params = {"min_speech_ms": min_speech_ms, "min_silence_ms": min_silence_ms,
                               "pre_roll_ms": pre_roll_ms, "post_roll_ms": post_roll_ms,
                               "max_segment_s": max_segment_s}
        # Everything is checked now, before anything runs (as a 16 kHz detector would check it).
        if backend == "webrtc":
            vad.check_webrtc_params(mode, frame_duration_ms, self.name)
        else:
            vad.check_energy_params(frame_duration_ms, energy_threshold, self.name)
        tracker_params(480, 16000, node_id=self.name, **self.segment_params)

    def _bind(self, impl: str) -> None:
        self._mix = mix.TABLE[impl]
        self._convert = _convert_kernel(impl)
        self._stream = None
        self._clips: Dict[int, List[_VadStream]] = {}  # sample rate -> idle detectors process() reuses

    def process(self, data: Any) -> Tuple[np.ndarray, int, dict]:
        samples, sample_rate = coerce_audio(data, self.name)
        # A detector per rate, reset for every clip (not rebuilt). Detectors wait in a list per rate;
        # list.pop / list.append are atomic, so calls that overlap (threads, two runs sharing the
        # node) never share one: a call that finds none idle builds its own.
        idle = self._clips.get(sample_rate)
        try:
            clip = idle.pop()  # type: ignore[union-attr]
        except (AttributeError, IndexError):  # no list for this rate yet, or every detector busy
            clip = _VadStream(self, sample_rate, self.segments)
        decide = clip.decide_clip
        if decide is not None and samples.shape[0] == 1:
            # WebRTC at its own rate, no segments, mono: one kernel call from a fresh state
            # (it takes the (1, frames) array, strided too, copying once then).
            if samples.dtype is not _I16:
                decisions = decide(self._convert.convert(samples, "i16").samples, clip.engine_frame, clip.group)
            else:
                decisions = decide(samples, clip.engine_frame, clip.group)
            segments: Sequence[Segment] = ()
        else:
            decisions, segments = clip.run_clip(samples)
            segments = list(segments)  # the detector's list is reset when it is used again
        if idle is None:
            if len(self._clips) >= 8:
                self._clips.clear()
            self._clips[sample_rate] = [clip]
        elif len(idle) < 4:
            idle.append(clip)  # only after the call went through: a failed call's detector is dropped
        # _info's dict, built here without the extra call (this is the per-frame hot path).
        total = decisions.size
        speech = int(np.count_nonzero(decisions)) if total > 8 else sum(decisions.tolist())
        ratio = speech / total if total else 0.0
        info = {"is_speech": ratio > self.speech_ratio_threshold, "speech_frames": speech, "total_frames": total,
                "speech_ratio": ratio, "frame_ms": self.frame_duration_ms, "backend": self.backend,
                "mode": self.mode if self.backend == "webrtc" else None, "implementation": self._impl,
                "decisions": decisions}
        if self.segments:
            info["segments"] = [s.to_dict() for s in segments]
        return samples, sample_rate, info

    def _info(self, decisions: np.ndarray, segments: Sequence[Segment]) -> dict:
        """The info of ``process`` (and of ``flush``, for the whole stream); ``process`` builds the same inline."""
        total = decisions.size
        # count_nonzero has a fixed cost that a few frames (one 30 ms clip: one) do not need.
        speech = int(np.count_nonzero(decisions)) if total > 8 else sum(decisions.tolist())
        ratio = speech / total if total else 0.0
        info = {"is_speech": ratio > self.speech_ratio_threshold, "speech_frames": speech, "total_frames": total,
                "speech_ratio": ratio, "frame_ms": self.frame_duration_ms, "backend": self.backend,
                "mode": self.mode if self.backend == "webrtc" else None, "implementation": self._impl,
                "decisions": decisions}
        if self.segments:
            info["segments"] = [s.to_dict() for s in segments]
        return info

    def process_chunk(self, data: Any) -> Tuple[np.ndarray, int, dict]:
        """Streaming: feeds one chunk; returns it with the decisions and the
        segments completed so far (``info["new_segments"]``); ``info["keep_from"]``
        is the first sample of the stream that a later segment may include."""
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        stream = self._stream
        if stream is None:
            stream = self._stream = _VadStream(self, sample_rate, track=True)
        elif stream.sample_rate != sample_rate:
            raise KernelInputError("sample_rate", f"{stream.sample_rate} Hz (the stream's rate)", sample_rate,
                                   node_id=self.name)
        new_dec, new_seg = stream.feed(samples)
        return samples, sample_rate, {"decisions": new_dec, "new_segments": [s.to_dict() for s in new_seg],
                                      "keep_from": stream.keep_from()}

    def flush(self) -> dict:
        """Streaming: ends the stream; returns the whole stream's info (as ``process`` does)
        plus ``new_segments``/``decisions`` of the final partial frame."""
        if self._stream is None:
            return {}
        stream, self._stream = self._stream, None
        new_dec, new_seg = stream.finish()
        info = self._info(stream.all_decisions(), stream.segments)
        info["new_segments"] = [s.to_dict() for s in new_seg]
        info["flushed_decisions"] = new_dec
        return info

    def reset(self) -> None:
        """Drops any stream state (the next chunk starts a fresh detector)."""
        self._stream = None

    # ------------------------------------------------ fused native segments
    def fused_stage(self) -> Optional[Dict[str, Any]]:
        """This node as a stage of a fused native segment (see :mod:`remotemedia.engine.fusion`), or None
        when its frame length is not a whole number of ms (the fused stage takes integer ms)."""
        frame_ms = self.frame_duration_ms
        if isinstance(frame_ms, bool) or not isinstance(frame_ms, (int, np.integer)):
            return None
        params: Dict[str, Any] = {"frame_ms": int(frame_ms)}
        if self.backend == "webrtc":
            params["mode"] = int(self.mode)
            kind = "webrtc_vad"
        else:
            params["energy_threshold"] = float(self.energy_threshold)
            kind = "energy_vad"
        params.update({k: float(v) for k, v in self.segment_params.items()})
        params["speech_ratio_threshold"] = self.speech_ratio_threshold
        params["segments"] = self.segments
        return {"kind": kind, "params": params}

    def fused_output(self, result: Tuple[np.ndarray, int, dict]) -> Tuple[np.ndarray, int, dict]:
        """What ``process_chunk`` returns, from the stage's result (segments come as tuples)."""
        samples, sample_rate, info = result
        return samples, sample_rate, {"decisions": info["decisions"],
                                      "new_segments": _segment_dicts(info["new_segments"]),
                                      "keep_from": info["keep_from"]}

    def fused_flush_output(self, result: Any) -> Any:
        """What the stream's end gives: a chunk fed at the end (as ``fused_output``), then what ``flush``
        returns, from the stage's summary (``{}``: the stream never started)."""
        if isinstance(result, tuple):
            return self.fused_output(result)
        if not result:
            return {}
        # flush()'s info, built the same way from the stage's decisions and segments
        info = self._info(result["decisions"], [Segment(*seg) for seg in result.get("segments", ())])
        info["new_segments"] = _segment_dicts(result["new_segments"])
        info["flushed_decisions"] = result["flushed_decisions"]
        return info


class _VadStream:
    """One stream's (or the reused clip's) detector, resampler (if needed), energies, decisions and segments.

    Args:
        node: the VADNode (its parameters, checked, and its bound kernels).
        sample_rate: the stream's rate (Hz).
        track: run the segment tracker (streams always do; a clip when the node reports segments).
    """

    def __init__(self, node: VADNode, sample_rate: int, track: bool) -> None:
        impl = node.impl
        self.sample_rate = sample_rate
        self._mix = node._mix
        self._convert = node._convert
        self._webrtc = node.backend == "webrtc"
        self.resampler: Optional[resample.Resampler] = None
        det_rate = sample_rate
        if self._webrtc and sample_rate not in vad.VALID_RATES:
            det_rate = 16000
            self.resampler = resample.Resampler(sample_rate, det_rate, 1, impl=impl)
        self.det_rate = det_rate
        self.detector: Any
        if self._webrtc:
            self.detector = vad.WebRtcVad(det_rate, node.mode, node.frame_duration_ms, impl=impl, node_id=node.name)
        else:
            self.detector = vad.EnergyVad(det_rate, node.frame_duration_ms, node.energy_threshold, impl=impl,
                                          node_id=node.name)
        self.tracker = SegmentTracker(self.detector.frame_length, det_rate, node_id=node.name,
                                      **node.segment_params) if track else None
        # Energy of each frame places segment cuts: only needed with a tracker that cuts. The energy
        # backend has it already; the energy kernel gives the same bits in both implementations.
        self.energy = None
        if self._webrtc and self.tracker is not None and self.tracker.max_frames:
            self.energy = vad.EnergyVad(det_rate, node.frame_duration_ms, 0.0,
                                        impl=impl if impl in vad.ENERGY_TABLE else "python")
        # WebRTC at its own rate without segments: a whole clip is one kernel call (its detector's own
        # decide_clip: fresh state, padded tail, 48 kHz grouping), used directly by VADNode.process.
        self.decide_clip = None
        if self._webrtc and self.resampler is None and self.tracker is None:
            self.decide_clip = self.detector.engine_decide_clip
            self.engine_frame, self.group = self.detector.engine_frame, self.detector.group
        self.reset()

    def reset(self) -> None:
        self.detector.reset()
        if self.resampler is not None:
            self.resampler.reset()
        if self.tracker is not None:
            self.tracker.reset()
        if self.energy is not None:
            self.energy.reset()
        self.total_samples = 0
        self.decisions: List[np.ndarray] = []
        self.segments: List[Segment] = []

    def _as(self, mono: np.ndarray, target: str, dtype: np.dtype) -> np.ndarray:
        if mono.dtype is not dtype:
            mono = self._convert.convert(mono, target).samples
        return np.ascontiguousarray(mono)

    def _detect(self, mono: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Decisions (and energies when needed) of the frames ``mono`` (1-D) completes."""
        if self._webrtc:
            dec = self.detector.process_i16(self._as(mono, "i16", _I16))
            if self.energy is None:
                return dec, None
            return dec, self.energy.process_f32(self._as(mono, "f32", _F32))[1]
        return self.detector.process_f32(self._as(mono, "f32", _F32))

    def _track(self, dec: np.ndarray, energy: Optional[np.ndarray]) -> List[Segment]:
        if dec.size:
            self.decisions.append(dec)
        if self.tracker is None:
            return []
        return self.tracker.push(dec, energy)

    def feed(self, samples: np.ndarray) -> Tuple[np.ndarray, List[Segment]]:
        """One chunk (channels, frames), checked; returns its decisions and the segments it completed."""
        self.total_samples += samples.shape[1]
        mono = mix_down(samples, self._mix)[0]
        if self.resampler is not None:
            mono = self.resampler.process_f32(resample.as_f32(self._convert.convert(mono, "f32").samples[None]))[0]
        dec, energy = self._detect(mono)
        new = self._track(dec, energy)
        if new:
            new = self._at_input_rate(new)
            self.segments += new
        return dec, new

    def finish(self) -> Tuple[np.ndarray, List[Segment]]:
        """Ends the stream: decisions of the resampler's tail and the padded last frame, the last segments."""
        new: List[Segment] = []
        decs = []
        if self.resampler is not None:
            dec, energy = self._detect(self.resampler.flush()[0])
            decs.append(dec)
            new += self._track(dec, energy)
        if self._webrtc:
            dec = self.detector.flush()
            energy = None if self.energy is None else self.energy.flush()[1]
        else:
            dec, energy = self.detector.flush()
        decs.append(dec)
        new += self._track(dec, energy)
        if self.tracker is not None:
            det_total = self.total_samples if self.resampler is None else \
                int(round(self.total_samples * self.det_rate / self.sample_rate))
            new += self.tracker.finish(det_total)
        new = self._at_input_rate(new)
        self.segments += new
        return (decs[0] if len(decs) == 1 else np.concatenate(decs)), new

    def run_clip(self, samples: np.ndarray) -> Tuple[np.ndarray, List[Segment]]:
        """Decisions and segments of one whole clip from a fresh state (``VADNode.process``)."""
        if self.decide_clip is not None:  # WebRTC at its own rate, no segments: one call, nothing kept
            mono = mix_down(samples, self._mix)[0]
            return self.detector.decide_clip(self._as(mono, "i16", _I16)), []
        self.reset()
        self.feed(samples)
        self.finish()
        return self.all_decisions(), self.segments

    def all_decisions(self) -> np.ndarray:
        d = self.decisions
        if len(d) == 1:
            return d[0]
        return np.concatenate(d) if d else np.zeros(0, dtype=np.uint8)

    def _at_input_rate(self, segments: List[Segment]) -> List[Segment]:
        if self.det_rate == self.sample_rate:
            return segments
        return [_rescale(s, self.det_rate, self.sample_rate, self.total_samples) for s in segments]

    def keep_from(self) -> int:
        """First sample (at the input rate) a segment not returned yet may include."""
        assert self.tracker is not None
        start = self.tracker.earliest_pending_start()
        if self.det_rate != self.sample_rate:  # one sample of margin for the rounding in _rescale
            start = max(0, start * self.sample_rate // self.det_rate - 1)
        return int(start)


def _segment_dicts(segments: Sequence[Tuple[int, int, float, float]]) -> List[dict]:
    """A fused stage's ``(start, end, start_s, end_s)`` segments as ``Segment.to_dict()`` gives them."""
    return [{"start": a, "end": b, "start_s": c, "end_s": d} for a, b, c, d in segments]


def _rescale(seg: Segment, from_rate: int, to_rate: int, total: int) -> Segment:
    start = min(total, int(round(seg.start * to_rate / from_rate)))
    end = min(total, int(round(seg.end * to_rate / from_rate)))
    return Segment(start, end, start / to_rate, end / to_rate)


from remotemedia.nodes._audio_1x import *  # noqa: E402,F401,F403  1.x: AudioTransform, AudioBuffer, AudioResampler, ExtractAudioDataNode, VoiceActivityDetector
