"""Untrusted manifests: never import or run code; size limits enforced early."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remotemedia import Pipeline
from remotemedia.errors import PipelineValidationError
from remotemedia.io import write_audio
from remotemedia.limits import ManifestLimits, check_data, check_text
from remotemedia.manifest import load_manifest, validate_manifest


def manifest(node_type: str, params=None) -> dict:
    return {"version": "v1", "metadata": {"name": "evil"},
            "nodes": [{"id": "n", "node_type": node_type, "params": params or {}}]}


def code_paths(marker: pathlib.Path):
    cmd = f"touch {marker}"
    return [
        ("os.system", {"command": cmd}),
        ("subprocess.Popen", {"args": ["touch", str(marker)]}),
        ("builtins.eval", {"source": f"open({str(marker)!r}, 'w')"}),
        ("posix.system", {"command": cmd}),
        ("remotemedia.nodes.audio.FormatConverterNode", {}),  # a real class, but not by its registered name
        ("__import__('os').system", {}),
    ]


def test_dotted_paths_are_unknown_node_types_in_python(tmp_path):
    marker = tmp_path / "pwned"
    for node_type, params in code_paths(marker):
        with pytest.raises(PipelineValidationError) as info:
            Pipeline.from_manifest(manifest(node_type, params))
        text = str(info.value)
        assert f"unknown node type {node_type!r}" in text
        assert info.value.issues[0].path == "/nodes/0/node_type"
        issues = validate_manifest(manifest(node_type, params))
        assert [i.parameter for i in issues] == ["node_type"]
    assert not marker.exists()


def test_os_system_rejected_by_the_cli_validate(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(manifest("os.system", {"command": f"touch {marker}"})))
    r = subprocess.run([sys.executable, "-m", "remotemedia", "validate", str(path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    assert "unknown node type 'os.system'" in r.stderr
    assert not marker.exists()


def test_code_paths_rejected_by_the_cli_run_before_anything_runs(tmp_path, impl):
    """`remotemedia run` refuses the manifest up front: exit 2, no output folder, no ledger."""
    marker = tmp_path / "pwned"
    wav = tmp_path / "in.wav"
    write_audio(wav, np.zeros((1, 1600), dtype=np.float32), 16000)
    for i, (node_type, params) in enumerate(code_paths(marker)):
        path = tmp_path / f"evil{i}.json"
        path.write_text(json.dumps(manifest(node_type, params)))
        out = tmp_path / f"out{i}"
        r = subprocess.run([sys.executable, "-m", "remotemedia", "run", str(path), str(wav), "-o", str(out),
                            "--impl", impl, "-q"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, r.stderr
        assert f"unknown node type {node_type!r}" in r.stderr
        assert "Traceback" not in r.stderr
        assert not out.exists()
    assert not marker.exists()


def test_no_eval_exec_pickle_or_manifest_driven_import_in_the_package():
    import remotemedia

    root = pathlib.Path(remotemedia.__file__).parent
    offenders = []
    for p in root.rglob("*.py"):
        text = p.read_text()
        for needle in ("eval(", "exec(", "import pickle", "pickle.load", "marshal.load", "__import__("):
            if needle in text:
                offenders.append(f"{p.relative_to(root)}: {needle}")
        # Modules import by name only from a constant table (the lazy attributes of
        # remotemedia/__init__.py, the registry's built-in node modules) or from the operator's
        # own --plugin/plugins= argument of a batch run (never from manifest text: see
        # test_a_manifest_cannot_name_plugins).
        allowed = ("__init__.py", "nodes/registry.py", "batch/worker.py", "batch/runner.py")
        if "import_module(" in text and str(p.relative_to(root)) not in allowed:
            offenders.append(f"{p.relative_to(root)}: import_module")
    assert offenders == []


# ------------------------------------------------------------------- limits


def test_too_many_nodes():
    data = {"version": "v1", "metadata": {"name": "big"},
            "nodes": [{"id": f"n{i}", "node_type": "PassThroughNode"} for i in range(50)]}
    issues = validate_manifest(data, limits=ManifestLimits(max_nodes=10))
    assert len(issues) == 1 and issues[0].parameter == "max_nodes"
    assert str(issues[0]).startswith("/nodes: 50 nodes, over the limit of 10")
    assert validate_manifest(data) == []  # the default allows it


def test_too_many_connections():
    data = {"version": "v1", "metadata": {"name": "big"},
            "nodes": [{"id": "a", "node_type": "PassThroughNode"}],
            "connections": [{"from": "a", "to": "a"}] * 30}
    issues = validate_manifest(data, limits=ManifestLimits(max_connections=20))
    assert [i.parameter for i in issues] == ["max_connections"]


def test_deep_nesting_in_text_is_rejected_before_parsing():
    depth = 200_000  # json.loads would hit RecursionError long before this
    text = '{"version": "v1", "metadata": {"name": "x"}, "nodes": [{"id": "n", "node_type": "PassThroughNode", ' \
           '"params": {"a": ' + "[" * depth + "]" * depth + "}}]}"
    with pytest.raises(PipelineValidationError) as info:
        load_manifest(text)
    assert "levels deep, over the limit of 32" in str(info.value)
    assert info.value.issues[0].parameter == "max_depth"


def test_brackets_inside_strings_do_not_count_as_depth():
    text = json.dumps(manifest("PassThroughNode") | {"config": {"note": "[" * 1000}})
    assert check_text(text) == []


def test_deep_nesting_in_data_is_rejected_without_recursion():
    deep: list = []
    cur = deep
    for _ in range(100_000):
        nxt: list = []
        cur.append(nxt)
        cur = nxt
    data = manifest("PassThroughNode", {"x": deep})
    issues = validate_manifest(data)
    assert [i.parameter for i in issues] == ["max_depth"]


def test_long_strings_and_item_counts():
    data = manifest("PassThroughNode") | {"config": {"blob": "x" * 20_000}}
    issues = check_data(data)
    assert issues and issues[0].parameter == "max_string_length" and issues[0].path == "/config/blob"
    data = manifest("PassThroughNode") | {"config": {"many": list(range(1000))}}
    assert check_data(data, ManifestLimits(max_items=500))[0].parameter == "max_items"


def test_oversized_file_is_not_read(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "w") as fh:
        fh.write('{"pad": "')
        fh.write("x" * (5 * 1024 * 1024))
        fh.write('"}')
    with pytest.raises(PipelineValidationError) as info:
        Pipeline.from_manifest(str(path))
    assert "over the limit of 4194304" in str(info.value)
    limits = ManifestLimits(max_bytes=10 * 1024 * 1024, max_string_length=10 * 1024 * 1024)
    with pytest.raises(PipelineValidationError) as info:  # now read, and rejected for its structure
        Pipeline.from_manifest(str(path), limits=limits)
    assert "pad" in str(info.value)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(os.urandom(64) + b"\xff\xfe")
    with pytest.raises(PipelineValidationError):
        load_manifest(str(path))


def test_a_manifest_cannot_name_plugins(tmp_path):
    """A manifest key that looks like a plugin list is an unknown key, and nothing is imported."""
    marker_mod = "remotemedia_test_should_never_import"
    data = manifest("PassThroughNode") | {"plugins": [marker_mod]}
    issues = validate_manifest(data)
    assert any(i.path == "/plugins" for i in issues)
    assert marker_mod not in sys.modules


# ------------------------------------------------------------ property test

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
_node_types = st.sampled_from(["AudioResampleNode", "VADNode", "FormatConverterNode", "PassThroughNode",
                               "AddNode", "SegmentWriter", "HttpSource", "os.system", "", "VADNode "])
_param_names = st.sampled_from(["target_sample_rate", "backend", "mode", "frame_ms", "segments", "target_format",
                                "value", "url", "timeout_s", "quality", "x"])
_node = st.fixed_dictionaries(
    {"id": st.one_of(st.sampled_from(["a", "b", "c"]), st.text(max_size=5), _json),
     "node_type": st.one_of(_node_types, _json)},
    optional={"params": st.one_of(st.dictionaries(_param_names, _json, max_size=3), _json), "extra": _json})
_manifest = st.fixed_dictionaries(
    {"version": st.one_of(st.just("v1"), _json), "metadata": st.one_of(st.just({"name": "p"}), _json),
     "nodes": st.one_of(st.lists(_node, max_size=4), _json)},
    optional={"connections": st.one_of(st.lists(st.fixed_dictionaries(
        {"from": st.sampled_from(["a", "b", "c", "z"]), "to": st.sampled_from(["a", "b", "c", "z"])}), max_size=4),
        _json)})


@settings(max_examples=300, deadline=None)
@given(st.one_of(_manifest, _json))
def test_any_json_is_validated_or_built_never_crashes(data):
    """Whatever a manifest holds, validation returns issues and building raises only PipelineValidationError."""
    issues = validate_manifest(data) if isinstance(data, dict) else None
    try:
        Pipeline.from_manifest(data if isinstance(data, dict) else {"nodes": data})
    except PipelineValidationError as exc:
        assert exc.issues and all(str(i) for i in exc.issues)
        if issues is not None:
            assert issues
    else:
        assert issues == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_is_loaded_or_refused_clearly(text):
    try:
        data = load_manifest(text)
    except PipelineValidationError as exc:
        assert exc.issues
    else:
        assert isinstance(data, dict)
