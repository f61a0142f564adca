"""The ledger: durable JSON lines, tolerant of a line cut by a kill."""

from __future__ import annotations

from remotemedia.batch.ledger import Ledger, last_outcomes, manifest_hash, read_ledger


def test_append_and_read_back(tmp_path):
    path = str(tmp_path / "l.jsonl")
    with Ledger(path) as ledger:
        ledger.append({"event": "input", "input": "a", "status": "failed"})
        ledger.append({"event": "input", "input": "a", "status": "ok"})
        ledger.append({"event": "input", "input": "b", "status": "ok", "text": "é\n"})
    entries = read_ledger(path)
    assert len(entries) == 3 and entries[2]["text"] == "é\n"
    assert {k: v["status"] for k, v in last_outcomes(entries).items()} == {"a": "ok", "b": "ok"}


def test_a_cut_last_line_is_skipped_and_the_next_run_starts_a_fresh_line(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_bytes(b'{"event": "input", "input": "a", "status": "ok"}\n{"event": "input", "inp')
    assert [e["input"] for e in read_ledger(str(path))] == ["a"]
    with Ledger(str(path)) as ledger:
        ledger.append({"event": "input", "input": "b", "status": "ok"})
    assert [e["input"] for e in read_ledger(str(path))] == ["a", "b"]
    assert path.read_bytes().endswith(b'"ok"}\n')


def test_missing_ledger_reads_as_empty(tmp_path):
    assert read_ledger(str(tmp_path / "none.jsonl")) == []


def test_manifest_hash_ignores_key_order_but_not_values():
    a = {"version": "v1", "nodes": [{"id": "x", "params": {"p": 1, "q": 2}}]}
    b = {"nodes": [{"params": {"q": 2, "p": 1}, "id": "x"}], "version": "v1"}
    c = {"version": "v1", "nodes": [{"id": "x", "params": {"p": 1, "q": 3}}]}
    assert manifest_hash(a) == manifest_hash(b) != manifest_hash(c)
    assert manifest_hash(a).startswith("sha256:")
