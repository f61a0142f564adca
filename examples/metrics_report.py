"""Shows pipeline metrics: per-node timings and sizes, a Chrome trace and a self-contained HTML report.

Run: python examples/metrics_report.py [OUTPUT_FOLDER]   (default out/metrics_report)

Writes metrics.json (the whole metrics document, see remotemedia/schemas/metrics.schema.json),
trace.json (open it in https://ui.perfetto.dev or chrome://tracing), report.html (open it in a
browser) and summary.json: what the run did, without timings.
"""

# Timings, memory peaks, dates and the implementation of each node differ from run to run:
# example-test: ignore=metrics.json,trace.json,report.html

from remotemedia import Pipeline
from remotemedia.metrics import write_chrome_trace, write_html_report, write_metrics_json
from remotemedia.nodes.audio import AudioResampleNode, FormatConverterNode, VADNode

from _data import out_dir, read_wav, speech_path, write_json

out = out_dir(__file__)

# A small linear chain: int16 -> float32 -> 16 kHz -> WebRTC VAD with segments.
pipeline = Pipeline([
    FormatConverterNode("f32", name="to_float"),
    AudioResampleNode(16000, quality="high", name="resample"),
    VADNode(backend="webrtc", mode=2, frame_duration_ms=30, segments=True, name="vad"),
], name="metrics-demo", enable_metrics=True)  # installs the metrics hook: nodes know nothing about it

audio, sample_rate = read_wav(speech_path("de_m_22k.wav"))
samples, rate, info = pipeline.run_sync((audio, sample_rate))
metrics = pipeline.get_metrics()  # the latest run, as a JSON-ready dict

write_metrics_json(out / "metrics.json", metrics)
write_chrome_trace(out / "trace.json", metrics)
write_html_report(out / "report.html", metrics, title="remotemedia metrics example")

for node_id in metrics["execution_order"]:  # timings vary: printed only
    n = metrics["nodes"][node_id]
    print(f"{node_id:<9} {n['node_type']:<20} {n['implementation']:<7} {n['wall_us'] / 1000:8.2f} ms  "
          f"peak {n['peak_memory_bytes'] / 1e6:.2f} MB")
print(f"total {metrics['total_wall_us'] / 1000:.2f} ms; {len(info['segments'])} speech segments")

# What IS compared between implementations: the structure of the run, with no timings.
write_json(out / "summary.json", {
    "pipeline": metrics["pipeline"], "status": metrics["status"],
    "execution_order": metrics["execution_order"],
    "nodes": {node_id: {k: n[k] for k in ("node_type", "status", "order", "calls", "attempts", "errors",
                                         "input_samples", "output_samples")}
              for node_id, n in sorted(metrics["nodes"].items())},
    "edges": metrics["edges"],
    "segments": info["segments"],
})
print(f"wrote metrics.json, trace.json, report.html and summary.json to {out}")
