#!/usr/bin/env bash
# Sets up a Debian machine for this project. Run again, it installs only what is missing and
# takes seconds.
#
#   bash tools/setup.sh            Debian packages for running and testing, then npm ci
#   bash tools/setup.sh --export   the same, plus Python's torch, torchaudio, onnx and torchvision for
#                                  the model export tool (cer models export, its tests, npm run
#                                  bench:paper) and the model-recognition tests
#
# npm ci runs only when node_modules was not installed from this package-lock.json by this
# script (with this Node.js ABI); it then reinstalls node_modules from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."

with_export=false
for arg in "$@"; do
  case "$arg" in
    --export) with_export=true ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option $arg (expected --export)" >&2; exit 2 ;;
  esac
done

# ffmpeg: decoding; fonts-dejavu-core: text in the timeline picture; chromium: the dashboard and
# palette tests (driven by playwright-core, never a downloaded browser); espeak-ng: the speech of
# the bundled sample (tools/make-sample.sh, and the test that makes it again); redis-server: the
# queue tests and npm run bench:queue start their own Redis server (cer queue / cer worker, BullMQ).
apt_packages=(ffmpeg fonts-dejavu-core chromium espeak-ng redis-server)
if $with_export; then
  apt_packages+=(python3-torch python3-torchaudio python3-onnx python3-torchvision)
fi
missing=()
for pkg in "${apt_packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The stamp records what node_modules was installed from: the lock file and Node's module ABI.
stamp_file=node_modules/.setup-stamp
stamp="$(sha256sum package-lock.json | cut -d' ' -f1) node-abi-$(node -p process.versions.modules)"
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
  echo "setup: Debian packages present; node_modules matches package-lock.json"
else
  # onnxruntime-node's install script would download CUDA binaries (npm 11 does not run it:
  # allowScripts in package.json; older npm reads this); its CPU build ships in the package.
  export ONNXRUNTIME_NODE_INSTALL=skip
  npm ci --no-audit --no-fund
  echo "$stamp" > "$stamp_file"
fi
