"""Any media file FFmpeg decodes, through PyAV (the ``media`` extra).

:class:`MediaFileReader` reads the first audio track of any container and
codec FFmpeg decodes (mp3, m4a/aac, ogg/opus, ogg/vorbis, flac, wav, and the
audio of mp4/mkv/webm videos) behind the same
:class:`~remotemedia.io.readers.AudioReader` interface as the WAV and
soundfile readers: blocks of exactly the frame count asked for, whatever
sizes the codec's frames have, so any chunking of a stream gives the same
samples.

Sample formats map to arrays shaped (channels, frames): ``s16``/``s16p`` to
int16, ``s32``/``s32p`` to int32 (24-bit FLAC arrives left-aligned in 32
bits, as libsndfile gives it), ``flt``/``fltp`` to float32, ``dbl``/``dblp``
to float64 and ``u8``/``u8p`` to int16 (``(x - 128) << 8``, like 8-bit WAV).
:func:`frame_to_array` views a decoded frame without copying when its layout
allows it (packed data: the transposed view of the interleaved buffer;
planar mono: the plane itself); planar data with several channels lives in
one buffer per channel and is stacked (one copy). A reader copies each
decoded frame once, into the block it returns.

Counts are the decoded ones: the container's duration is only a claim (mp3
and m4a headers are often off by an encoder delay or a frame), so
``num_frames`` holds the claim while reading and the decoded count once the
end is reached (``num_frames_exact`` says which). The claim is used for one
thing: a file that decodes to clearly less than it claims is refused as
truncated (see :data:`TRUNCATION_TOLERANCE`), and an Ogg file whose last page
lacks the end-of-stream flag is refused as truncated too. A decode error
anywhere, no audio track, a video-only file, or absurd channel counts and
sample rates are each one :class:`~remotemedia.errors.AudioFileError`.

A frame whose rate, channel count or sample format differs from the first
one (a stream that changes format midway) is converted to the first frame's
format with :class:`av.AudioResampler`, so a reader never changes shape.
"""

from __future__ import annotations

import collections
import os
from typing import Any, Deque, List, Optional, Tuple

import numpy as np

from remotemedia.errors import AudioFileError
from remotemedia.io.reader import MAX_CHANNELS, MAX_SAMPLE_RATE, AudioReader

MEDIA_HINT = "install PyAV (pip install 'remotemedia[media]')"

#: Decoded-frame sample formats (PyAV names, without the planar ``p``) -> numpy dtype of the blocks.
SAMPLE_FORMATS = {"s16": np.int16, "s32": np.int32, "flt": np.float32, "dbl": np.float64, "u8": np.int16}

#: A file is truncated when it decodes to fewer frames than it claims, by more than this fraction of
#: the claim (plus two codec frames): containers' claims of lossy files are estimates.
TRUNCATION_TOLERANCE = 0.01


