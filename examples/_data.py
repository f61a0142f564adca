"""Helpers shared by the examples: where the speech recordings are, WAV in/out, the output folder, media encoding.

Not an example itself (the leading underscore keeps it out of the example test).
Only the standard library and numpy: WAV files go through the stdlib ``wave`` module (the media
helpers import PyAV when called).
"""

from __future__ import annotations

import json
import pathlib
import sys
import wave
from typing import Any, Tuple

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
#: Where the recordings live in a checkout (tests/data/speech/README.md describes them).
CHECKOUT_SPEECH = REPO / "tests" / "data" / "speech"


def speech_path(name: str) -> pathlib.Path:
    """Path of a speech recording shipped with remotemedia, e.g. ``"en_m_16k.wav"``.

    Prefers the copy inside the installed package (``remotemedia/data/speech/``)
    and falls back to the repository's ``tests/data/speech/``.

    Raises:
        FileNotFoundError: neither place has the file.
    """
    try:
        from importlib.resources import files

        packaged = files("remotemedia") / "data" / "speech" / name
        if packaged.is_file():
            return pathlib.Path(str(packaged))
    except (ImportError, ModuleNotFoundError, TypeError):
        pass  # no packaged data (older install): use the checkout's copy
    path = CHECKOUT_SPEECH / name
    if not path.is_file():
        raise FileNotFoundError(f"speech recording {name!r} is neither in remotemedia/data/speech/ "
                                f"nor in {path.parent}")
    return path


def read_wav(path: Any) -> Tuple[np.ndarray, int]:
    """Reads a 16-bit PCM WAV file.

    Returns:
        ``(samples, sample_rate)``: int16 array shaped (channels, frames), rate in Hz.
    """
    with wave.open(str(path), "rb") as f:
        if f.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, given {8 * f.getsampwidth()}-bit")
        channels, sample_rate = f.getnchannels(), f.getframerate()
        frames = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    return frames.reshape(-1, channels).T.astype(np.int16), sample_rate


def write_wav(path: Any, samples: np.ndarray, sample_rate: int) -> None:
    """Writes int16 samples shaped (channels, frames) (or 1-D mono) as a 16-bit PCM WAV file."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        raise ValueError(f"write_wav: expected int16 samples, given {samples.dtype}")
    interleaved = np.atleast_2d(samples).T.astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(interleaved.shape[1])
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(interleaved.tobytes())


def out_dir(example_file: str) -> pathlib.Path:
    """The output folder: ``sys.argv[1]`` if given, else ``out/<example name>`` (created)."""
    name = pathlib.Path(example_file).stem
    folder = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path("out") / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_json(path: Any, data: Any) -> None:
    """Writes ``data`` as indented JSON (numpy scalars and arrays become plain numbers and lists)."""

    def plain(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

    pathlib.Path(path).write_text(json.dumps(data, indent=2, default=plain) + "\n")


def make_speech_folder(folder: Any) -> list:
    """Fills ``folder`` with a few WAV files for the batch examples and returns their names.

    Two packaged recordings as they are (8 and 22.05 kHz mono) and a stereo copy of the 16 kHz one
    (the right channel at 80 %) in a sub-folder. No resampling: the files are the same, byte for
    byte, whichever implementation runs.
    """
    folder = pathlib.Path(folder)
    (folder / "stereo").mkdir(parents=True, exist_ok=True)
    names = []
    for name in ("en_f_8k.wav", "de_m_22k.wav"):
        audio, sample_rate = read_wav(speech_path(name))
        write_wav(folder / name, audio, sample_rate)
        names.append(name)
    audio, sample_rate = read_wav(speech_path("en_m_16k.wav"))
    right = np.round(audio[0] * 0.8).astype(np.int16)
    write_wav(folder / "stereo" / "en_m_16k_stereo.wav", np.stack([audio[0], right]), sample_rate)
    return names + ["stereo/en_m_16k_stereo.wav"]


def import_av_or_skip(out: pathlib.Path) -> Any:
    """PyAV for the media examples; without it, writes ``out/skipped.txt`` and exits 0 (the extra is optional)."""
    try:
        import av
    except ImportError:
        (out / "skipped.txt").write_text("skipped: PyAV is not installed (pip install 'remotemedia[media]')\n")
        print("PyAV is not installed: skipped")
        raise SystemExit(0) from None
    return av


def encode_media(path: Any, samples: np.ndarray, rate: int, codec: str, out_rate: Any = None,
                 video: bool = False) -> None:
    """Encodes int16 samples (channels, frames) with PyAV (``out_rate``: the codec's rate, e.g. 48 kHz opus),
    with a 25 fps 64x48 H.264 video track next to it when ``video``. Needs the media extra."""
    import fractions

    import av

    layout = "mono" if samples.shape[0] == 1 else "stereo"
    audio = samples.astype(np.float32) / 32768
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=out_rate or rate)
        stream.layout = layout
        vstream = None
        if video:
            vstream = container.add_stream("libx264", rate=25)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 48, "yuv420p"
        for pos in range(0, audio.shape[1], 1024):  # PyAV converts rate and sample format for the encoder
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, pos:pos + 1024]), format="fltp",
                                               layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, pos, fractions.Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if vstream is not None:
            for i in range(audio.shape[1] * 25 // rate):
                image = np.full((48, 64, 3), (i * 9) % 256, np.uint8)
                for packet in vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in vstream.encode(None):
                container.mux(packet)
