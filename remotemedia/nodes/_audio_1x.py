"""The remotemedia 1.x audio nodes, on the project's kernels (import them from :mod:`remotemedia.nodes.audio`).

``AudioTransform``, ``AudioBuffer``, ``AudioResampler``, ``ExtractAudioDataNode`` and
``VoiceActivityDetector`` keep their 1.x constructor parameters, input and output shapes. The
work is done by the public kernels (:mod:`remotemedia.kernels.resample`, ``.mix``, ``.convert``,
``.vad``), so the native and numpy implementations give the same answers (``runtime_hint``
picks one, as for every kernel node).

Where 1.x was a placeholder or broken, these do the real thing:

- ``AudioResampler`` resamples (1.x returned its input unchanged).
- ``AudioTransform`` resamples with the project's resampler (1.x: librosa), mixing to mono with
  the mix kernel; it maps channels first (cheaper; the same result up to float rounding, since
  both steps are linear). Asking for more channels than a multi-channel input has is an error
  (1.x silently returned the input's first channels, fewer than asked).
- Input that is not audio is an error naming the node (1.x logged a warning and passed the
  input on, or returned an error dict); ``ExtractAudioDataNode`` keeps 1.x's None for it.
- ``VoiceActivityDetector`` reads integer input as samples scaled to [-1, 1) (1.x squared
  int16 values in int16, which overflowed).
- ``AudioBuffer`` also flushes when the dtype changes (1.x concatenated and upcast), and takes
  the ``((audio, rate), metadata)`` items of ``VoiceActivityDetector`` (1.x skipped them, so a
  VAD -> AudioBuffer chain gave nothing); the other audio nodes take them too, metadata kept.

In a chunk stream (``pipeline.stream(path)``, ``run_file``, ``process()`` of a pipeline that
starts with a media source) ``AudioTransform`` and ``AudioResampler`` keep their resampler
state from chunk to chunk (``process_chunk``/``flush``), so the output equals one call on the
whole signal; ``process`` on an item treats it as a whole clip, as 1.x did.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, AsyncIterator, Deque, Dict, List, Optional, Tuple

import numpy as np

from remotemedia.audio import AudioBuffer as _Buffer
from remotemedia.audio import as_channels_first, check_sample_rate
from remotemedia.errors import KernelInputError
from remotemedia.kernels import convert, mix, resample
from remotemedia.nodes.base import Node
from remotemedia.nodes.kernel_node import KernelNode
from remotemedia.nodes.registry import register_node

__all__ = ["AudioTransform", "AudioBuffer", "AudioResampler", "ExtractAudioDataNode", "VoiceActivityDetector"]

logger = logging.getLogger(__name__)

#: The most output channels ``AudioTransform`` makes (the package's channel limit).
MAX_CHANNELS = 1024


def _split_audio(node: Node, data: Any) -> Tuple[np.ndarray, int, Optional[Dict[str, Any]]]:
    """``(samples (channels, frames), sample_rate, metadata or None)`` of a 1.x audio item."""
    if isinstance(data, _Buffer):
        return data.samples, data.sample_rate, None
    body, metadata = node.split_data_metadata(data)
    if metadata is None and _is_vad_output(data):  # VoiceActivityDetector's ((audio, rate), metadata)
        body, metadata = data[0], data[1]
    if isinstance(body, (tuple, list)) and len(body) >= 2 and isinstance(body[0], np.ndarray):
        samples = as_channels_first(body[0], "audio", node.name)
        return samples, check_sample_rate(body[1], "sample_rate", node.name), metadata
    raise KernelInputError("input", "an (audio (channels, samples), sample_rate) tuple or an AudioBuffer",
                           type(data).__name__ if not isinstance(data, tuple) else
                           f"a tuple of {[type(x).__name__ for x in data]}", node_id=node.name)


def _is_vad_output(data: Any) -> bool:
    return (isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], dict)
            and isinstance(data[0], (tuple, list)) and len(data[0]) == 2 and isinstance(data[0][0], np.ndarray))


class _Resampling(KernelNode):
    """Shared by AudioTransform and AudioResampler: channels, then sample rate, item or stream."""

    kernel_family = "resample"
    input_types = {"audio": "audio"}
    output_types = {"audio": "audio"}
    target_rate: int
    quality: str

    def _init_resampling(self, target_rate: Any, parameter: str, quality: str) -> None:
        self.target_rate = resample.check_rate(target_rate, parameter, node_id=self.name)
        self.quality = resample.check_quality(quality, node_id=self.name)
        self._stream: Optional[resample.Resampler] = None
        self._stream_format: Optional[Tuple[int, int]] = None

    def _channels(self, samples: np.ndarray) -> np.ndarray:
        return samples

    def _float32(self, samples: np.ndarray) -> np.ndarray:
        if samples.dtype.kind == "i":
            return convert.convert_format(samples, "f32", impl=self.impl).samples
        return samples

    def process(self, data: Any) -> Any:
        """One whole clip: ``(audio, sample_rate)`` -> ``(audio at the target rate, target rate)``.

        Returns:
            float32 (channels, round(frames * target / rate)) when resampled; the input's dtype
            when the rate already matches. Metadata attached to the input is attached again.
        """
        samples, rate, metadata = _split_audio(self, data)
        x = self._channels(samples)
        if rate != self.target_rate:
            x = resample.resample(self._float32(x), rate, self.target_rate, self.quality, impl=self.impl)
        return self.merge_data_metadata((x, self.target_rate), metadata)

    def process_chunk(self, data: Any) -> Any:
        """One chunk of a stream: the output available so far (None while the resampler fills its
        first block); the rate and channel count must stay those of the stream's first chunk."""
        samples, rate, metadata = _split_audio(self, data)
        fmt = (rate, samples.shape[0])
        if self._stream_format is None:
            self._stream_format = fmt
            if rate != self.target_rate:
                out_channels = self._channels(samples[:, :0]).shape[0]
                self._stream = resample.Resampler(rate, self.target_rate, out_channels, self.quality, impl=self.impl)
        elif fmt != self._stream_format:
            raise KernelInputError("audio", f"{self._stream_format[1]} channel(s) at {self._stream_format[0]} Hz "
                                   "(as earlier in this stream)", f"{fmt[1]} channel(s) at {fmt[0]} Hz",
                                   node_id=self.name)
        x = self._channels(samples)
        if self._stream is not None:
            x = self._stream.process(self._float32(x))
            if x.shape[1] == 0:
                return None
        return self.merge_data_metadata((x, self.target_rate), metadata)

    def flush(self) -> Optional[Tuple[np.ndarray, int]]:
        """Ends the stream: the resampler's remaining output (None when there is none)."""
        stream, self._stream, self._stream_format = self._stream, None, None
        if stream is None:
            return None
        rest = stream.flush()
        return (rest, self.target_rate) if rest.shape[1] else None

    def reset(self) -> None:
        """Drops the stream state."""
        self._stream, self._stream_format = None, None


