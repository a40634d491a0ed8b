#!/usr/bin/env bash
# Sets up a fresh Debian machine for this project: system packages, then the npm dependencies.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# ffmpeg: decoding; fonts-dejavu-core: text in the timeline picture; chromium: the dashboard test
# (driven by playwright-core, never a downloaded browser); python3-torch, python3-torchaudio,
# python3-onnx: tools/export (model export, its parity tests, npm run bench:paper).
apt_packages=(ffmpeg fonts-dejavu-core chromium python3-torch python3-torchaudio python3-onnx)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# onnxruntime-node's install script would download CUDA binaries; its CPU build ships in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
