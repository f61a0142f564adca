"""A real HTTP server on 127.0.0.1 that injects faults on command (HttpSource, HttpFetcher and batch tests).

``server.add(path, body, faults=[...])`` serves ``body`` at ``path``; each
request takes the next fault of the list (then serves normally):

- ``"reset"``: close the connection with a TCP reset before answering;
- ``"reset_mid"``: send the headers and half the body, then reset;
- ``"stall"``: answer nothing for ``server.stall_s`` seconds, then close;
- ``"truncate"``: announce the full ``Content-Length``, send half, close;
- ``"503"``, ``"404"``, ``"500"`` ...: that status, empty body;
- ``"429:<value>"``: 429 with ``Retry-After: <value>``.

Range requests (``bytes=<n>-``) are honoured unless ``ranges=False``; every
response has an ETag. Loopback only: binds and is reached on 127.0.0.1.
Conftests import the ``fault_server`` fixture from here.
"""

from __future__ import annotations

import collections
import hashlib
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Deque, Dict, Iterable, List

import pytest


class _Handler(BaseHTTPRequestHandler):
    server: "FaultServer"

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def _reset(self) -> None:
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        srv = self.server
        with srv.lock:
            entry = srv.files.get(self.path)
            srv.requests[self.path] += 1
            srv.range_requests[self.path] += "Range" in self.headers
            fault = entry["faults"].popleft() if entry and entry["faults"] else "ok"
        if entry is None:
            fault = "404"
        body: bytes = entry["body"] if entry else b""
        if fault == "reset":
            self._reset()
            return
        if fault == "stall":
            time.sleep(srv.stall_s)
            self.close_connection = True
            return
        if fault.split(":")[0].isdigit():
            status, _, after = fault.partition(":")
            self.send_response(int(status))
            if after:
                self.send_header("Retry-After", after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        rng = self.headers.get("Range")
        partial = bool(rng and entry["ranges"] and rng.startswith("bytes=") and rng.endswith("-"))
        if partial:
            if self.headers.get("If-Range") not in (None, entry["etag"]):
                partial = False
            else:
                start = int(rng[len("bytes="):-1])
        chunk = body[start:]
        self.send_response(206 if partial else 200)
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("ETag", entry["etag"])
        if entry["ranges"]:
            self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if fault == "reset_mid":
            self.wfile.write(chunk[: len(chunk) // 2])
            self._reset()
            return
        if fault == "truncate":
            self.wfile.write(chunk[: len(chunk) // 2])
            self.close_connection = True
            return
        self.wfile.write(chunk)
        with srv.lock:
            srv.completed[self.path] += 1


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.files: Dict[str, dict] = {}
        self.requests: Dict[str, int] = collections.Counter()
        self.range_requests: Dict[str, int] = collections.Counter()
        self.completed: Dict[str, int] = collections.Counter()
        self.stall_s = 1.0

    def add(self, path: str, body: bytes, faults: Iterable[str] = (), ranges: bool = True) -> str:
        """Serves ``body`` at ``path`` after the given faults; returns the URL."""
        faults_q: Deque[str] = collections.deque(faults)
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        with self.lock:
            self.files[path] = {"body": body, "faults": faults_q, "ranges": ranges, "etag": etag}
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def faults_left(self, path: str) -> List[str]:
        with self.lock:
            return list(self.files[path]["faults"])


@pytest.fixture
def fault_server():
    server = FaultServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
