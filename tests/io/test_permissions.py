"""Published outputs get the user's usual permissions (0o666/0o777 minus the umask),
not the 0o600/0o700 of the temporary files they were written as."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from remotemedia.io.atomic import AtomicFile, current_umask, plain_mode

SPEECH = os.path.join(os.path.dirname(__file__), "..", "data", "speech")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_read_without_changing_it(umask_022):
    assert current_umask() == 0o022 and plain_mode() == 0o644 and plain_mode(directory=True) == 0o755
    assert current_umask() == 0o022


def test_atomic_file_is_published_with_plain_permissions(tmp_path, umask_022):
    with AtomicFile(tmp_path / "out.bin") as f:
        f.file.write(b"x")
    assert mode(tmp_path / "out.bin") == 0o644


def test_batch_outputs_and_metrics_are_readable_by_others(tmp_path, umask_022):
    import remotemedia
    from remotemedia.metrics import write_metrics_json

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(os.path.join(SPEECH, "en_m_16k.wav"), src / "a.wav")
    manifest = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "pipelines", "speech_prep.json")
    if not os.path.exists(manifest):
        pytest.skip("examples/ not in this checkout")
    out = tmp_path / "out"
    report = remotemedia.run_batch(manifest, [str(src)], str(out), workers=1, progress=False)
    assert report.ok == 1
    folder = out / "a"
    assert mode(folder) == 0o755
    files = list(folder.iterdir())
    assert files and all(mode(p) == 0o644 for p in files)
    write_metrics_json(tmp_path / "m.json", {"kind": "run"})
    assert mode(tmp_path / "m.json") == 0o644
