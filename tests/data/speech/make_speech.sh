#!/usr/bin/env bash
# Regenerates the short speech recordings in this directory.
#
# Requirements (Debian): apt-get install -y espeak-ng sox
# Made with eSpeak NG 1.51 and SoX 14.4.2 (Debian 12); other versions may
# produce slightly different samples, which is fine for the tests using them
# (they compare implementations on whatever audio is here, they do not pin
# expected decisions).
#
# Each file: mono, 16-bit signed PCM WAV, 2-5 s, speech with pauses between
# sentences (SSML <break>) plus 0.3-0.5 s of leading/trailing silence, so a
# VAD sees both speech and non-speech.  Dithering is disabled (-D) to keep
# the conversion deterministic.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# make NAME VOICE SPEED RATE LEAD_S TRAIL_S TEXT
make() {
  local name=$1 voice=$2 speed=$3 rate=$4 lead=$5 trail=$6 text=$7
  espeak-ng -m -v "$voice" -s "$speed" -w "$tmp/$name.raw.wav" "$text"
  sox -D "$tmp/$name.raw.wav" -r "$rate" -c 1 -b 16 -e signed-integer \
      "$name.wav" pad "$lead" "$trail"
}

make en_m_16k en 165 16000 0.4 0.4 \
  'The quick brown fox. <break time="700ms"/> Jumps over the lazy dog.'
make en_f_8k en+f3 175 8000 0.3 0.5 \
  'Hello there. <break time="800ms"/> This recording is sampled at eight kilohertz.'
make de_m_22k de 160 22050 0.5 0.3 \
  'Guten Morgen. <break time="600ms"/> Heute ist ein schöner Tag zum Testen.'
make fr_f_44k fr+f2 170 44100 0.3 0.3 \
  'Bonjour à tous. <break time="700ms"/> Ceci est un petit essai.'
make es_m_48k es 170 48000 0.4 0.4 \
  'Buenos días. <break time="600ms"/> Hablamos un poco.'

for f in en_m_16k en_f_8k de_m_22k fr_f_44k es_m_48k; do
  printf '%s Hz %s s  %s\n' "$(soxi -r "$f.wav")" "$(soxi -D "$f.wav")" "$f.wav"
done
