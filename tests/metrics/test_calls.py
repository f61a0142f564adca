"""Payload sizes of node inputs and outputs."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia.audio import AudioBuffer
from remotemedia.metrics import payload_size


@pytest.mark.parametrize(("value", "expected"), [
    (np.zeros((2, 100), np.float32), (200, 800)),
    ((np.zeros(50, np.int16), 16000), (50, 100)),
    ([np.zeros(10), np.zeros(5)], (15, 120)),
    ({"a": np.zeros(3, np.int32), "b": (np.zeros(4, np.float32), 8000)}, (7, 28)),
    (b"abcd", (None, 4)),
    (1.5, (None, None)),
    ({"x": 1}, (None, None)),
])
def test_payload_size(value, expected):
    assert payload_size(value) == expected


def test_payload_size_of_audio_buffer():
    buf = AudioBuffer(np.zeros((2, 480), np.int16), 48000)
    assert payload_size(buf) == (960, 1920)
