"""Training-ready exports of a batch's segments: Hugging Face audio folder, NeMo, lhotse.

Every exporter reads the same thing: the segment records that
:class:`~remotemedia.nodes.segment_writer.SegmentWriter` writes into each
``<prefix>.segments.jsonl`` index (see :mod:`remotemedia.export.record`),
taken from a batch output folder's ledger (ok inputs only) or, without a
ledger, from every index file under a folder. Each writes deterministic
files (sorted by input key and segment index, no time stamps) atomically, so
re-running an export, or exporting a resumed batch, gives the same bytes.

- :func:`~remotemedia.export.hf.export_hf`: an audio folder for
  ``datasets.load_dataset("audiofolder", data_dir=...)``;
- :func:`~remotemedia.export.nemo.export_nemo`: a NeMo JSON-lines manifest;
- :func:`~remotemedia.export.lhotse.export_lhotse`: lhotse recordings,
  supervisions and cuts (``*.jsonl.gz``).

:func:`export` runs several of them; ``remotemedia export OUTDIR --format
hf,nemo,lhotse`` and ``remotemedia run ... --export hf,nemo,lhotse`` call it.
None of the toolkits is needed to write their files.
"""

from __future__ import annotations

from remotemedia.export.api import EXPORT_DIR_NAME, FORMATS, export, parse_formats
from remotemedia.export.record import SegmentEntry, collect_segments

__all__ = ["export", "parse_formats", "FORMATS", "EXPORT_DIR_NAME", "collect_segments", "SegmentEntry"]
