"""Shows voice activity detection with the WebRTC backend on real speech, and the speech segments it cuts.

Run: python examples/vad_segments.py [OUTPUT_FOLDER]   (default out/vad_segments)

Each recording holds two sentences with a pause; VADNode(segments=True) finds them. Decisions are the
same in both implementations (and the same as the webrtcvad package's), so are the segments.
"""

import numpy as np

from remotemedia.nodes.audio import VADNode

from _data import out_dir, read_wav, speech_path, write_json, write_wav

out = out_dir(__file__)

# backend="webrtc": the WebRTC GMM detector (mode 0 = least, 3 = most aggressive), 30 ms frames.
# The segment rules: at least 250 ms of speech, split on 300 ms of silence, 100 ms kept either side.
vad = VADNode(backend="webrtc", mode=2, frame_duration_ms=30, segments=True,
              min_speech_ms=250, min_silence_ms=300, pre_roll_ms=100, post_roll_ms=100, name="vad")

report = {}
for name in ("en_m_16k.wav", "en_f_8k.wav", "es_m_48k.wav"):  # WebRTC's own rates: 16, 8 and 48 kHz
    audio, sample_rate = read_wav(speech_path(name))
    samples, rate, info = vad.process((audio, sample_rate))  # a fresh detector per call (one clip)
    stem = name[:-4]
    np.save(out / f"{stem}_decisions.npy", info["decisions"])  # uint8, one per 30 ms frame
    for i, seg in enumerate(info["segments"]):  # start/end in samples at the input rate
        write_wav(out / f"{stem}_segment{i}.wav", audio[:, seg["start"]:seg["end"]], sample_rate)
    report[name] = {"speech_ratio": info["speech_ratio"], "speech_frames": info["speech_frames"],
                    "total_frames": info["total_frames"], "segments": info["segments"]}
    spans = ", ".join(f"{s['start_s']:.2f}-{s['end_s']:.2f} s" for s in info["segments"])
    print(f"{name}: {info['speech_frames']}/{info['total_frames']} speech frames, "
          f"{len(info['segments'])} segments: {spans}")

write_json(out / "segments.json", report)
print(f"VAD ran in {vad.impl}; wrote {len(list(out.iterdir()))} files to {out}")
