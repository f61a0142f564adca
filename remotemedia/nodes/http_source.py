"""HttpSource: downloads ``http://`` / ``https://`` inputs (standard library only).

One download is one attempt of :class:`remotemedia.io.http.HttpFetcher` (the
batch runner downloads URL inputs with the same code); the executor retries
it by the node's retry policy (:mod:`remotemedia.reliability`). Every failure
is raised as the right kind of error (timeouts and resets transient, a body
shorter than its ``Content-Length`` a transient
:class:`~remotemedia.errors.TruncatedBodyError`, error statuses an
:class:`~remotemedia.errors.HttpStatusError` with ``Retry-After`` parsed), and
a broken download is resumed with a ``Range`` request when the server allows
(see :mod:`remotemedia.io.http`). Nothing touches the network at import time.

The circuit breaker of a download is the remote host's (``circuit_key``), so
one dead host trips once for every URL on it, across the runs of a batch.
"""

from __future__ import annotations

import io
from typing import Any, Optional, Union
from urllib.parse import urlsplit

import numpy as np

from remotemedia.audio import AudioBuffer
from remotemedia.errors import ConfigurationError, MediaDecodeError
from remotemedia.io.http import HttpFetcher, parse_retry_after
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node
from remotemedia.reliability import host_circuit_key

#: ``parse_retry_after`` now lives in :mod:`remotemedia.io.http`; it is re-exported from its earlier home.
__all__ = ["DECODE_MODES", "HttpSource", "decode_wav", "parse_retry_after"]

DECODE_MODES = ("auto", "bytes", "wav")


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
        self.decode = decode
        self._fetcher = HttpFetcher(float(timeout_s), max_bytes)

    @property
    def timeout_s(self) -> float:
        """Limit of each socket operation (s)."""
        return self._fetcher.timeout_s

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        self._fetcher.timeout_s = float(value)

    @property
    def max_bytes(self) -> Optional[int]:
        """Largest body accepted (bytes); None = no limit."""
        return self._fetcher.max_bytes

    @max_bytes.setter
    def max_bytes(self, value: Optional[int]) -> None:
        self._fetcher.max_bytes = value

    @property
    def resumed_bytes(self) -> int:
        """Bytes not downloaded again thanks to Range resumes, in total."""
        return self._fetcher.resumed_bytes

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
        self._fetcher.clear()
        super().cleanup()

    def process(self, data: Any = None) -> Union[bytes, AudioBuffer]:
        url = self._check_url(self.url if data is None else data)
        body = self.fetch(url)
        if self.decode == "wav" or (self.decode == "auto" and _is_wav(body)):
            return decode_wav(body)
        return body

    def fetch(self, url: str) -> bytes:
        """One download attempt of ``url`` (resuming a kept partial body); returns the whole body.

        See :meth:`remotemedia.io.http.HttpFetcher.fetch` for the errors raised.
        """
        return self._fetcher.fetch(url)
