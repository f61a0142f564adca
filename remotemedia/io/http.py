"""HTTP(S) downloads: timeouts, truncation checks and ``Range`` resumes (standard library only).

:class:`HttpFetcher` is what :class:`~remotemedia.nodes.http_source.HttpSource`
and the batch runner (URL inputs) download with. One call is one attempt; the
caller retries by its :class:`~remotemedia.reliability.RetryPolicy`, so the
fetcher only makes sure that every failure is raised as the right kind of
error:

- connection reset, refused, a stall longer than ``timeout_s`` (per socket
  operation): ``ConnectionError`` / ``TimeoutError`` (transient);
- a body shorter than its ``Content-Length``:
  :class:`~remotemedia.errors.TruncatedBodyError` (transient; never accepted);
- an error status: :class:`~remotemedia.errors.HttpStatusError`, transient for
  408, 429, 500, 502, 503 and 504 with ``Retry-After`` (seconds or an HTTP
  date) parsed into ``retry_after_s``, permanent for the other 4xx;
- a body larger than ``max_bytes``: :class:`~remotemedia.errors.PermanentError`.

A broken download is resumed by the next call for the same URL: when the
server announced ``Accept-Ranges: bytes``, the bytes received are kept (in
memory for :meth:`HttpFetcher.fetch`, in the file for
:meth:`HttpFetcher.fetch_to_file`) and the next attempt asks only for the rest
(``Range: bytes=<n>-``, with ``If-Range`` when the server gave an ETag or
Last-Modified). A server that answers ``200`` instead of ``206`` sends the
whole body again and the kept bytes are dropped. Nothing touches the network
at import time.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Union

from remotemedia._version import __version__
from remotemedia.errors import ConfigurationError, HttpStatusError, PermanentError, TransientError, TruncatedBodyError

#: Bytes asked of the socket per read.
READ_BYTES = 65536


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


@dataclass
class _Partial:
    """A broken download kept for a ``Range`` resume: ``received`` bytes of ``total``,
    in ``data`` (memory) or in the file ``path``."""

    received: int
    total: int
    validator: Optional[str]
    data: Optional[bytearray] = None
    path: Optional[str] = None


class _MemoryBody:
    """A body collected in memory, possibly starting with kept bytes."""

    def __init__(self, kept: Optional[bytearray]) -> None:
        self.data = kept if kept is not None else bytearray()

    @property
    def size(self) -> int:
        return len(self.data)

    def write(self, chunk: bytes) -> None:
        self.data += chunk

    def restart(self) -> None:
        self.data = bytearray()

    def kept(self, total: int, validator: Optional[str]) -> _Partial:
        return _Partial(len(self.data), total, validator, data=self.data)

    def close(self) -> None:
        pass


class _FileBody:
    """A body written to a file, possibly appended to ``resume_from`` kept bytes."""

    def __init__(self, path: str, resume_from: int) -> None:
        self.path = path
        self.fh = open(path, "r+b" if resume_from else "wb")  # noqa: SIM115 - closed by close()
        if resume_from:
            self.fh.truncate(resume_from)
            self.fh.seek(resume_from)
        self.size = resume_from

    def write(self, chunk: bytes) -> None:
        self.fh.write(chunk)
        self.size += len(chunk)

    def restart(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()
        self.size = 0

    def kept(self, total: int, validator: Optional[str]) -> _Partial:
        self.fh.flush()
        return _Partial(self.size, total, validator, path=self.path)

    def close(self) -> None:
        self.fh.close()


_Body = Union[_MemoryBody, _FileBody]


class HttpFetcher:
    """Downloads ``http(s)://`` URLs, one attempt per call, resuming broken transfers.

    Thread-safe: calls for different URLs may run at once (calls for the same
    URL should not overlap: they would share one kept partial body).

    Args:
        timeout_s: limit of each socket operation (connect, each read), s.
        max_bytes: refuse bodies larger than this (a permanent error); None = no limit.

    Attributes:
        resumed_bytes: bytes not downloaded again thanks to ``Range`` resumes, in total.
    """

    def __init__(self, timeout_s: float = 10.0, max_bytes: Optional[int] = None) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ConfigurationError(f"timeout_s: expected a number > 0, given {timeout_s!r}", parameter="timeout_s",
                                     expected="a number > 0", given=timeout_s)
        self.timeout_s = float(timeout_s)
        self.max_bytes = max_bytes
        self.resumed_bytes = 0
        self._lock = threading.Lock()
        self._partials: Dict[str, _Partial] = {}
        self._opener: Any = None

    def clear(self) -> None:
        """Forgets every kept partial body."""
        with self._lock:
            self._partials.clear()

    def fetch(self, url: str) -> bytes:
        """One download attempt of ``url`` (resuming a kept partial body); returns the whole body.

        Raises:
            HttpStatusError: an error status (transient or not, by status).
            TruncatedBodyError: the body ended early (bytes kept for a resume).
            PermanentError: the body exceeds ``max_bytes``.
            OSError: connection errors and timeouts (``urllib.error.URLError``
                wraps those raised while connecting).
        """
        partial = self._take(url)
        if partial is not None and partial.data is None:
            partial = None  # kept in a file by fetch_to_file: not resumable in memory
        body = _MemoryBody(partial.data if partial is not None else None)
        self._attempt(url, body, partial)
        return bytes(body.data)

    def fetch_to_file(self, url: str, path: Union[str, "os.PathLike[str]"]) -> int:
        """One download attempt of ``url`` into the file ``path`` (created or replaced); returns its size in bytes.

        A broken attempt leaves the bytes received in ``path``; the next call
        with the same URL and path asks only for the rest.

        Raises:
            The errors of :meth:`fetch`; ``OSError`` when ``path`` cannot be written.
        """
        path = os.fspath(path)
        partial = self._take(url)
        if partial is not None and (partial.path != path or not os.path.isfile(path)
                                    or os.path.getsize(path) < partial.received):
            partial = None
        body = _FileBody(path, partial.received if partial is not None else 0)
        try:
            self._attempt(url, body, partial)
        finally:
            body.close()
        return body.size

    # ------------------------------------------------------------ internals
    def _take(self, url: str) -> Optional[_Partial]:
        with self._lock:
            if self._opener is None:
                import urllib.request

                self._opener = urllib.request.build_opener()
            return self._partials.pop(url, None)

    def _attempt(self, url: str, body: _Body, partial: Optional[_Partial]) -> None:
        import http.client
        import urllib.error
        import urllib.request

        headers = {"User-Agent": f"remotemedia/{__version__}", "Accept-Encoding": "identity"}
        if partial is not None:
            headers["Range"] = f"bytes={partial.received}-"
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
            total = self._start(url, response, partial, body)
            validator = response.headers.get("ETag")
            if not validator or validator.startswith("W/"):
                validator = response.headers.get("Last-Modified")
            resumable = response.status == 206 or response.headers.get("Accept-Ranges", "").lower() == "bytes"
            try:
                while True:
                    chunk = response.read(READ_BYTES)
                    if not chunk:
                        break
                    body.write(chunk)
                    if self.max_bytes is not None and body.size > self.max_bytes:
                        raise PermanentError(f"body of {url} exceeds max_bytes={self.max_bytes}")
            except (OSError, http.client.HTTPException):
                self._keep(url, body, total, validator, resumable)
                raise
        if total is not None and body.size < total:
            self._keep(url, body, total, validator, resumable)
            raise TruncatedBodyError(url, body.size, total)

    def _start(self, url: str, response: Any, partial: Optional[_Partial], body: _Body) -> Optional[int]:
        """Checks a resumed response (or drops the kept bytes); returns the expected total length of the body."""
        length = response.headers.get("Content-Length")
        if partial is not None and response.status == 206:
            unit, _, spec = (response.headers.get("Content-Range") or "").partition(" ")
            span, _, total_text = spec.partition("/")
            start_text = span.partition("-")[0]
            if unit != "bytes" or not start_text.isdigit() or int(start_text) != partial.received \
                    or (total_text.isdigit() and int(total_text) != partial.total):
                raise TransientError(f"range resume of {url} answered with Content-Range "
                                     f"{response.headers.get('Content-Range')!r}; restarting")
            with self._lock:
                self.resumed_bytes += partial.received
            return partial.total
        if response.status == 206:  # a range we did not ask for
            raise TransientError(f"unexpected partial response for {url}")
        if body.size:
            body.restart()  # a full answer to a Range request: the kept bytes go
        return int(length) if length and length.isdigit() else None

    def _keep(self, url: str, body: _Body, total: Optional[int], validator: Optional[str], resumable: bool) -> None:
        if resumable and body.size and total is not None:
            with self._lock:
                self._partials[url] = body.kept(total, validator)
