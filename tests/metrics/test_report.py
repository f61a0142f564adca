"""The self-contained HTML report."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import numpy as np

from remotemedia.metrics import write_html_report
from remotemedia.metrics.report import html_report
from remotemedia.nodes.base import Node
from remotemedia.nodes.simple_math import AddNode, MultiplyNode
from remotemedia.pipeline import Pipeline


class Work(Node):
    def process(self, data):
        time.sleep(0.002)
        return np.ones(100_000) * data


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.attrs = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)


def parse(text):
    t = Tags()
    t.feed(text)
    return t


def assert_self_contained(text):
    t = parse(text)
    assert "script" not in t.tags and "link" not in t.tags and "img" not in t.tags
    assert not [v for k, v in t.attrs if k in ("src", "href")]
    assert not re.search(r"(https?:)?//[a-z]", re.sub(r"<!DOCTYPE[^>]*>", "", text))  # no URL at all


def run_pipeline():
    p = Pipeline([MultiplyNode(factor=2, name="scale"), Work(name="work"), AddNode(name="offset")],
                 enable_metrics=True)
    return p


def test_single_run_report(tmp_path):
    p = run_pipeline()
    p.run_sync([1, 2])
    write_html_report(tmp_path / "r.html", p.get_metrics())
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert_self_contained(text)
    t = parse(text)
    assert t.tags.count("svg") == 3  # timeline, time bars, memory bars
    assert t.tags.count("rect") >= 6 + 3 + 3  # one per call, one per node in each chart
    for node in ("scale", "work", "offset"):
        assert node in text
    assert "Timeline" in text and "Peak memory per node" in text


def test_batch_report_shows_percentiles(tmp_path):
    p = run_pipeline()
    runs = []
    for i in range(4):
        p.run_sync(i)
        runs.append(p.get_metrics())
    write_html_report(tmp_path / "b.html", runs)
    text = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert_self_contained(text)
    assert "batch of 4" in text and "wall p95" in text and "wall p99" in text
    assert "Timeline of the slowest run" in text


def test_report_escapes_names_and_handles_no_run():
    p = Pipeline([MultiplyNode(name="<b>&x")], enable_metrics=True)
    assert "No run recorded" in html_report(p.get_metrics())
    p.run_sync(1)
    text = html_report(p.get_metrics())
    assert "<b>&x" not in text and "&lt;b&gt;&amp;x" in text


def test_nodes_run_in_a_fused_segment_are_marked():
    """A node whose calls the engine reported with fused=True carries a "fused" marker in the node tables of the
    single-run and the batch report; the others do not."""
    from remotemedia.metrics import ExecutionMetrics

    metrics = ExecutionMetrics(memory=False, opentelemetry=False)
    metrics.before_run(run_id=1, pipeline_name="p")
    for node_id, fused in (("source", False), ("resample", True), ("vad", True)):
        metrics.before_node(run_id=1, node_id=node_id, node_type="T", attempt=1)
        metrics.after_node(run_id=1, node_id=node_id, node_type="T", attempt=1, duration_ns=1, error=None,
                           delay_s=None, ran=True, **({"fused": True, "stage_us": 2.0} if fused else {}))
    metrics.after_run(run_id=1, pipeline_name="p", duration_ns=1, error=None)
    m = metrics.get()
    for text in (html_report(m), html_report([m, m])):
        assert_self_contained(text)
        marked = re.findall(r"<td class=l>(?:<i [^>]*></i>)?([a-z]+)<span class=fused", text)
        assert sorted(marked) == ["resample", "vad"]
    assert "stage_us: 2.0" in html_report(m)  # in the timeline's tooltip
