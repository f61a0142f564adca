"""Nodes, pipelines and checks shared by the metrics tests."""

from __future__ import annotations

import time

import jsonschema
import numpy as np

from remotemedia import _native
from remotemedia.metrics import load_schema
from remotemedia.nodes.base import Node, PassThroughNode
from remotemedia.pipeline import Pipeline

NATIVE = _native.module() is not None
MB = 1_000_000


def validate(data):
    jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker()).validate(data)


class Sleep(Node):
    def __init__(self, delay_s=0.02, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.delay_s = delay_s

    def process(self, data):
        time.sleep(self.delay_s)
        return data


class Alloc(Node):
    """Allocates (and drops) ``nbytes`` of float64 zeros touched by numpy."""

    def __init__(self, nbytes=100 * MB, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.nbytes = nbytes

    def process(self, data):
        a = np.ones(self.nbytes // 8)
        return float(a[-1]) + data


class Fail(Node):
    def process(self, data):
        raise RuntimeError("boom")


def diamond(metrics=True, delay_s=0.02):
    """src -> (left, right) -> join: two concurrent branches of sleeping nodes."""

    class Join(Node):
        input_types = {"left": "any", "right": "any"}

        def process(self, data):
            return data["left"] + data["right"]

    p = Pipeline([PassThroughNode(name="src"), Sleep(delay_s, name="left"), Sleep(delay_s, name="right"),
                  Join(name="join")], enable_metrics=metrics, connections=[
        ("src", "left"), ("src", "right"),
        {"from": "left", "to": "join", "to_port": "left"}, {"from": "right", "to": "join", "to_port": "right"}])
    return p