def media_available() -> bool:
    """Whether PyAV can be imported (the ``media`` extra is installed)."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def import_av(path: Any = None, what: str = "this file") -> Any:
    """Imports PyAV or raises :class:`AudioFileError` naming the ``media`` extra."""
    try:
        import av
    except ImportError as exc:
        raise AudioFileError(f"{what} needs PyAV: {MEDIA_HINT}", path=path) from exc
    return av


def frame_to_array(frame: Any) -> np.ndarray:
    """The samples of a decoded ``av.AudioFrame`` as a (channels, frames) array.

    Args:
        frame: an ``av.AudioFrame``.

    Returns:
        int16 (``s16``, ``u8``), int32 (``s32``), float32 (``flt``) or float64
        (``dbl``), shaped (channels, frame.samples): a view of the frame's
        buffer for packed layouts and for planar mono (the array keeps the
        frame alive), else one stacked copy.

    Raises:
        AudioFileError: a sample format without a numpy counterpart (``s64``).
    """
    planes = frame_planes(frame)
    if isinstance(planes, np.ndarray):
        return planes
    return np.stack(planes)


def _nb_channels(layout: Any) -> int:
    nb = getattr(layout, "nb_channels", None)  # PyAV >= 12; len(layout.channels) builds objects
    return int(nb) if nb is not None else len(layout.channels)


def frame_planes(frame: Any) -> Any:
    """A decoded frame's samples without copying: a (channels, frames) array when the layout allows
    (packed data: the transposed view of the interleaved buffer; planar mono: the plane), else the
    list of the channels' planes (1-D views). ``u8`` is widened to int16 (a copy).

    Raises:
        AudioFileError: a sample format without a numpy counterpart (``s64``).
    """
    fmt = frame.format
    name = fmt.name
    planar = fmt.is_planar
    base = name[:-1] if planar else name
    if base not in SAMPLE_FORMATS:
        raise AudioFileError(f"unsupported sample format {name!r} (expected one of "
                             f"{', '.join(sorted(SAMPLE_FORMATS))}, packed or planar)")
    raw = np.dtype(np.uint8 if base == "u8" else SAMPLE_FORMATS[base])
    n = int(frame.samples)
    channels = _nb_channels(frame.layout)
    if planar:
        views = [np.frombuffer(p, dtype=raw, count=n) for p in frame.planes[:channels]]
        if base == "u8":
            views = [(v.astype(np.int16) - 128) << 8 for v in views]
        return views[0][np.newaxis, :] if channels == 1 else views
    out = np.frombuffer(frame.planes[0], dtype=raw, count=n * channels).reshape(n, channels).T
    if base == "u8":
        out = (out.astype(np.int16) - 128) << 8
    return out


def _ogg_last_page(path: str) -> Optional[Tuple[bool, int]]:
    """For an Ogg file: (whether it was cut, the last page's granule position); None for other files.

    Cut means the last page is incomplete or lacks the end-of-stream flag. Reads only the last
    64 KiB of the file (an Ogg page is at most 65,307 bytes).
    """
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"OggS":
                return None
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - 65536)
            f.seek(start)
            tail = f.read()
    except OSError:
        return None
    last = tail.rfind(b"OggS")
    if last < 0 or last + 27 > len(tail):
        return True, -1
    header_type, num_segments = tail[last + 5], tail[last + 26]
    granule = int.from_bytes(tail[last + 6:last + 14], "little", signed=True)
    table = tail[last + 27:last + 27 + num_segments]
    if len(table) < num_segments:
        return True, granule
    page_end = start + last + 27 + num_segments + sum(table)
    return page_end > size or not header_type & 0x04, granule


def ogg_missing_eos(path: str) -> bool:
    """True when ``path`` is an Ogg file that was cut: its last page is incomplete or lacks the end-of-stream flag."""
    tail = _ogg_last_page(path)
    return tail is not None and tail[0]


def ogg_problem(path: str, frames_decoded: int, max_frame: int = 4608) -> Optional[str]:
    """Why an Ogg file that decoded to ``frames_decoded`` frames is incomplete, or None when it is whole.

    The last page's granule position is the stream's true length (for Opus, at 48 kHz plus the
    pre-skip); a decoder that skipped damaged pages returns less, and a cut file has no
    end-of-stream flag on its last page.
    """
    tail = _ogg_last_page(path)
    if tail is None:
        return None
    cut, granule = tail
    if cut:
        return "truncated: the last Ogg page is incomplete or has no end-of-stream flag"
    if granule > 0 and frames_decoded < granule - (2 * max_frame + TRUNCATION_TOLERANCE * granule):
        return (f"corrupt: the last Ogg page says the stream holds {granule} frames, decoding gave "
                f"{frames_decoded} (damaged pages were skipped)")
    return None


def _describe(exc: BaseException, path: Optional[str] = None) -> str:
    text = str(exc)
    if path:  # FFmpeg repeats the file name; the error already names it once
        text = text.replace(f": '{path}'", "").replace(path, "the file")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def claimed_frames(stream: Any, container: Any, sample_rate: int) -> Optional[int]:
    """Frames a PyAV audio stream's container claims: the stream's duration, else the container's; None if neither."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return int(round(float(stream.duration * stream.time_base) * sample_rate))
    if container.duration is not None and container.duration > 0:
        return int(round(container.duration / 1_000_000 * sample_rate))
    return None


def check_decoded_length(path: str, stream: Any, container: Any, decoded: int, sample_rate: int,
                         max_frame: int) -> None:
    """Refuses a file whose audio track decoded to clearly fewer frames than it claims, or a cut Ogg file.

    Raises:
        AudioFileError: truncated or corrupt (see :data:`TRUNCATION_TOLERANCE`).
    """
    claim = claimed_frames(stream, container, sample_rate) if sample_rate > 0 else None
    if claim is not None and decoded < claim - (2 * max_frame + TRUNCATION_TOLERANCE * claim):
        raise AudioFileError(f"truncated or corrupt: the container claims {claim} frames "
                             f"({claim / sample_rate:.3f} s), decoding ended after {decoded} "
                             f"({decoded / sample_rate:.3f} s)", path=path)
    problem = ogg_problem(path, decoded, max(max_frame, 1))
    if problem:
        raise AudioFileError(problem, path=path)


class MediaFileReader(AudioReader):
    """Reads the first audio track of a media file with PyAV, block by block.

    Args:
        path: the file.

    Attributes:
        codec: the decoder's name (``"mp3float"``, ``"aac"``, ``"opus"`` ...).
        container_format: the demuxer's name (``"mp3"``, ``"mov,mp4,m4a,3gp,3g2,mj2"`` ...).
        claimed_frames: frames the container claims (None when it does not say).
        num_frames_exact: False until the end of the stream was reached;
            then ``num_frames`` is the decoded count.

    Raises:
        AudioFileError: PyAV is missing, FFmpeg cannot open the file, it has
            no audio track, its channel count or sample rate is absurd, or no
            audio frame decodes.
    """

    def __init__(self, path: Any) -> None:
        self.path = os.fspath(path)
        av = import_av(self.path, f"reading {os.path.splitext(self.path)[1] or 'this file'}")
        self._av = av
        try:
            self._container = av.open(self.path, mode="r")
        except Exception as exc:  # FFmpeg errors, OSError, UnicodeDecodeError of metadata ...
            error = AudioFileError(f"not a media file FFmpeg can decode ({_describe(exc, self.path)})",
                                   path=self.path)
            error.unreadable = True  # type: ignore[attr-defined]  # open_audio adds libsndfile's reason
            raise error from exc
        self._closed = False
        try:
            streams = self._container.streams
            if not streams.audio:
                kinds = sorted({s.type for s in streams}) or ["no streams at all"]
                raise AudioFileError(f"no audio track (the file has: {', '.join(kinds)})", path=self.path)
            self._stream = streams.audio[0]
            cc = self._stream.codec_context
            self.codec = getattr(cc, "name", None) or "unknown"
            self.container_format = getattr(self._container.format, "name", None) or "unknown"
            channels, rate = int(cc.channels or 0), int(cc.sample_rate or 0)
            if not 1 <= channels <= MAX_CHANNELS:
                raise AudioFileError(f"the header claims {channels} channels (expected 1 to {MAX_CHANNELS})",
                                     path=self.path)
            if not 1 <= rate <= MAX_SAMPLE_RATE:
                raise AudioFileError(f"the header claims a sample rate of {rate} Hz (expected 1 to "
                                     f"{MAX_SAMPLE_RATE})", path=self.path)
            self.claimed_frames = claimed_frames(self._stream, self._container, rate)
            self._frames = self._container.decode(self._stream)
            # Decoded frames not returned yet: [planes (a 2-D view or a list of 1-D planes), offset, count].
            self._pending: Deque[List[Any]] = collections.deque()
            self._pending_frames = 0
            self._max_frame = 0
            self._ended = False
            self._converter: Any = None
            first = self._next_frame()
            if first is None:
                raise AudioFileError("no audio data (no audio frame decodes)", path=self.path)
            self.sample_rate = int(first.sample_rate)
            self.num_channels = _nb_channels(first.layout)
            self._format = (first.format.name, self.num_channels, self.sample_rate)
            self._layout_name = first.layout.name
            if not 1 <= self.num_channels <= MAX_CHANNELS or not 1 <= self.sample_rate <= MAX_SAMPLE_RATE:
                raise AudioFileError(f"decoded audio has {self.num_channels} channels at {self.sample_rate} Hz "
                                     f"(expected 1 to {MAX_CHANNELS} channels, 1 to {MAX_SAMPLE_RATE} Hz)",
                                     path=self.path)
            planes = self._planes(first)
            self.dtype = (planes if isinstance(planes, np.ndarray) else planes[0]).dtype
            self._push(planes, int(first.samples))
        except AudioFileError:
            self.close()
            raise
        except Exception as exc:  # PyAV objects of a broken stream (no layout, no format ...)
            self.close()
            raise AudioFileError(f"FFmpeg cannot decode its audio track ({_describe(exc, self.path)})",
                                 path=self.path) from exc
        except BaseException:
            self.close()
            raise
        self.frames_read = 0
        self.num_frames = self.claimed_frames or 0
        self.num_frames_exact = False

    def _next_frame(self) -> Any:
        """The next decoded frame, or None at the end; decode errors become AudioFileError."""
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except Exception as exc:  # av.FFmpegError (InvalidDataError ...), OSError, ValueError
            decoded = getattr(self, "frames_read", 0) + self._pending_frames
            raise AudioFileError(f"corrupt or truncated data after {decoded} decoded frames "
                                 f"({_describe(exc, self.path)})", path=self.path) from exc

    def _planes(self, frame: Any) -> Any:
        """The frame's samples in the stream's first format (see :func:`frame_planes`)."""
        fmt = (frame.format.name, _nb_channels(frame.layout), int(frame.sample_rate))
        if hasattr(self, "_format") and fmt != self._format:
            if self._converter is None:
                name, _, rate = self._format
                self._converter = self._av.AudioResampler(format=name, layout=self._layout_name, rate=rate)
            arrays = [frame_to_array(f) for f in self._converter.resample(frame)]
            return np.concatenate(arrays, axis=1) if arrays else np.zeros((self.num_channels, 0), self.dtype)
        try:
            return frame_planes(frame)
        except AudioFileError as exc:
            raise AudioFileError(str(exc), path=self.path) from None

    def _push(self, planes: Any, count: int) -> None:
        if count:
            self._pending.append([planes, 0, count])
            self._pending_frames += count
            self._max_frame = max(self._max_frame, count)

    def _fill(self, wanted: int) -> None:
        while self._pending_frames < wanted and not self._ended:
            frame = self._next_frame()
            if frame is None:
                self._ended = True
                if self._converter is not None:  # what the converter still holds
                    for f in self._converter.resample(None):
                        block = frame_to_array(f)
                        self._push(block, block.shape[1])
                break
            planes = self._planes(frame)
            self._push(planes, planes.shape[1] if isinstance(planes, np.ndarray) else planes[0].shape[0])

    def _finish(self) -> None:
        """At the end of the stream: refuse a truncated file, then make the count exact."""
        total = self.frames_read
        if self.claimed_frames is not None:
            check_decoded_length(self.path, self._stream, self._container, total, self.sample_rate, self._max_frame)
        else:
            problem = ogg_problem(self.path, total, max(self._max_frame, 1))
            if problem:
                raise AudioFileError(problem, path=self.path)
        self.num_frames = total
        self.num_frames_exact = True

    # ---------------------------------------------------------- AudioReader
    def read(self, num_frames: int) -> np.ndarray:
        """Reads up to ``num_frames`` frames (fewer only at the end; 0 after it)."""
        n = int(num_frames)
        if self._closed:
            raise AudioFileError("read after close", path=self.path)
        self._fill(n)
        take = min(n, self._pending_frames)
        pending = self._pending
        if take and pending[0][2] >= take and isinstance(pending[0][0], np.ndarray):
            head = pending[0]  # within one decoded frame: a view of it (it keeps the frame's buffer alive)
            out = head[0][:, head[1]:head[1] + take]
            head[1] += take
            head[2] -= take
            if not head[2]:
                pending.popleft()
        else:  # one copy of each decoded frame, into the block
            out = np.empty((self.num_channels, take), dtype=self.dtype)
            pos = 0
            while pos < take:
                head = pending[0]
                planes, offset, count = head
                k = min(count, take - pos)
                if isinstance(planes, np.ndarray):
                    out[:, pos:pos + k] = planes[:, offset:offset + k]
                else:
                    for c, plane in enumerate(planes):
                        out[c, pos:pos + k] = plane[offset:offset + k]
                pos += k
                if k == count:
                    pending.popleft()
                else:
                    head[1], head[2] = offset + k, count - k
        self._pending_frames -= take
        was_exact = self.num_frames_exact
        self.frames_read += take
        if take < n and not was_exact:
            self._finish()
        return out

    def close(self) -> None:
        """Closes the container (idempotent)."""
        if not getattr(self, "_closed", True):
            self._closed = True
            self._container.close()
