"""Shows the folder batch of batch_folder.py on a Dask LocalCluster: two worker processes, one thread each.

Run: python examples/batch_dask.py [OUTPUT_FOLDER]   (default out/batch_dask)

Needs the `distributed` package (pip install 'remotemedia[dask]'); without it the example says so,
writes skipped.txt and exits 0. `run_batch` accepts any concurrent.futures.Executor:
`client.get_executor(pure=False)` sends each input to the cluster as plain data (the manifest, paths,
options), so the same call runs on a real cluster given its scheduler address instead.
"""

# Starting a cluster of processes takes a few seconds; see batch_folder.py for the ignored files.
# example-test: timeout=120 ignore=*remotemedia-ledger.jsonl,*.segments.jsonl int_lsb=1

import json
import pathlib
import tempfile

import remotemedia

from _data import make_speech_folder, out_dir, write_json

MANIFEST = pathlib.Path(__file__).parent / "pipelines" / "speech_prep.json"


def main(out: pathlib.Path) -> None:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        note = "skipped: the Dask 'distributed' package is not installed (pip install 'remotemedia[dask]')"
        print(note)
        (out / "skipped.txt").write_text(note + "\n")
        return

    # Worker processes start with a fresh interpreter (REMOTEMEDIA_IMPL is inherited through the
    # environment); the scheduler and its web server listen on the loopback interface only.
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client, \
            tempfile.TemporaryDirectory(prefix="remotemedia-dask-in-") as inputs:
        print(f"cluster: {len(client.nthreads())} workers at {cluster.scheduler_address}")
        names = make_speech_folder(inputs)
        print(f"inputs: {', '.join(names)}")
        report = remotemedia.run_batch(MANIFEST, [inputs], out / "prepared", client.get_executor(pure=False),
                                       workers=2)  # at most 2 inputs in flight
    print(report.summary())  # timings: printed, not written
    assert report.exit_code == 0, report.failures

    def segment_list(key: str) -> list:
        (jsonl,) = (out / "prepared" / key).glob("*.segments.jsonl")
        # without what differs from run to run: the input's path and file time, the pipeline's implementations
        return [{k: v for k, v in json.loads(line).items() if k not in ("source", "source_info", "pipeline")}
                for line in jsonl.read_text().splitlines()]

    keys = sorted(r["key"] for r in report.results)
    workers = sorted({r["worker"].rsplit(":", 1)[0] for r in report.results})  # which processes did the work
    print(f"work done by {len(workers)} process(es)")
    write_json(out / "summary.json", {"total": report.total, "ok": report.ok, "failed": report.failed,
                                      "segments": {key: segment_list(key) for key in keys}})


if __name__ == "__main__":  # required: worker processes re-import this file (spawn)
    main(out_dir(__file__))
