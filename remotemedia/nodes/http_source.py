"""HttpSource: downloads ``http://`` / ``https://`` inputs (standard library only).

One download is one attempt; the executor retries it by the node's retry
policy (:mod:`remotemedia.reliability`), so the node itself only makes sure
that every failure is raised as the right kind of error:

- connection reset, refused, a stall longer than ``timeout_s`` (per socket
  operation): ``ConnectionError`` / ``TimeoutError`` (transient);
- a body shorter than its ``Content-Length``:
  :class:`~remotemedia.errors.TruncatedBodyError` (transient; never accepted);
- an error status: :class:`~remotemedia.errors.HttpStatusError`, transient for
  408, 429, 500, 502, 503 and 504 with ``Retry-After`` (seconds or an HTTP
  date) parsed into ``retry_after_s``, permanent for the other 4xx.

A broken download is resumed: when the server announced ``Accept-Ranges:
bytes``, the bytes received are kept and the next attempt asks only for the
rest (``Range: bytes=<n>-``, with ``If-Range`` when the server gave an ETag or
Last-Modified). A server that answers ``200`` instead of ``206`` sends the
whole body again and the kept bytes are dropped. Nothing touches the network
at import time.

The circuit breaker of a download is the remote host's (``circuit_key``), so
one dead host trips once for every URL on it, across the runs of a batch.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple, Union
from urllib.parse import urlsplit

import numpy as np

from remotemedia._version import __version__
from remotemedia.audio import AudioBuffer
from remotemedia.errors import (
    ConfigurationError,
    HttpStatusError,
    MediaDecodeError,
    PermanentError,
    TransientError,
    TruncatedBodyError,
)
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node
from remotemedia.reliability import host_circuit_key

DECODE_MODES = ("auto", "bytes", "wav")


def parse_retry_after(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Parses a ``Retry-After`` header: delay seconds or an HTTP date.

    Args:
        value: the header value, or None.
        now: the current time (UTC) for HTTP dates; None = now.

    Returns:
        The delay in seconds (>= 0), or None when absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def decode_wav(data: Union[bytes, bytearray]) -> AudioBuffer:
    """Decodes a PCM WAV file with the standard library's :mod:`wave`.

    Args:
        data: the whole file.

    Returns:
        An AudioBuffer (channels, frames): int16 for 8-bit (re-centred, scaled
        by 256) and 16-bit files, int32 for 24-bit (in the top bytes) and
        32-bit files.

    Raises:
        MediaDecodeError: not a PCM WAV file (a permanent error).
    """
    import wave

    try:
        with wave.open(io.BytesIO(bytes(data)), "rb") as w:
            num_channels, width, sample_rate, num_frames = (w.getnchannels(), w.getsampwidth(),
                                                            w.getframerate(), w.getnframes())
            frames = w.readframes(num_frames)
    except (wave.Error, EOFError, ValueError) as exc:
        raise MediaDecodeError(f"not a readable PCM WAV file: {exc}") from exc
    if width == 1:
        flat = (np.frombuffer(frames, np.uint8).astype(np.int16) - 128) * 256
    elif width == 2:
        flat = np.frombuffer(frames, "<i2").astype(np.int16, copy=False)
    elif width == 3:
        b = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.uint32)
        flat = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)).view(np.int32)
    elif width == 4:
        flat = np.frombuffer(frames, "<i4").astype(np.int32, copy=False)
    else:
        raise MediaDecodeError(f"unsupported WAV sample width: {width} bytes")
    usable = len(flat) - len(flat) % num_channels
    return AudioBuffer(flat[:usable].reshape(-1, num_channels).T, sample_rate)


def _is_wav(data: Union[bytes, bytearray]) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


@dataclass
class _Partial:
    """Bytes of a broken download kept for a Range resume."""

    data: bytearray
    total: int
    validator: Optional[str]


@register_node
class HttpSource(Node):
    """Downloads an ``http(s)://`` URL, with timeouts and resumable transfers.

    Args:
        url: the URL to fetch when the node runs as a source (no input);
            with an input, each input item is a URL.
        timeout_s: limit of each socket operation (connect, each read), s.
        decode: ``"auto"`` (a WAV body becomes an AudioBuffer, anything else
            stays bytes), ``"bytes"`` (always bytes) or ``"wav"`` (must be WAV).
        max_bytes: refuse bodies larger than this (a permanent error); None = no limit.
        name: node id.

    ``process(url)`` returns ``bytes`` or an
    :class:`~remotemedia.audio.AudioBuffer` (channels, frames), int16/int32.
    Retries come from the pipeline (see :mod:`remotemedia.reliability`).
    """

    input_types = {"url": "any"}
    output_types = {"data": "any"}

    def __init__(self, url: Optional[str] = None, timeout_s: float = 10.0, decode: str = "auto",
                 max_bytes: Optional[int] = None, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise ConfigurationError(f"node {self.name!r}: timeout_s: expected a number > 0, given {timeout_s!r}",
                                     node_id=self.name, parameter="timeout_s", expected="a number > 0",
                                     given=timeout_s)
        if decode not in DECODE_MODES:
            raise ConfigurationError(f"node {self.name!r}: decode: expected one of {', '.join(DECODE_MODES)}, "
                                     f"given {decode!r}", node_id=self.name, parameter="decode", given=decode)
        if url is not None:
            self._check_url(url)
        self.url = url
        self.timeout_s = float(timeout_s)
        self.decode = decode
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._partials: Dict[str, _Partial] = {}
        self._opener: Any = None
        #: Bytes skipped thanks to Range resumes, in total.
        self.resumed_bytes = 0

    def _check_url(self, url: Any) -> str:
        if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https") \
                or not urlsplit(url).netloc:
            raise ConfigurationError(f"node {self.name!r}: url: expected an http:// or https:// URL, given {url!r}",
                                     node_id=self.name, parameter="url", expected="an http(s) URL", given=url)
        return url

    def circuit_key(self, item: Any) -> Optional[str]:
        """The breaker key of a download: its host (``"host 'example.org:443'"``)."""
        url = item if isinstance(item, str) else self.url
        if not isinstance(url, str):
            return None
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        return host_circuit_key(f"{parts.hostname}:{port}")

    def cleanup(self) -> None:
        with self._lock:
            self._partials.clear()
        super().cleanup()

    def process(self, data: Any = None) -> Union[bytes, AudioBuffer]:
        url = self._check_url(self.url if data is None else data)
        body = self.fetch(url)
        if self.decode == "wav" or (self.decode == "auto" and _is_wav(body)):
            return decode_wav(body)
        return body

    # ------------------------------------------------------------- download
    def fetch(self, url: str) -> bytes:
        """One download attempt of ``url`` (resuming a kept partial body); returns the whole body.

        Raises:
            HttpStatusError: an error status (transient or not, by status).
            TruncatedBodyError: the body ended early (bytes kept for a resume).
            OSError: connection errors and timeouts (``urllib.error.URLError``
                wraps those raised while connecting).
        """
        import http.client
        import urllib.error
        import urllib.request

        with self._lock:
            partial = self._partials.pop(url, None)
            if self._opener is None:
                self._opener = urllib.request.build_opener()
        headers = {"User-Agent": f"remotemedia/{__version__}", "Accept-Encoding": "identity"}
        if partial is not None:
            headers["Range"] = f"bytes={len(partial.data)}-"
            if partial.validator:
                headers["If-Range"] = partial.validator
        request = urllib.request.Request(url, headers=headers)
        try:
            response = self._opener.open(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            with exc:
                if exc.code == 416 and partial is not None:
                    raise TransientError(f"range resume of {url} refused (HTTP 416); restarting") from exc
                raise HttpStatusError(url, exc.code, str(exc.reason or ""),
                                      parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None),
                                      ) from exc
        with response:
            data, total = self._start(url, response, partial)
            validator = response.headers.get("ETag")
            if not validator or validator.startswith("W/"):
                validator = response.headers.get("Last-Modified")
            resumable = response.status == 206 or response.headers.get("Accept-Ranges", "").lower() == "bytes"
            try:
                while True:
                    chunk = response.read(65536)
                    if not chunk:
                        break
                    data += chunk
                    if self.max_bytes is not None and len(data) > self.max_bytes:
                        raise PermanentError(f"body of {url} exceeds max_bytes={self.max_bytes}")
            except (OSError, http.client.HTTPException):
                self._keep(url, data, total, validator, resumable)
                raise
        if total is not None and len(data) < total:
            self._keep(url, data, total, validator, resumable)
            raise TruncatedBodyError(url, len(data), total)
        return bytes(data)

    def _start(self, url: str, response: Any, partial: Optional[_Partial]) -> Tuple[bytearray, Optional[int]]:
        """The buffer to append to and the expected total length of the body."""
        length = response.headers.get("Content-Length")
        if partial is not None and response.status == 206:
            unit, _, spec = (response.headers.get("Content-Range") or "").partition(" ")
            span, _, total_text = spec.partition("/")
            start_text = span.partition("-")[0]
            if unit != "bytes" or not start_text.isdigit() or int(start_text) != len(partial.data) \
                    or (total_text.isdigit() and int(total_text) != partial.total):
                raise TransientError(f"range resume of {url} answered with Content-Range "
                                     f"{response.headers.get('Content-Range')!r}; restarting")
            with self._lock:
                self.resumed_bytes += len(partial.data)
            return partial.data, partial.total
        if response.status == 206:  # a range we did not ask for
            raise TransientError(f"unexpected partial response for {url}")
        return bytearray(), int(length) if length and length.isdigit() else None

    def _keep(self, url: str, data: bytearray, total: Optional[int], validator: Optional[str],
              resumable: bool) -> None:
        if resumable and data and total is not None:
            with self._lock:
                self._partials[url] = _Partial(data, total, validator)
