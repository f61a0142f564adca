"""Chunk streams from in-memory signals.

A *chunk stream* is one signal cut into pieces that flows through a pipeline
chunk by chunk (``Pipeline.stream(chunks, chunked=True)``, ``run_file``); what
nodes implement for it is declared in :mod:`remotemedia.nodes.protocol`, and
the engine (:mod:`remotemedia.engine`) drives it.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Tuple

import numpy as np


def split_chunks(samples: np.ndarray, sample_rate: int, sizes: Iterable[int]) -> Iterator[Tuple[np.ndarray, int]]:
    """Cuts an in-memory signal into chunks (views) of the given frame counts.

    Args:
        samples: array shaped (channels, frames) or (frames,).
        sample_rate: Hz, attached to every chunk.
        sizes: frames per chunk, cycled until the signal ends (``[160]`` for
            fixed 160-frame chunks); every size must be >= 1.

    Yields:
        ``(view of samples (channels, n), sample_rate)``.
    """
    x = samples[np.newaxis, :] if samples.ndim == 1 else samples
    sizes = list(sizes)
    if not sizes or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes: expected frame counts >= 1, given {sizes!r}")
    pos, k, n = 0, 0, x.shape[1]
    while pos < n:
        step = int(sizes[k % len(sizes)])
        yield x[:, pos:pos + step], sample_rate
        pos += step
        k += 1
