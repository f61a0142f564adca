"""A 2 GiB WAV (48 kHz stereo int16, about 3.1 h) through the speech-preparation chain in < 300 MB peak RSS.

The chain runs in a child process that reports its own peak RSS: ``VmHWM`` from
``/proc/self/status``, the high-water mark of its own address space. (Not
``ru_maxrss``: Linux carries it across fork and exec, so a child of a large pytest
process would report the parent's size.) The file is generated in the
test's temporary folder and deleted afterwards. It takes about a minute with
the native kernels; the numpy kernels need about 6 minutes for 3 h of audio,
so the test runs where native is installed (the native session of
``nox -s tests``, hence every run of ``.ci/run``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from bigwav import write_speech_like_wav

from remotemedia import _native

TWO_GIB = 2 * 1024 ** 3
LIMIT_MB = 300

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    from remotemedia import Pipeline
    def peak_kb():
        try:
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    result = Pipeline.from_manifest(sys.argv[1]).run_file(sys.argv[2], sys.argv[3])
    summary = result["segments"][0]
    print(json.dumps({"maxrss_kb": peak_kb(),
                      "wall_s": time.perf_counter() - t0, "segments": summary["segments"],
                      "total_frames": summary["total_frames"], "speech_s": summary["speech_s"]}))
""")


@pytest.mark.slow
@pytest.mark.skipif(_native.module() is None, reason="about 6 min with the numpy kernels: run with native only")
def test_two_gib_wav_in_bounded_memory(tmp_path):
    import pathlib

    src = tmp_path / "big.wav"
    frames = (TWO_GIB - 44) // 4
    write_speech_like_wav(src, frames)
    assert src.stat().st_size >= TWO_GIB - 44
    out = tmp_path / "segments"
    manifest = pathlib.Path(__file__).resolve().parents[1] / "examples" / "pipelines" / "speech_prep.json"
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(manifest), str(src), str(out)],
                              capture_output=True, text=True, env={**__import__("os").environ,
                                                                   "REMOTEMEDIA_IMPL": "native"})
    finally:
        src.unlink()
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\n2 GiB WAV ({frames / 48000 / 3600:.2f} h): {report}")
    assert report["total_frames"] == round(frames * 16000 / 48000)
    lines = (out / "big.segments.jsonl").read_text().splitlines()
    assert len(lines) == report["segments"] > 1000
    assert report["maxrss_kb"] / 1024 < LIMIT_MB
