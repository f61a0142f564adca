"""Running ONE file through a pipeline: the seam between the batch runner and file I/O.

A file pipeline (one that starts with a chunk source such as
``AudioFileSource`` or ends in file-writing sinks such as ``SegmentWriter``)
runs through ``Pipeline.run_file``: the file is streamed in chunks and the
sinks write into the output folder. Any other pipeline is an item pipeline:
the input is read whole with the stdlib :mod:`wave` module (PCM int16/int32),
the pipeline runs on ``(samples, sample_rate)``, and the sinks' outputs are
written by :func:`write_outputs`.

The batch runner hands :func:`process_file` a private staging folder and
publishes it atomically afterwards (see :mod:`remotemedia.batch.worker`), so
writers here only need to write complete files and fsync them.
"""

from __future__ import annotations

import json
import os
import struct
import wave
from typing import Any, Dict, List, Optional

import numpy as np

from remotemedia.audio import AudioBuffer
from remotemedia.errors import InputFileError

SEGMENTS_NAME = "segments.jsonl"


def process_file(pipeline: Any, input_path: str, out_dir: str) -> None:
    """Runs ``pipeline`` on one audio file and writes its outputs into ``out_dir``.

    Args:
        pipeline: a :class:`remotemedia.Pipeline` built for this file alone.
        input_path: a local audio file.
        out_dir: an existing, empty folder that receives every output file.
    """
    if _writes_files(pipeline):
        # A file pipeline (e.g. examples/pipelines/speech_prep.json): streamed in
        # chunks, in bounded memory, its sinks writing into out_dir.
        pipeline.run_file(input_path, out_dir)
        return
    # An item pipeline: the file is read whole and the sinks' outputs written here.
    audio = read_wav(input_path)
    result = pipeline.execute_sync(audio.as_tuple())
    write_outputs(result.outputs, out_dir)


def _writes_files(pipeline: Any) -> bool:
    """True when the pipeline reads its own input file or ends in file-writing sinks."""
    nodes = {n.id: n for n in pipeline.nodes}
    sinks = [nodes[n] for n in pipeline.graph.sinks]
    return pipeline._starts_with_chunk_source() or all(getattr(n, "writes_files", False) for n in sinks)


def audio_duration_s(path: str) -> Optional[float]:
    """The duration of an audio file from its header (seconds), or None when it cannot be told."""
    try:
        with wave.open(path, "rb") as w:
            return w.getnframes() / w.getframerate()
    except Exception:  # a probe: whatever is wrong is reported by the read itself
        pass
    try:
        import soundfile  # optional

        return float(soundfile.info(path).duration)
    except Exception:
        return None


# --------------------------------------------------------------- interim I/O
def read_wav(path: str) -> AudioBuffer:
    """Reads a whole PCM WAV file (16- or 32-bit integer samples).

    Returns:
        An AudioBuffer of int16 or int32 samples shaped (channels, frames).

    Raises:
        InputFileError: not a WAV file, an unsupported sample width, or truncated.
        OSError: the file cannot be read (may be transient).
    """
    try:
        with wave.open(path, "rb") as w:
            num_channels, width, sample_rate, num_frames = (w.getnchannels(), w.getsampwidth(), w.getframerate(),
                                                            w.getnframes())
            data = w.readframes(num_frames)
    except (wave.Error, EOFError, RuntimeError, struct.error) as exc:  # wave raises all of these on bad headers
        raise InputFileError(f"not a PCM WAV file ({type(exc).__name__}: {exc})", path=path) from exc
    if width not in (2, 4):
        raise InputFileError(f"{8 * width}-bit samples are not supported (16 or 32 bit PCM)", path=path)
    frame_bytes = width * num_channels
    if len(data) != num_frames * frame_bytes:
        raise InputFileError(f"truncated: the header says {num_frames} frames, the file holds "
                             f"{len(data) // frame_bytes}", path=path)
    fmt = "i16" if width == 2 else "i32"
    return AudioBuffer.from_pcm_bytes(data, sample_rate, num_channels, fmt)


def write_wav(path: str, samples: np.ndarray, sample_rate: int) -> None:
    """Writes (channels, frames) int16/int32 samples (float is converted to int16) as PCM WAV, fsynced."""
    samples = np.atleast_2d(samples)
    if samples.dtype.kind == "f":
        from remotemedia.kernels.convert import convert_format

        samples = convert_format(samples, "i16").samples
    dtype = np.dtype("<i2") if samples.dtype == np.int16 else np.dtype("<i4")
    with open(path, "wb") as fh:
        with wave.open(fh, "wb") as w:
            w.setnchannels(samples.shape[0])
            w.setsampwidth(dtype.itemsize)
            w.setframerate(int(sample_rate))
            w.writeframes(np.ascontiguousarray(samples.T, dtype=dtype).tobytes())
        fh.flush()
        os.fsync(fh.fileno())


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def write_outputs(outputs: Dict[str, List[Any]], out_dir: str) -> List[str]:
    """Writes what the pipeline's sinks gave, by kind of item.

    - ``(audio, sample_rate, info)`` whose ``info`` has ``segments`` (VADNode
      with ``segments=True``): one WAV per segment (``seg_00000.wav`` ...,
      int16 unless the audio is int32) and ``segments.jsonl`` (one JSON object
      per segment: ``index``, ``file``, ``start``/``end`` in samples,
      ``start_s``/``end_s``, ``sample_rate``), empty when there is no speech;
    - ``(audio, sample_rate)``: ``audio.wav``;
    - anything else: ``output.json``.

    With several sinks or items, names get a ``<sink id>_`` / ``<n>_`` prefix.

    Returns:
        The names of the files written, relative to ``out_dir``.
    """
    names: List[str] = []
    many_sinks = len(outputs) > 1
    for sink, items in outputs.items():
        for i, item in enumerate(items):
            prefix = (f"{sink}_" if many_sinks else "") + (f"{i:03d}_" if len(items) > 1 else "")
            names += _write_item(item, out_dir, prefix)
    return names


def _write_item(item: Any, out_dir: str, prefix: str) -> List[str]:
    if _is_audio(item) and len(item) >= 3 and isinstance(item[2], dict) and "segments" in item[2]:
        samples, sample_rate = np.atleast_2d(item[0]), int(item[1])
        names, lines = [], []
        for j, seg in enumerate(item[2]["segments"]):
            name = f"{prefix}seg_{j:05d}.wav"
            write_wav(os.path.join(out_dir, name), samples[:, int(seg["start"]):int(seg["end"])], sample_rate)
            names.append(name)
            lines.append(json.dumps({"index": j, "file": name, "start": int(seg["start"]), "end": int(seg["end"]),
                                     "start_s": float(seg["start_s"]), "end_s": float(seg["end_s"]),
                                     "sample_rate": sample_rate}))
        name = f"{prefix}{SEGMENTS_NAME}"
        _write_text(os.path.join(out_dir, name), "".join(line + "\n" for line in lines))
        return names + [name]
    if _is_audio(item):
        name = f"{prefix}audio.wav"
        write_wav(os.path.join(out_dir, name), item[0], int(item[1]))
        return [name]
    name = f"{prefix}output.json"
    _write_text(os.path.join(out_dir, name), json.dumps(item, default=_json_default, indent=1) + "\n")
    return [name]


def _is_audio(item: Any) -> bool:
    return (isinstance(item, tuple) and len(item) >= 2 and isinstance(item[0], np.ndarray)
            and isinstance(item[1], (int, np.integer)))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
