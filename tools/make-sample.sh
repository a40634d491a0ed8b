#!/usr/bin/env bash
# Regenerates docs/samples/sample.mp4 from docs/samples/astronaut.png (public domain, NASA) and speech
# synthesised by espeak-ng. Everything in the sample comes from those two sources, so it may be
# redistributed with the project (see docs/samples/README.md).
#
# The video: 8 s, 1280x720, 25 fps, H.264 (yuv420p), a slow zoom (1.0× → 1.25×) towards the
# astronaut's face. The audio: 48 kHz mono AAC; 2 s of silence, about 3.4 s of speech
# (espeak-ng, voice en-us), then silence to the end, so that a voice-activity detector sees both.
#
# Deterministic as far as the tools allow: the same ffmpeg and espeak-ng versions give the same
# bytes (single-threaded x264, bit-exact flags, no metadata). Other versions give an equivalent
# file, not an identical one.
#
# Usage: tools/make-sample.sh [OUTPUT]     (default: docs/samples/sample.mp4 in this repository)
#   FFMPEG_PATH=/path/to/ffmpeg tools/make-sample.sh   to choose the ffmpeg (default: the one the
#   project resolves after a build, as `cer` does, else ffmpeg on the PATH). docs/samples/sample.mp4
#   was made with the ffmpeg of @ffmpeg-installer/linux-x64 (N-47683-g0e8eb07980) and Debian 12's
#   espeak-ng 1.51.
set -euo pipefail
cd "$(dirname "$0")/.."

OUTPUT="${1:-docs/samples/sample.mp4}"
IMAGE="docs/samples/astronaut.png"
TEXT="Hello. Here is an astronaut, smiling for the camera."
DURATION=8
FPS=25
SPEECH_START_MS=2000

if [ -n "${FFMPEG_PATH:-}" ]; then
  FFMPEG="$FFMPEG_PATH"
elif [ -f dist/src/media/binaries.js ]; then
  FFMPEG="$(node -e "console.log(require('./dist/src/media/binaries').resolveFfmpeg().path)")"
else
  FFMPEG="$(command -v ffmpeg)" || { echo "make-sample: no ffmpeg found (build the project, or set FFMPEG_PATH)" >&2; exit 1; }
fi
command -v espeak-ng >/dev/null || { echo "make-sample: espeak-ng is not installed (apt-get install espeak-ng)" >&2; exit 1; }
[ -f "$IMAGE" ] || { echo "make-sample: $IMAGE is missing" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Speech: espeak-ng writes a 22.05 kHz mono WAV; fixed voice, speed and pitch.
espeak-ng -v en-us -s 160 -p 50 -a 120 -w "$tmp/speech.wav" "$TEXT"

frames=$((DURATION * FPS))
# The image (512x512) is upscaled 10× before zoompan, so that the zoom window moves by less than
# an output pixel between frames (zoompan rounds its window to whole input pixels: on the small
# image the zoom would judder). The crop keeps a 16:9 band with the face; the zoom centres on the
# face (at about x 225, y 130 of the original) as far as the band allows.
video_filter="[0:v]scale=5120:5120:flags=bicubic,crop=5120:2880:0:0,\
zoompan=z='1+0.25*on/($frames-1)':x='max(0,min(iw-iw/zoom,2250-iw/zoom/2))':y='max(0,min(ih-ih/zoom,1300-ih/zoom/2))':d=$frames:s=1280x720:fps=$FPS,\
format=yuv420p[v]"
audio_filter="[1:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=mono,adelay=${SPEECH_START_MS},apad,atrim=0:$DURATION[a]"

"$FFMPEG" -hide_banner -loglevel error -y \
  -i "$IMAGE" -i "$tmp/speech.wav" \
  -filter_complex "$video_filter;$audio_filter" \
  -map '[v]' -map '[a]' \
  -c:v libx264 -preset slow -crf 30 -tune stillimage -g 50 -threads 1 -profile:v high -pix_fmt yuv420p \
  -c:a aac -b:a 64k \
  -t "$DURATION" -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
  -movflags +faststart \
  "$tmp/sample.mp4"
mv "$tmp/sample.mp4" "$OUTPUT"
echo "make-sample: wrote $OUTPUT ($(wc -c <"$OUTPUT") bytes)"
