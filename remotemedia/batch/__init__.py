"""Batch runs: one pipeline over many files, on threads, processes or a Dask cluster.

``remotemedia.run_batch(manifest, inputs, out_dir)`` (and ``remotemedia run``)
takes the output folder's lock (:mod:`~remotemedia.batch.lock`), finds the
inputs (:mod:`~remotemedia.batch.inputs`), sends each one to a worker as plain
data (:mod:`~remotemedia.batch.worker`, which reads, runs and writes through
:mod:`~remotemedia.batch.adapter` and publishes through
:mod:`~remotemedia.batch.publish`), records every outcome in a ledger
(:mod:`~remotemedia.batch.ledger`), stops cleanly on signals
(:mod:`~remotemedia.batch.stop`) and reports progress and a summary
(:mod:`~remotemedia.batch.report`).
"""

from __future__ import annotations

from remotemedia.batch.inputs import AUDIO_EXTENSIONS, InputItem, discover_inputs
from remotemedia.batch.ledger import LEDGER_NAME, read_ledger
from remotemedia.batch.lock import LOCK_NAME
from remotemedia.batch.report import BatchReport, Progress, make_progress
from remotemedia.batch.runner import run_batch
from remotemedia.batch.worker import run_task

__all__ = ["run_batch", "BatchReport", "Progress", "make_progress", "discover_inputs", "InputItem",
           "AUDIO_EXTENSIONS", "LEDGER_NAME", "LOCK_NAME", "read_ledger", "run_task"]
