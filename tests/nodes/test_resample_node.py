"""AudioResampleNode: 1.x signature, whole-signal and chunked use, errors."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia.audio import AudioBuffer
from remotemedia.errors import KernelInputError
from remotemedia.kernels import _resample_design as design
from remotemedia.nodes.audio import AudioResampleNode
from remotemedia.nodes.registry import get_node_class


def test_registered_with_the_resample_family():
    assert get_node_class("AudioResampleNode") is AudioResampleNode
    assert AudioResampleNode.kernel_family == "resample"
    node = AudioResampleNode()
    assert (node.target_sample_rate, node.quality, node.runtime_hint) == (16000, "high", "auto")


@pytest.mark.parametrize("shape", [(48000,), (1, 48000), (2, 48000)])
def test_process_returns_2d_float32_at_the_target_rate(impl, shape):
    node = AudioResampleNode(target_sample_rate=16000, runtime_hint=impl)
    x = (np.random.default_rng(0).standard_normal(shape) * 0.1).astype(np.float32)
    out, rate = node.process((x, 48000))
    assert rate == 16000
    assert out.dtype == np.float32 and out.ndim == 2
    assert out.shape == ((1, 16000) if len(shape) == 1 else (shape[0], 16000))
    from remotemedia import kernels

    np.testing.assert_array_equal(out, kernels.get(impl).resample(x.reshape(-1, 48000), 48000, 16000))


def test_integer_input_is_converted_like_the_convert_kernel(impl):
    node = AudioResampleNode(target_sample_rate=8000, runtime_hint=impl)
    x16 = (np.random.default_rng(1).standard_normal(16000) * 3000).astype(np.int16)
    out, _ = node.process(AudioBuffer(x16, 16000))
    ref, _ = node.process((x16.astype(np.float32) / 32768, 16000))
    np.testing.assert_array_equal(out, ref)
    x32 = x16.astype(np.int32) << 16
    np.testing.assert_array_equal(node.process((x32, 16000))[0], ref)


def test_chunked_stream_equals_whole_signal(impl):
    node = AudioResampleNode(target_sample_rate=16000, quality="medium", runtime_hint=impl)
    x = (np.random.default_rng(2).standard_normal((2, 20000)) * 0.1).astype(np.float32)
    whole, _ = node.process((x, 44100))
    parts = []
    sizes = [441, 1, 7, 3000, 0, 5000]
    pos = 0
    for size in sizes + [x.shape[1]]:
        out, rate = node.process_chunk((x[:, pos:pos + size], 44100))
        assert rate == 16000
        parts.append(out)
        pos += size
        if pos >= x.shape[1]:
            break
    assert node.latency_frames == design.make_plan(44100, 16000, "medium").delay
    rest, _ = node.flush()
    np.testing.assert_array_equal(np.concatenate(parts + [rest], axis=1), whole)
    assert node.latency_frames == 0  # the stream ended
    # A new stream may have another rate.
    out, _ = node.process_chunk((x[:, :4800], 48000))
    assert out.shape[0] == 2
    assert np.concatenate([out, node.flush()[0]], axis=1).shape == (2, 1600)


def test_stream_rejects_a_rate_or_channel_change(impl):
    node = AudioResampleNode(target_sample_rate=16000, runtime_hint=impl, name="rs")
    node.process_chunk((np.zeros((1, 100), np.float32), 48000))
    with pytest.raises(KernelInputError, match="node 'rs': sample_rate: expected 48000 Hz"):
        node.process_chunk((np.zeros((1, 100), np.float32), 44100))
    with pytest.raises(KernelInputError, match="node 'rs': audio: expected 1 channel"):
        node.process_chunk((np.zeros((2, 100), np.float32), 48000))


def test_flush_without_a_stream_is_empty():
    out, rate = AudioResampleNode(target_sample_rate=22050).flush()
    assert out.shape == (1, 0) and rate == 22050


def test_bad_parameters_name_the_node():
    with pytest.raises(KernelInputError, match="node 'r': target_sample_rate: expected 8000 to 192000 Hz"):
        AudioResampleNode(target_sample_rate=4000, name="r")
    with pytest.raises(KernelInputError, match="node 'r': quality: expected one of"):
        AudioResampleNode(quality="best", name="r")
    with pytest.raises(KernelInputError, match="runtime_hint"):
        AudioResampleNode(runtime_hint="gpu")