@register_node
class AudioTransform(_Resampling):
    """Resamples and maps channels (remotemedia 1.x ``AudioTransform``).

    Args:
        output_sample_rate: target rate (Hz), 8000 to 192000.
        output_channels: 1 mixes to mono (mean of the channels, mix kernel); more than the
            input's single channel upmixes by copying it; fewer than the input has keeps the
            first ``output_channels`` channels.
        quality: resampler preset (see :mod:`remotemedia.kernels.resample`).
        runtime_hint: ``auto``, ``native`` (alias ``rust``) or ``python``.
        name: node id.

    ``process((audio, sample_rate))`` -> ``(audio (output_channels, n), output_sample_rate)``
    with ``n = round(frames * output_sample_rate / sample_rate)``: float32 when resampled
    (integer input is scaled to [-1, 1) first), else the input's dtype. 1-D input is mono.
    A trailing metadata dict (``(audio, rate, {"session_id": ...})``) is passed on.

    Raises:
        KernelInputError: the input is not audio, or asks to turn several channels into more.
    """

    def __init__(self, output_sample_rate: int = 44100, output_channels: int = 2, quality: str = "high",
                 runtime_hint: str = "auto", name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        if isinstance(output_channels, bool) or not isinstance(output_channels, (int, np.integer)) \
                or not 1 <= output_channels <= MAX_CHANNELS:
            raise KernelInputError("output_channels", f"an int from 1 to {MAX_CHANNELS}", repr(output_channels),
                                   node_id=self.name)
        self.output_channels = int(output_channels)
        self._init_resampling(output_sample_rate, "output_sample_rate", quality)
        self.output_sample_rate = self.target_rate

    def _channels(self, samples: np.ndarray) -> np.ndarray:
        have, want = samples.shape[0], self.output_channels
        if have == want:
            return samples
        if want == 1:
            return mix.mix_to_mono(self._float32(samples), impl=self.impl)
        if have == 1:
            return np.repeat(samples, want, axis=0)
        if want < have:
            return samples[:want]
        raise KernelInputError("audio", f"1 channel or at least {want} (mono is upmixed; more channels are mixed "
                               "to mono or cut to the first output_channels)", f"{have} channels", node_id=self.name)


@register_node
class AudioResampler(_Resampling):
    """Resamples audio to ``target_sample_rate`` (remotemedia 1.x ``AudioResampler``, which was a
    placeholder returning its input: this one resamples).

    Args:
        target_sample_rate: Hz, 8000 to 192000.
        quality: resampler preset.
        runtime_hint: ``auto``, ``native`` (alias ``rust``) or ``python``.
        name: node id.

    ``process((audio, sample_rate))`` -> ``(float32 (channels, round(frames * target /
    sample_rate)), target_sample_rate)``; input already at the target rate is returned as is.
    """

    def __init__(self, target_sample_rate: int = 44100, quality: str = "high", runtime_hint: str = "auto",
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        self._init_resampling(target_sample_rate, "target_sample_rate", quality)
        self.target_sample_rate = self.target_rate


@register_node
class ExtractAudioDataNode(Node):
    """Takes the samples out of ``(audio, sample_rate)`` as one flat array (1.x, for models that want 1-D input).

    ``process((audio, sample_rate))`` -> ``audio.ravel()`` (C order: channel after channel; a view
    when ``audio`` is C-contiguous). Anything else gives None (no output) and a logged warning, as in 1.x.
    """

    input_types = {"audio": "audio"}
    output_types = {"samples": "any"}

    def process(self, data: Any) -> Optional[np.ndarray]:
        if isinstance(data, _Buffer):
            return data.samples.ravel()
        if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
            return data[0].ravel()
        logger.warning("%s %r: expected an (ndarray, sample_rate) tuple, got %s; no output", type(self).__name__,
                       self.name, type(data).__name__)
        return None


@register_node
class AudioBuffer(Node):
    """Re-chunks an audio stream into blocks of ``buffer_size_samples`` frames (remotemedia 1.x).

    Args:
        buffer_size_samples: frames per output block (>= 1).
        name: node id.

    A streaming node (``is_streaming``): ``process`` takes the whole input stream (an async
    iterator of ``(audio, sample_rate)``) and yields ``(audio (channels, buffer_size_samples),
    sample_rate)`` blocks as soon as enough frames have arrived; at the end of the stream the
    remainder (fewer frames) is yielded. A change of sample rate, channel count or dtype flushes
    the frames buffered so far (a shorter block) and starts again with the new format.

    Raises:
        KernelInputError: an item is not ``(audio, sample_rate)`` audio.
    """

    input_types = {"audio": "audio"}
    output_types = {"audio": "audio"}

    def __init__(self, buffer_size_samples: int, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if isinstance(buffer_size_samples, bool) or not isinstance(buffer_size_samples, (int, np.integer)) \
                or buffer_size_samples < 1:
            raise KernelInputError("buffer_size_samples", "an int >= 1", repr(buffer_size_samples), node_id=self.name)
        self.buffer_size_samples = int(buffer_size_samples)
        self.is_streaming = True

    async def process(self, data_stream: Any) -> AsyncIterator[Tuple[np.ndarray, int]]:  # type: ignore[override]
        size = self.buffer_size_samples
        pending: List[np.ndarray] = []
        held = 0
        fmt: Optional[Tuple[int, int, np.dtype]] = None
        async for data in _aiter(data_stream):
            if _is_vad_output(data):  # ((audio, rate), metadata) from VoiceActivityDetector: the audio
                data = data[0]
            if isinstance(data, _Buffer):
                samples, rate = data.samples, data.sample_rate
            elif isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], np.ndarray):
                samples = as_channels_first(data[0], "audio", self.name)
                rate = check_sample_rate(data[1], "sample_rate", self.name)
            else:
                raise KernelInputError("input", "an (audio, sample_rate) tuple", type(data).__name__,
                                       node_id=self.name)
            item_fmt = (rate, samples.shape[0], samples.dtype)
            if fmt is not None and item_fmt != fmt and held:
                logger.info("%s %r: the audio format changed mid-stream; flushing %d frames", type(self).__name__,
                            self.name, held)
                yield _join(pending), fmt[0]
                pending, held = [], 0
            fmt = item_fmt
            if samples.shape[1]:
                pending.append(samples)
                held += samples.shape[1]
            while held >= size:
                block, pending = _take(pending, size)
                held -= size
                yield block, rate
        if held and fmt is not None:
            yield _join(pending), fmt[0]


def _join(parts: List[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def _take(parts: List[np.ndarray], n: int) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The first ``n`` frames of ``parts`` (one array) and what is left."""
    out, got, i = [], 0, 0
    while got < n:
        head = parts[i]
        k = min(head.shape[1], n - got)
        out.append(head[:, :k])
        got += k
        if k < head.shape[1]:
            return _join(out), [head[:, k:]] + parts[i + 1:]
        i += 1
    return _join(out), parts[i:]


async def _aiter(stream: Any) -> AsyncIterator[Any]:
    if hasattr(stream, "__aiter__"):
        async for item in stream:
            yield item
    else:
        for item in stream:
            yield item


@register_node
class VoiceActivityDetector(KernelNode):
    """Energy VAD with an adaptive threshold over a stream (remotemedia 1.x ``VoiceActivityDetector``).

    Args:
        frame_duration_ms: analysis frame (ms); ``int(sample_rate * frame_duration_ms / 1000)``
            samples per frame.
        energy_threshold: the fixed part of the threshold (RMS of samples in [-1, 1]).
        speech_threshold: a chunk is speech when at least this fraction of its frames are.
        filter_mode: yield only speech chunks (``(audio, sample_rate)``, input metadata kept).
        include_metadata: in passthrough mode, yield ``((audio, sample_rate), metadata)``
            (else ``(audio, sample_rate)``, input metadata kept).
        runtime_hint: implementation of the energy kernel.
        name: node id.

    A streaming node (``is_streaming``): ``process`` takes the input stream and yields one output
    per chunk (none for non-speech chunks in filter mode). The 1.x algorithm: each chunk is mixed
    to mono and cut into whole frames (a partial frame at its end is not analysed); each frame's
    RMS comes from the energy kernel (:class:`remotemedia.kernels.vad.EnergyVad`). The threshold
    for a chunk is computed from the energies of the 100 frames before it: ``0.7 * 2.5 *
    p30 + 0.3 * energy_threshold``, where ``p30`` is the value at index ``int(0.3 * count)`` of
    the sorted history (``energy_threshold`` alone for the first chunk); a frame is speech when
    its RMS exceeds it. The history runs across chunks (and items) of the node until
    :meth:`reset`.

    Metadata: ``is_speech`` (bool), ``speech_ratio`` (speech frames / frames), ``avg_energy``
    (mean RMS of the chunk's frames), ``frame_duration_ms``; merged into the input's metadata
    when it had some.
    """

    kernel_family = "energy_vad"
    input_types = {"audio": "audio"}
    output_types = {"audio": "any"}
    HISTORY_SIZE = 100

    def __init__(self, frame_duration_ms: int = 30, energy_threshold: float = 0.02, speech_threshold: float = 0.3,
                 filter_mode: bool = False, include_metadata: bool = True, runtime_hint: str = "auto",
                 name: Optional[str] = None, **kwargs: Any) -> None:
        from remotemedia.kernels.vad import EnergyVad

        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        EnergyVad(16000, frame_duration_ms, energy_threshold, impl=self.impl, node_id=self.name)  # validates both
        if isinstance(speech_threshold, bool) or not isinstance(speech_threshold, (int, float, np.floating)) \
                or not 0 <= speech_threshold <= 1:
            raise KernelInputError("speech_threshold", "a number from 0 to 1", repr(speech_threshold),
                                   node_id=self.name)
        self.frame_duration_ms = int(frame_duration_ms)
        self.energy_threshold = float(energy_threshold)
        self.speech_threshold = float(speech_threshold)
        self.filter_mode = bool(filter_mode)
        self.include_metadata = bool(include_metadata)
        self.is_streaming = True
        self._history: Deque[float] = deque(maxlen=self.HISTORY_SIZE)
        self._detectors: Dict[int, Any] = {}

    def adaptive_threshold(self) -> float:
        """The threshold the next chunk's frames are compared with."""
        if not self._history:
            return self.energy_threshold
        ordered = sorted(self._history)
        noise_floor = ordered[int(len(ordered) * 0.3)]
        return 0.7 * (noise_floor * 2.5) + 0.3 * self.energy_threshold

    def reset(self) -> None:
        """Forgets the energy history (the next chunk starts from ``energy_threshold``)."""
        self._history.clear()

    def analyze(self, samples: np.ndarray, sample_rate: int) -> Tuple[bool, Dict[str, Any]]:
        """Analyses one chunk and updates the history.

        Args:
            samples: (channels, frames) or (frames,), any audio dtype (integers are scaled to [-1, 1)).
            sample_rate: Hz.

        Returns:
            ``(is_speech, info)`` with ``speech_ratio``, ``avg_energy``, ``adaptive_threshold``,
            ``num_frames`` and ``speech_frames``.
        """
        from remotemedia.kernels.vad import EnergyVad

        x = as_channels_first(samples, "audio", self.name)
        if x.shape[0] > 1:
            x = mix.mix_to_mono(convert.convert_format(x, "f32", impl=self.impl).samples if x.dtype.kind == "i"
                                else x, impl=self.impl)
        detector = self._detectors.get(sample_rate)
        if detector is None:
            detector = self._detectors[sample_rate] = EnergyVad(sample_rate, self.frame_duration_ms, 0.0,
                                                                impl=self.impl, node_id=self.name)
        threshold = self.adaptive_threshold()
        _, rms = detector.process(x)
        detector.reset()  # 1.x frames every chunk on its own: a partial last frame is not carried over
        speech = int(np.count_nonzero(rms > threshold))
        n = int(rms.size)
        self._history.extend(float(v) for v in rms[-self.HISTORY_SIZE:])
        ratio = speech / max(n, 1)
        info = {"speech_ratio": ratio, "avg_energy": float(rms.sum()) / max(n, 1),
                "adaptive_threshold": float(threshold), "num_frames": n, "speech_frames": speech}
        return ratio >= self.speech_threshold, info

    async def process(self, data_stream: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        async for data in _aiter(data_stream):
            samples, rate, input_metadata = _split_audio(self, data)
            is_speech, info = self.analyze(samples, rate)
            audio = (samples, rate)
            if self.filter_mode:
                if is_speech:
                    yield self.merge_data_metadata(audio, input_metadata)
                continue
            if not self.include_metadata:
                yield self.merge_data_metadata(audio, input_metadata)
                continue
            metadata = {"is_speech": bool(is_speech), "speech_ratio": info["speech_ratio"],
                        "avg_energy": info["avg_energy"], "frame_duration_ms": self.frame_duration_ms}
            yield audio, ({**input_metadata, **metadata} if input_metadata else metadata)
