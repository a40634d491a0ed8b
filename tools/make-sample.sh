#!/usr/bin/env bash
# Regenerates docs/samples/sample.mp4 from two public-domain portraits, docs/samples/astronaut.png
# (NASA) and docs/samples/grace_hopper.jpg (US Navy), and speech synthesised by espeak-ng.
# Everything in the sample comes from those sources, so it may be redistributed with the project
# (see docs/samples/README.md).
#
# The video: 10 s, 1280x720, 25 fps, H.264 (yuv420p). 0-5 s: the astronaut, smiling, with a slow
# zoom (1.0x -> 1.15x) towards her face; 5-10 s (a hard cut): Grace Hopper, with a straight face,
# zooming the same way. Two different real expressions, so that the compound expression changes
# over the clip. The audio: 48 kHz mono AAC; 2 s of silence, about 3.4 s of speech (espeak-ng,
# voice en-us), then silence to the end, so that a voice-activity detector sees both.
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
IMAGE1="docs/samples/astronaut.png"
IMAGE2="docs/samples/grace_hopper.jpg"
TEXT="Hello. Here is an astronaut, smiling for the camera."
DURATION=10
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
for image in "$IMAGE1" "$IMAGE2"; do
  [ -f "$image" ] || { echo "make-sample: $image is missing" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Speech: espeak-ng writes a 22.05 kHz mono WAV; fixed voice, speed and pitch.
espeak-ng -v en-us -s 160 -p 50 -a 120 -w "$tmp/speech.wav" "$TEXT"

# Each portrait gets half the frames.
half=$((DURATION * FPS / 2))
# Each image is upscaled 10x before zoompan, so that the zoom window moves by less than an output
# pixel between frames (zoompan rounds its window to whole input pixels: on the small images the
# zoom would judder). A crop keeps a 16:9 band with the face, and the zoom centres on the face as
# far as the band allows. astronaut.png (512x512): the top band, face at about x 225, y 130.
# grace_hopper.jpg (512x600): the band from y 60 down (her cap is cut at the top, her chin kept),
# face at about x 265, y 235 of the original (x 2650, y 1750 in the band).
zoom="z='1+0.15*on/($half-1)'"
video_filter="[0:v]scale=5120:5120:flags=bicubic,crop=5120:2880:0:0,\
zoompan=$zoom:x='max(0,min(iw-iw/zoom,2250-iw/zoom/2))':y='max(0,min(ih-ih/zoom,1300-ih/zoom/2))':d=$half:s=1280x720:fps=$FPS,\
format=yuv420p,setsar=1[v1];\
[1:v]scale=5120:6000:flags=bicubic,crop=5120:2880:0:600,\
zoompan=$zoom:x='max(0,min(iw-iw/zoom,2650-iw/zoom/2))':y='max(0,min(ih-ih/zoom,1750-ih/zoom/2))':d=$half:s=1280x720:fps=$FPS,\
format=yuv420p,setsar=1[v2];\
[v1][v2]concat=n=2:v=1:a=0[v]"
audio_filter="[2:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=mono,adelay=${SPEECH_START_MS},apad,atrim=0:$DURATION[a]"

"$FFMPEG" -hide_banner -loglevel error -y \
  -i "$IMAGE1" -i "$IMAGE2" -i "$tmp/speech.wav" \
  -filter_complex "$video_filter;$audio_filter" \
  -map '[v]' -map '[a]' \
  -c:v libx264 -preset slow -crf 30 -tune stillimage -g 50 -threads 1 -profile:v high -pix_fmt yuv420p \
  -c:a aac -b:a 64k \
  -t "$DURATION" -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
  -movflags +faststart \
  "$tmp/sample.mp4"
mv "$tmp/sample.mp4" "$OUTPUT"
echo "make-sample: wrote $OUTPUT ($(wc -c <"$OUTPUT") bytes)"
