"""Format conversion throughput against the memory-bandwidth floor.

For 1M and 64M samples: native, the numpy implementation, and the plain numpy
expression, each as GB/s of bytes read + written, and as a fraction of a
plain ``np.copyto`` moving the same number of bytes (read + written; the
floor), interleaved.
"""

from __future__ import annotations

import numpy as np
import pytest
from interleave import interleaved
from targets import check, note, plot_ratios

from remotemedia import _native
from remotemedia.kernels import convert

pytestmark = pytest.mark.skipif(_native.module() is None, reason="native unavailable")

CASES = [("i16", "f32"), ("f32", "i16")]
DT = {"i16": np.int16, "f32": np.float32}


@pytest.mark.parametrize("n", [1_000_000, 64_000_000], ids=["1M", "64M"])
@pytest.mark.parametrize("src, dst", CASES)
def test_convert_bandwidth(benchmark, n, src, dst):
    rng = np.random.default_rng(0)
    if src == "f32":
        x = (rng.standard_normal(n) * 0.3).astype(np.float32)
    else:
        x = rng.integers(-32768, 32767, n, dtype=np.int16)
    out = np.empty(n, dtype=DT[dst])
    moved = x.nbytes + out.nbytes
    # The floor: one np.copyto reading moved / 2 bytes and writing moved / 2 bytes, so it moves exactly the
    # bytes (read + written) the conversion moves. (Copying x's bytes into a buffer of out's size would read x
    # twice for int16 -> float32, i.e. move more bytes than the conversion, and make the floor look slow.)
    floor_src = np.ones(moved // 2, dtype=np.uint8)
    floor_dst = np.empty_like(floor_src)

    def floor():
        np.copyto(floor_dst, floor_src)

    if dst == "f32":
        def plain():
            np.multiply(x, np.float32(1 / 32768), out=out, dtype=np.float32, casting="unsafe")
    else:
        def plain():
            np.copyto(out, np.clip(np.rint(x * np.float32(32768)), -32768, 32767), casting="unsafe")

    res = interleaved({
        "np.copyto floor": floor,
        "native": lambda: convert.convert_format(x, dst, out=out, impl="native"),
        "numpy implementation": lambda: convert.convert_format(x, dst, out=out, impl="python"),
        "plain numpy expression": plain,
    }, rounds=9, target_s=0.05)
    benchmark.pedantic(lambda: convert.convert_format(x, dst, out=out, impl="native"), rounds=5, iterations=1)
    benchmark.extra_info.update(res)
    lines = [
        f"  {name:<24} {moved / v['median_s'] / 1e9:6.2f} GB/s   {1 / v['ratio'] * 100:5.1f}% of the floor"
        for name, v in res.items()
    ]
    print(f"\n{src} -> {dst}, {n:,} samples:\n" + "\n".join(lines))
    case = f"convert {src}->{dst}, {n // 1_000_000}M"
    check(benchmark, f"{case}: native, fraction of the np.copyto floor", 100 / res["native"]["ratio"], "%", ">=", 70,
          source="issue 4")
    check(benchmark, f"{case}: numpy implementation time / native time",
          res["numpy implementation"]["ratio"] / res["native"]["ratio"], "x", ">=", 3, source="issue 4 (several times)")
    note(benchmark, f"{case}: native throughput", moved / res["native"]["median_s"] / 1e9, "GB/s")
    note(benchmark, f"{case}: plain numpy expression, fraction of the floor",
         100 / res["plain numpy expression"]["ratio"], "%")
    plot_ratios(benchmark, case, res, {"native": "native", "numpy": "numpy implementation",
                                       "outside: plain numpy expression": "plain numpy expression",
                                       "floor: np.copyto": "np.copyto floor"})
