"""Fixtures of the metrics tests."""

from __future__ import annotations

import tracemalloc

import pytest


@pytest.fixture(autouse=True)
def _tracemalloc_as_found():
    """``memory="tracemalloc"`` starts tracemalloc for the rest of the process, by design; tests that run later
    (tests/nodes/test_video_nodes.py takes a snapshot per frame) need it off again. Stopping it here is safe: the
    test's pipelines have finished, so no node allocates in another thread."""
    was_tracing = tracemalloc.is_tracing()
    yield
    if not was_tracing and tracemalloc.is_tracing():
        tracemalloc.stop()
