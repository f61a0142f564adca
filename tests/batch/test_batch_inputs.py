"""Input discovery and output keys: deterministic, safe, unique."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remotemedia.batch.inputs import assign_keys, discover_inputs, safe_key
from remotemedia.batch.worker import safe_join
from remotemedia.errors import ConfigurationError


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_directory_is_searched_recursively_by_extension_in_sorted_order(tmp_path):
    for rel in ["b/2.wav", "a/1.WAV", "a/notes.txt", "c.wav", "a/z/3.wav", ".hidden/4.wav"]:
        touch(tmp_path / "in" / rel)
    items = discover_inputs([str(tmp_path / "in")])
    assert [i.key for i in items] == ["c", "hidden/4", "a/1", "a/z/3", "b/2"]
    assert all(os.path.isabs(i.source) and not i.is_url for i in items)


def test_explicit_file_is_taken_whatever_its_extension(tmp_path):
    f = touch(tmp_path / "take me.flac")
    assert [(i.source, i.key) for i in discover_inputs([str(f)])] == [(str(f), "take_me")]


def test_glob_keys_are_relative_to_the_glob_root_and_duplicates_are_dropped(tmp_path):
    touch(tmp_path / "d" / "x" / "1.wav")
    touch(tmp_path / "d" / "y" / "2.wav")
    items = discover_inputs([str(tmp_path / "d" / "**" / "*.wav"), str(tmp_path / "d" / "x" / "1.wav")])
    assert [i.key for i in items] == ["x/1", "y/2"]


def test_missing_input_and_empty_glob_are_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="input not found"):
        discover_inputs([str(tmp_path / "nope.wav")])
    with pytest.raises(ConfigurationError, match="no file matches"):
        discover_inputs([str(tmp_path / "*.wav")])


def test_output_folder_inside_an_input_folder_is_not_an_input(tmp_path):
    touch(tmp_path / "a.wav")
    touch(tmp_path / "out" / "old" / "seg.wav")
    assert [i.key for i in discover_inputs([str(tmp_path)], exclude=[str(tmp_path / "out")])] == ["a"]


def test_urls_keep_their_order_and_get_their_file_name_as_key():
    items = discover_inputs(["https://example.invalid/x/My%20Talk.wav?sig=1", "http://h.invalid/"])
    assert [(i.key, i.is_url) for i in items] == [("My_Talk", True), ("h_invalid", True)]


def test_same_names_from_two_folders_get_distinct_keys(tmp_path):
    a, b = touch(tmp_path / "A" / "Talk.wav"), touch(tmp_path / "B" / "talk.wav")
    items = discover_inputs([str(a), str(b)])
    assert items[0].key == "Talk"
    assert items[1].key.startswith("talk-") and len(items[1].key) == len("talk-") + 10
    assert discover_inputs([str(a), str(b)]) == items  # deterministic


def test_key_that_is_a_folder_of_another_key_is_renamed(tmp_path):
    items = assign_keys([("/in/a.wav", "a.wav"), ("/in/a/b.wav", "a/b.wav")])
    assert items[1].key == "a/b" and items[0].key.startswith("a-")


def test_reserved_names_are_never_keys():
    items = assign_keys([("/x/remotemedia-ledger.jsonl.wav", "remotemedia-ledger.jsonl.wav")],
                        reserved=["remotemedia-ledger.jsonl"])
    assert items[0].key != "remotemedia-ledger.jsonl"


@pytest.mark.parametrize("rel, key", [
    ("../../etc/passwd.wav", "etc/passwd"),
    ("/abs/path/x.wav", "abs/path/x"),
    ("..", "_"),
    ("a/./b/../c.wav", "a/b/c"),
    ("..hidden.wav", "hidden"),
    ("con.wav", "_con"),
    ("süß ünicode.wav", "süß_ünicode"),
    ("a\\b\\c.wav", "a/b/c"),
])
def test_safe_key(rel, key):
    assert safe_key(rel) == key


def test_safe_join_refuses_escapes_including_through_symlinks(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert safe_join(str(out), "a/b") == str(out / "a" / "b")
    for bad in ["../x", "a/../../x", "/etc", ".hidden", ""]:
        with pytest.raises(ConfigurationError):
            safe_join(str(out), bad)
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(ConfigurationError, match="escapes"):
        safe_join(str(out), "link/x")


_part = st.lists(st.sampled_from(["a", "A", ".", "..", "-", "_", " ", "/", "\\", "\x00", "é", "b.wav"]), max_size=8).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(_part, min_size=1, max_size=12))
def test_keys_are_safe_unique_and_never_nested(tmp_path_factory, rels):
    items = assign_keys([(f"/src/{i}", rel) for i, rel in enumerate(rels)], reserved=["remotemedia-ledger.jsonl"])
    keys = [i.key for i in items]
    folded = [k.casefold() for k in keys]
    assert len(set(folded)) == len(folded)
    prefixes = {k.rsplit("/", n)[0] for k in folded for n in range(1, k.count("/") + 1)}
    assert not prefixes & set(folded)
    root = str(tmp_path_factory.getbasetemp())
    for k in keys:
        assert "\x00" not in k
        path = safe_join(root, k)  # raises on an escape
        assert os.path.commonpath([root, path]) == root
