"""FormatConverterNode: 1.x signature, runtime hints, both implementations."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia import _native
from remotemedia.audio import AudioBuffer
from remotemedia.errors import KernelInputError, NativeUnavailableError
from remotemedia.nodes.audio import FormatConverterNode


def test_converts_tuple_input_to_2d(impl):
    node = FormatConverterNode(target_format="f32", runtime_hint=impl)
    assert node.impl == impl
    x = np.array([0, 16384, -32768], dtype=np.int16)
    out, sr = node.process((x, 16000))
    assert sr == 16000 and out.shape == (1, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [0.0, 0.5, -1.0])


def test_audio_buffer_input_and_clip_count(impl):
    node = FormatConverterNode("i16", runtime_hint=impl, name="conv")
    buf = AudioBuffer(np.array([[0.5, 1.5], [-2.0, 0.0]], dtype=np.float32), 8000)
    out, sr = node.process(buf)
    np.testing.assert_array_equal(out, [[16384, 32767], [-32768, 0]])
    assert node.last_clipped == 2 and node.total_clipped == 2
    node.process(buf)
    assert node.total_clipped == 4


def test_same_format_returns_input_array(impl):
    node = FormatConverterNode("f32", runtime_hint=impl)
    x = np.zeros((2, 5), dtype=np.float32)
    out, _ = node.process((x, 48000))
    assert out is x


def test_rust_is_an_alias_of_native():
    if _native.module() is None:
        with pytest.raises(NativeUnavailableError, match="node 'c': runtime_hint='rust' but native convert is unavailable"):
            FormatConverterNode(runtime_hint="rust", name="c")
    else:
        assert FormatConverterNode(runtime_hint="rust").impl == "native"


def test_auto_uses_class_default():
    node = FormatConverterNode()
    assert node.impl == FormatConverterNode.default_impl == _native.STATUS.impl


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"runtime_hint": "gpu"}, "node 'n': runtime_hint: expected one of auto, native, python, rust, given 'gpu'"),
        ({"target_format": "u8"}, "node 'n': target_format: expected one of 'f32', 'i16', 'i32', given 'u8'"),
    ],
)
def test_bad_parameters_are_rejected_at_construction(kwargs, message):
    with pytest.raises(KernelInputError) as info:
        FormatConverterNode(name="n", **kwargs)
    assert str(info.value) == message


def test_bad_input_names_the_node(impl):
    node = FormatConverterNode(runtime_hint=impl, name="conv")
    with pytest.raises(KernelInputError, match="node 'conv': audio: expected dtype"):
        node.process((np.zeros(3, dtype=np.uint8), 16000))
    with pytest.raises(KernelInputError, match="node 'conv': sample_rate: expected 1 to 768000 Hz, given 0"):
        node.process((np.zeros(3, dtype=np.int16), 0))
    with pytest.raises(KernelInputError, match="node 'conv': input: expected an AudioBuffer"):
        node.process(b"\x00\x00")


def test_unknown_kwargs_are_kept_in_config():
    node = FormatConverterNode("i16", name="x", custom=1)
    assert node.config == {"custom": 1}
