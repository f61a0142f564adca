"""Mix-down to mono per chunk: 2 s of 48 kHz int16 (the chunk of the speech chain).

Interleaved timing of the native kernel, the numpy implementation, the numpy
expression ``AudioBuffer.to_mono()`` used before the kernel, and a copy of
the input's bytes (a floor), on the transposed view of interleaved data (what
PCM readers give) and on planar data.
"""

from __future__ import annotations

import numpy as np
import pytest
from interleave import interleaved
from targets import note, plot_ratios

from remotemedia import _native
from remotemedia.kernels import mix

pytestmark = pytest.mark.skipif(_native.module() is None, reason="native unavailable")


@pytest.mark.parametrize("channels", [2, 6])
@pytest.mark.parametrize("layout", ["interleaved", "planar"])
def test_mix_chunk(benchmark, layout, channels):
    frames = 96_000
    rng = np.random.default_rng(0)
    inter = rng.integers(-20000, 20000, (frames, channels)).astype(np.int16)
    x = inter.T if layout == "interleaved" else np.ascontiguousarray(inter.T)
    floor_dst = np.empty_like(inter)

    def old_expression():
        return np.rint(x.mean(axis=0, dtype=np.float64)).astype(x.dtype)[np.newaxis, :]

    assert np.array_equal(mix.mix_to_mono(x, impl="native"), old_expression())
    res = interleaved({
        "native": lambda: mix.mix_to_mono(x, impl="native"),
        "numpy implementation": lambda: mix.mix_to_mono(x, impl="python"),
        "numpy mean (before)": old_expression,
        "copy of the input": lambda: np.copyto(floor_dst, inter),
    }, rounds=9, target_s=0.05)
    benchmark.pedantic(lambda: mix.mix_to_mono(x, impl="native"), rounds=5, iterations=1)
    benchmark.extra_info.update(res)
    print(f"\nmix {channels} ch {layout}, 2 s at 48 kHz int16:\n" + "\n".join(
        f"  {name:<22} {v['median_s'] * 1e6:8.1f} us" for name, v in res.items()))
    case = f"mix to mono, {channels} ch int16 {layout}, 2 s at 48 kHz"
    note(benchmark, f"{case}: native", res["native"]["median_s"] * 1e6, "us")
    note(benchmark, f"{case}: numpy mean (before) time / native time", res["numpy mean (before)"]["ratio"], "x")
    note(benchmark, f"{case}: numpy implementation time / native time", res["numpy implementation"]["ratio"], "x")
    plot_ratios(benchmark, case, res, {"native": "native", "numpy": "numpy implementation",
                                       "before: numpy mean": "numpy mean (before)",
                                       "floor: copy": "copy of the input"})
