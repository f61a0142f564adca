"""Audio files: block readers, incremental atomic writers.

- :func:`open_audio` / :func:`read_audio`: WAV through the standard library,
  FLAC, OGG and the rest through ``soundfile`` (the ``audio`` extra); integer
  PCM stays integer.
- :class:`AudioWriter` / :func:`write_audio`: WAV (standard library) or FLAC
  (``soundfile``), written to a temporary file and renamed into place.
- :class:`AtomicFile` / :func:`write_atomic`: the same guarantee for any file.
"""

from remotemedia.io.atomic import AtomicFile, fsync_dir, write_atomic
from remotemedia.io.readers import AudioReader, SoundFileReader, WavReader, open_audio, read_audio
from remotemedia.io.writers import AudioWriter, write_audio

__all__ = ["AtomicFile", "AudioReader", "AudioWriter", "SoundFileReader", "WavReader", "fsync_dir", "open_audio",
           "read_audio", "write_atomic", "write_audio"]
