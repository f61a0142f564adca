"""10,000 concurrent node executions stay within the configured threads and bounded memory.

Measured in a fresh interpreter, whose ``VmHWM`` (not ``ru_maxrss``, which Linux
carries across fork and exec from the pytest process) is this workload's own peak. The
bounds asserted (and what they were measured at on a 2-core machine):
- Python threads at any time <= the pool's max_workers + 2 (main + sampler);
  measured 8 with the default pool of min(32, cpu + 4) = 6 workers;
- peak RSS < 400 MB; measured about 110 MB for 10,000 nodes in one pipeline
  followed by 1,000 pipelines of 10 nodes under asyncio.gather.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import asyncio, json, resource, sys, threading, time
from remotemedia.engine import default_max_workers
from remotemedia.nodes.base import Node
from remotemedia.pipeline import Pipeline

class Work(Node):
    def process(self, data):
        time.sleep(0.0002)
        return data

class AsyncWork(Node):
    async def process(self, data):
        await asyncio.sleep(0.001)
        return data

peak = {"threads": threading.active_count()}
done = threading.Event()
def sample():
    while not done.is_set():
        peak["threads"] = max(peak["threads"], threading.active_count())
        time.sleep(0.002)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()

wide = Pipeline([Work(name=f"n{i}") for i in range(10_000)], connections=[])
out = wide.run_sync(7)
assert len(out) == 10_000 and set(out.values()) == {7}

pipes = [Pipeline([(AsyncWork if i % 2 else Work)(name=f"n{i}") for i in range(10)]) for _ in range(1_000)]
async def many():
    return await asyncio.gather(*(p.run([k]) for k, p in enumerate(pipes)))
results = asyncio.run(many())
assert results == list(range(1_000)), results[:5]
done.set()
sampler.join()
# VmHWM: this interpreter's own peak (ru_maxrss would carry the pytest parent's size across fork + exec)
rss_kb = next((int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")),
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print(json.dumps({"peak_threads": peak["threads"], "max_workers": default_max_workers(),
                  "peak_rss_mb": rss_kb / 1024}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in kB on Linux")
def test_ten_thousand_concurrent_nodes_bounded_threads_and_memory():
    env = dict(os.environ)
    env.pop("REMOTEMEDIA_MAX_WORKERS", None)
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout.strip().splitlines()[-1])
    print(data)
    assert data["peak_threads"] <= data["max_workers"] + 2, data
    assert data["peak_rss_mb"] < 400, data
