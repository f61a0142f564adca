"""Shows retries against a flaky HTTP server: a reset, a 503 and a broken download, then a Range resume.

Run: python examples/retries_flaky_http.py [OUTPUT_FOLDER]   (default out/retries_flaky_http)

A small server on 127.0.0.1 (a free port, in a thread of this script; nothing leaves the machine)
serves one WAV recording and misbehaves on purpose, one fault per request:

1. closes the connection with a TCP reset before answering;
2. answers 503 Service Unavailable;
3. announces the whole file but sends only half of it, then closes (a truncated body);
4. serves the rest of the file to the Range request HttpSource sends to resume the download.

The pipeline retries each transient failure by its RetryPolicy; every attempt is in `attempt_log()`.
"""

import http.server
import socket
import struct
import threading

import numpy as np

from remotemedia import Pipeline
from remotemedia.nodes.audio import FormatConverterNode
from remotemedia.nodes.http_source import HttpSource
from remotemedia.reliability import RetryPolicy

from _data import out_dir, read_wav, speech_path, write_json, write_wav

FAULTS = ["reset", "503", "truncate"]  # what requests 1, 2, 3 get; later requests are served
BODY = speech_path("en_m_16k.wav").read_bytes()


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    """Serves BODY at /speech.wav, taking the next fault of FAULTS per request; honours `Range: bytes=N-`."""

    log = []  # (fault, the Range header) per request, in order

    def log_message(self, format, *args):  # noqa: A002 - keep the default access log quiet
        pass

    def do_GET(self):  # noqa: N802 - the http.server API
        fault = FAULTS[len(self.log)] if len(self.log) < len(FAULTS) else "ok"
        self.log.append({"request": len(self.log) + 1, "fault": fault, "range": self.headers.get("Range")})
        if fault == "reset":  # SO_LINGER 0: close() sends a TCP RST instead of a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault == "503":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        if (self.headers.get("Range") or "").startswith("bytes="):
            start = int(self.headers["Range"][6:].rstrip("-"))
        self.send_response(206 if start else 200)
        self.send_header("Accept-Ranges", "bytes")  # tells the client that a broken download can be resumed
        self.send_header("ETag", '"speech-v1"')
        self.send_header("Content-Length", str(len(BODY) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        self.end_headers()
        rest = BODY[start:]
        self.wfile.write(rest[: len(rest) // 2] if fault == "truncate" else rest)
        self.close_connection = True


out = out_dir(__file__)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)  # port 0: any free port
thread = threading.Thread(target=server.serve_forever, daemon=True)
thread.start()
try:
    url = f"http://127.0.0.1:{server.server_address[1]}/speech.wav"
    # Up to 4 retries after 10, 20, 40, 80 ms (no jitter, so the waits are the same on every run).
    policy = RetryPolicy(max_retries=4, initial_delay_s=0.01, multiplier=2.0, jitter=0.0)
    source = HttpSource(timeout_s=5.0, name="download")
    pipeline = Pipeline([source, FormatConverterNode("f32", name="to_f32")], retry=policy, enable_metrics=True)
    samples, sample_rate = pipeline.run_sync(url)  # HttpSource decodes the WAV body to an AudioBuffer
finally:
    server.shutdown()  # stops serve_forever, then the listening socket is closed
    server.server_close()
    thread.join(timeout=5)

expected, expected_rate = read_wav(speech_path("en_m_16k.wav"))
intact = bool(sample_rate == expected_rate and np.array_equal(np.round(samples * 32768.0), expected))
print(f"downloaded {samples.shape[1]} frames at {sample_rate} Hz after {len(FlakyHandler.log)} requests; "
      f"identical to the file: {intact}; resumed {source.resumed_bytes} bytes with a Range request")
for a in pipeline.attempt_log():  # the error text names the URL (a random port): printed, not written
    wait = f" (next try after {a['delay_s']} s)" if a["delay_s"] is not None else ""
    print(f"  attempt {a['attempt']}: {a['error'] or 'ok'}{wait}")

np.save(out / "speech_f32.npy", samples)
write_wav(out / "speech.wav", np.round(samples * 32768.0).astype(np.int16), sample_rate)
write_json(out / "attempts.json", {
    # Only the deterministic fields: no run ids, no URLs with their port.
    "attempts": [{"node_id": a["node_id"], "node_type": a["node_type"], "attempt": a["attempt"],
                  "failed": a["error"] is not None, "delay_s": a["delay_s"]} for a in pipeline.attempt_log()],
    "server_log": FlakyHandler.log, "resumed_bytes": source.resumed_bytes, "intact": intact})
