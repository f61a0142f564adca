"""Shows a batch over a folder: the speech-preparation manifest run on every WAV, two workers, with progress.

Run: python examples/batch_folder.py [OUTPUT_FOLDER]   (default out/batch_folder)

`remotemedia.run_batch` finds the inputs (recursively), runs examples/pipelines/speech_prep.json on each
in a worker, publishes OUTPUT_FOLDER/prepared/<input path>/ atomically per input, and records every
outcome in the ledger prepared/remotemedia-ledger.jsonl. The same from a shell:
`remotemedia run examples/pipelines/speech_prep.json INPUT_FOLDER -o OUT --workers 2`.
"""

# The ledger (timestamps, mtimes) and the segment lists (they name the input's absolute path, in a
# temporary folder) differ from run to run: their deterministic part goes to summary.json. int16
# segments written after resampling may differ by one step between implementations.
# example-test: ignore=*remotemedia-ledger.jsonl,*.segments.jsonl int_lsb=1

import json
import pathlib
import tempfile

import remotemedia
from remotemedia.batch import make_progress

from _data import make_speech_folder, out_dir, write_json

MANIFEST = pathlib.Path(__file__).parent / "pipelines" / "speech_prep.json"

out = out_dir(__file__)
with tempfile.TemporaryDirectory(prefix="remotemedia-batch-in-") as inputs:
    names = make_speech_folder(inputs)  # 3 WAV files: 8 and 22.05 kHz mono, 16 kHz stereo
    print(f"inputs: {', '.join(names)}")
    # Progress: a bar on a terminal (tqdm when installed, else a status line); silent when stderr is
    # not a terminal (as under the example test).
    report = remotemedia.run_batch(MANIFEST, [inputs], out / "prepared", workers=2, progress=make_progress())

print(report.summary())  # times vary from run to run: printed, not written
assert report.exit_code == 0, report.failures



def segment_list(key: str) -> list:
    """The segments of one input as published in prepared/<key>/<stem>.segments.jsonl, without what differs
    from run to run: the input's path and file time, and the pipeline's implementations."""
    (jsonl,) = (out / "prepared" / key).glob("*.segments.jsonl")
    return [{k: v for k, v in json.loads(line).items() if k not in ("source", "source_info", "pipeline")}
            for line in jsonl.read_text().splitlines()]


# Deterministic facts of the batch (the segment WAV files under prepared/ are compared too).
keys = sorted(r["key"] for r in report.results)
write_json(out / "summary.json", {"total": report.total, "ok": report.ok, "failed": report.failed,
                                  "segments": {key: segment_list(key) for key in keys}})
