"""HttpFetcher: one attempt per call, in memory or into a file, against a real fault-injecting server."""

from __future__ import annotations

import pytest
from fault_server import fault_server  # noqa: F401  (a fixture)

from remotemedia.errors import ConfigurationError, HttpStatusError, PermanentError, TruncatedBodyError
from remotemedia.io.http import HttpFetcher

BODY = bytes(range(256)) * 400  # 100 KB


def test_a_broken_download_into_a_file_is_resumed_by_the_next_call(fault_server, tmp_path):  # noqa: F811
    url = fault_server.add("/a.bin", BODY, faults=["truncate", "reset_mid"])
    f = HttpFetcher(timeout_s=5)
    path = tmp_path / "a.bin"
    with pytest.raises(TruncatedBodyError) as info:
        f.fetch_to_file(url, path)
    assert info.value.received == len(BODY) // 2 and path.stat().st_size == len(BODY) // 2  # kept on disk
    with pytest.raises(OSError):
        f.fetch_to_file(url, path)  # a reset half way through the rest
    assert f.fetch_to_file(url, path) == len(BODY)
    assert path.read_bytes() == BODY
    assert fault_server.range_requests["/a.bin"] == 2 and f.resumed_bytes >= len(BODY) // 2


def test_a_server_that_ignores_the_range_sends_everything_again(fault_server, tmp_path):  # noqa: F811
    url = fault_server.add("/b.bin", BODY, faults=["truncate"], ranges=False)
    f = HttpFetcher(timeout_s=5)
    with pytest.raises(TruncatedBodyError):
        f.fetch_to_file(url, tmp_path / "b.bin")
    assert f.fetch_to_file(url, tmp_path / "b.bin") == len(BODY)  # no Accept-Ranges: nothing kept, a full restart
    assert (tmp_path / "b.bin").read_bytes() == BODY and f.resumed_bytes == 0
    assert fault_server.range_requests["/b.bin"] == 0


def test_memory_and_file_partials_do_not_mix(fault_server, tmp_path):  # noqa: F811
    url = fault_server.add("/c.bin", BODY, faults=["truncate", "truncate"])
    f = HttpFetcher(timeout_s=5)
    with pytest.raises(TruncatedBodyError):
        f.fetch_to_file(url, tmp_path / "c.bin")
    with pytest.raises(TruncatedBodyError):
        f.fetch(url)  # a partial kept in a file is not resumed in memory: a fresh request, truncated again
    assert fault_server.range_requests["/c.bin"] == 0
    assert f.fetch(url) == BODY  # ... whose half was kept in memory and is resumed now
    assert fault_server.range_requests["/c.bin"] == 1


def test_errors_by_kind(fault_server, tmp_path):  # noqa: F811
    f = HttpFetcher(timeout_s=5, max_bytes=1000)
    with pytest.raises(HttpStatusError) as info:
        f.fetch_to_file(fault_server.url("/missing"), tmp_path / "m")
    assert info.value.status == 404 and info.value.transient is False
    with pytest.raises(PermanentError, match="exceeds max_bytes=1000"):
        f.fetch(fault_server.add("/big.bin", BODY))
    with pytest.raises(ConfigurationError, match="timeout_s: expected a number > 0"):
        HttpFetcher(timeout_s=0)
