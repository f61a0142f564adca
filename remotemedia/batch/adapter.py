"""Running ONE file through a pipeline: the seam between the batch worker and the library's file I/O.

A file pipeline (one that starts with a chunk source such as
``AudioFileSource`` or ends in file-writing sinks such as ``SegmentWriter``)
runs through ``Pipeline.run_file``: the file is streamed in chunks and the
sinks write into the output folder. Any other pipeline is an item pipeline:
the input is read whole with :func:`remotemedia.io.read_audio`, the pipeline
runs on ``(samples, sample_rate)``, and the sinks' outputs are written by
:func:`write_outputs` with the library's writers (VAD segments by
:class:`~remotemedia.nodes.segment_writer.SegmentWriter` itself: one naming,
one index format).

The batch worker hands :func:`process_file` a private staging folder and
publishes it atomically afterwards (see :mod:`remotemedia.batch.publish`), so
the files here are fsynced one by one and their folder once, by the publisher.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Optional, Tuple

import numpy as np

from remotemedia.io.atomic import AtomicFile
from remotemedia.io.readers import open_audio, read_audio
from remotemedia.io.writers import AudioWriter

#: Where an attempt on one input is: building the pipeline, downloading a URL
#: input, reading the input file, running the pipeline, writing and publishing
#: the outputs.
StageName = Literal["build", "download", "read", "pipeline", "io"]


@dataclass
class Stage:
    """Where an attempt on one input is (a typed field, read when the attempt fails).

    Attributes:
        name: see :data:`StageName`.
    """

    name: StageName = "build"


def process_file(pipeline: Any, input_path: str, out_dir: str,
                 stage: Optional[Stage] = None) -> Tuple[Optional[float], Dict[str, Any]]:
    """Runs ``pipeline`` on one audio file and writes its outputs into ``out_dir``.

    Args:
        pipeline: a :class:`remotemedia.Pipeline` built for this file alone.
        input_path: a local audio file.
        out_dir: an existing, empty folder that receives every output file.
        stage: updated as the work proceeds (see :class:`Stage`).

    Returns:
        ``(duration, metrics)``: the input's duration (s), or None when a file
        pipeline's input header cannot be read (its source node then reports
        why), and the run's ``pipeline.get_metrics()`` (read once: for a long
        file it is thousands of call records).
    """
    stage = stage if stage is not None else Stage()
    if pipeline.writes_files():
        # A file pipeline (e.g. examples/pipelines/speech_prep.json): streamed in
        # chunks, in bounded memory, its sinks writing into out_dir.
        stage.name = "read"
        header = audio_header(input_path)
        stage.name = "pipeline"
        pipeline.run_file(input_path, out_dir)
        metrics = pipeline.get_metrics()
        if header is None:
            return None, metrics
        decoded = _decoded_frames(pipeline, metrics, header[0])
        return (decoded if decoded is not None else header[2]) / header[1], metrics
    # An item pipeline: the file is read whole and the sinks' outputs written here.
    stage.name = "read"
    samples, sample_rate = read_audio(input_path)
    stage.name = "pipeline"
    result = pipeline.execute_sync((samples, sample_rate))
    stage.name = "io"
    write_outputs(result.outputs, out_dir)
    return samples.shape[1] / sample_rate, pipeline.get_metrics()


def audio_header(path: str) -> Optional[Tuple[int, int, int]]:
    """``(channels, sample_rate, frames)`` of an audio file as its header (or container) claims them, or None
    when it cannot be read."""
    try:
        with open_audio(path) as reader:
            return reader.num_channels, reader.sample_rate, reader.num_frames
    except Exception:  # a probe: whatever is wrong is reported by the pipeline's own read
        return None


def _decoded_frames(pipeline: Any, metrics: Dict[str, Any], channels: int) -> Optional[int]:
    """The frames the pipeline's one source node read in its latest run (from that run's ``metrics``: the
    samples of every chunk it gave), or None when that is not known. Compressed files' headers are often off
    by an encoder delay or a frame; this is the count of what was decoded."""
    sources = pipeline.graph.sources
    if len(sources) != 1 or channels < 1:
        return None
    node = metrics.get("nodes", {}).get(sources[0])
    samples = None if node is None else node.get("output_samples")
    return None if samples is None else samples // channels


def write_outputs(outputs: Dict[str, List[Any]], out_dir: str) -> List[str]:
    """Writes what the pipeline's sinks gave, by kind of item.

    - ``(audio, sample_rate, info)`` whose ``info`` has ``segments`` (VADNode
      with ``segments=True``): written by ``SegmentWriter``: one WAV per
      segment (``0000.wav`` ..., int16 unless the audio is int32) and
      ``segments.jsonl`` (one JSON object per segment: ``index``, ``file``,
      ``start``/``end`` in samples, ``start_s``/``end_s``, ``sample_rate``,
      ``frames``, ``clipped``, ``source``), empty when there is no speech;
    - ``(audio, sample_rate)``: ``audio.wav`` (int16 unless the audio is int32);
    - anything else: ``output.json``.

    With several sinks or items, names get a ``<sink id>_`` / ``<n>_`` prefix
    (segments: ``<prefix>_0000.wav``, ``<prefix>.segments.jsonl``).

    Returns:
        The names of the files written, relative to ``out_dir``.
    """
    names: List[str] = []
    many_sinks = len(outputs) > 1
    for sink, items in outputs.items():
        for i, item in enumerate(items):
            parts = ([sink] if many_sinks else []) + ([f"{i:03d}"] if len(items) > 1 else [])
            names += _write_item(item, out_dir, "_".join(parts))
    return names


def _write_item(item: Any, out_dir: str, prefix: str) -> List[str]:
    if _is_audio(item) and len(item) >= 3 and isinstance(item[2], dict) and "segments" in item[2]:
        from remotemedia.nodes.segment_writer import SegmentWriter, segment_file_name, segment_index_name

        # The publisher fsyncs the folder once, before it renames it into place.
        writer = SegmentWriter(output_dir=out_dir, sample_format=_sample_format(item[0]), prefix=prefix,
                               sync_dir=False)
        count = writer.process(item)["segments"]
        return [segment_file_name(prefix, j) for j in range(count)] + [segment_index_name(prefix)]
    name = f"{prefix}_" if prefix else ""
    if _is_audio(item):
        name += "audio.wav"
        samples = np.atleast_2d(item[0])
        # The publisher fsyncs the folder once, before it renames it into place.
        with AudioWriter(os.path.join(out_dir, name), int(item[1]), samples.shape[0], _sample_format(samples),
                         "wav", sync_dir=False) as writer:
            writer.write(samples)
        return [name]
    name += "output.json"
    with AtomicFile(os.path.join(out_dir, name), "w", sync_dir=False) as f:
        f.file.write(json.dumps(item, default=_json_default, indent=1) + "\n")
    return [name]


def _sample_format(samples: np.ndarray) -> str:
    return "i32" if samples.dtype == np.int32 else "i16"


def _is_audio(item: Any) -> bool:
    return (isinstance(item, tuple) and len(item) >= 2 and isinstance(item[0], np.ndarray)
            and isinstance(item[1], (int, np.integer)))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
