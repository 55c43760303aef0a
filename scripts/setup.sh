#!/usr/bin/env bash
# Create .venv and install Hawiya with its test tools (everything from PyPI; no model downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# System packages from apt: the OCR-B typeface (MRZ reading and card rendering).
# SoftHSM2: a PKCS#11 token for the HSM key backend's tests (and for trying it out).
if { [ ! -d /usr/share/fonts/opentype/ocr-b ] || [ ! -d /usr/share/fonts/truetype/dejavu ] \
     || ! command -v softhsm2-util >/dev/null 2>&1; } && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      fonts-ocr-b fonts-dejavu-core softhsm2; } >/dev/null 2>&1 \
    || echo "warning: could not install fonts-ocr-b/softhsm2" >&2
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"
