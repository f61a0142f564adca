"""The interface of every audio file reader (WAV, libsndfile, FFmpeg) and the header bounds they share."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

#: Header facts outside these bounds are refused before anything is sized by them.
MAX_CHANNELS = 1024
MAX_SAMPLE_RATE = 768_000

_FORMAT_OF = {np.dtype(np.int16): "i16", np.dtype(np.int32): "i32", np.dtype(np.float32): "f32",
              np.dtype(np.float64): "f64"}


class AudioReader:
    """Reads an audio file block by block.

    Attributes:
        path: the file.
        sample_rate: Hz.
        num_channels: channels.
        num_frames: frames in the file: the header's count, or, when
            ``num_frames_exact`` is False (PyAV), the container's claim until the
            end of the stream is reached and the decoded count from then on.
        num_frames_exact: whether ``num_frames`` is known to be exact.
        dtype: numpy dtype of the blocks (int16, int32, float32; float64 for
            PyAV's ``dbl`` formats).
        frames_read: frames returned so far.
    """

    path: str
    sample_rate: int
    num_channels: int
    num_frames: int
    num_frames_exact: bool = True
    dtype: np.dtype
    frames_read: int = 0

    @property
    def format(self) -> str:
        """``"i16"``, ``"i32"``, ``"f32"`` or ``"f64"``: the blocks' sample format."""
        return _FORMAT_OF[self.dtype]

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.sample_rate

    def read(self, num_frames: int) -> np.ndarray:
        """Reads up to ``num_frames`` frames.

        Returns:
            Array of ``dtype`` shaped (channels, n), n < ``num_frames`` only at
            the end of the file (0 after it).
        """
        raise NotImplementedError

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        """Yields (channels, n) arrays of ``block_frames`` frames (the last may be shorter) until the end."""
        if isinstance(block_frames, bool) or not isinstance(block_frames, (int, np.integer)) or block_frames < 1:
            raise ValueError(f"block_frames: expected an int >= 1, given {block_frames!r}")
        while True:
            block = self.read(int(block_frames))
            if block.shape[1] == 0:
                return
            yield block

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "AudioReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.path!r}, sample_rate={self.sample_rate}, "
                f"num_channels={self.num_channels}, num_frames={self.num_frames}, format={self.format!r})")
