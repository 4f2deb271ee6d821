#!/usr/bin/env bash
# Set-up, then the end-to-end demo on the bundled MovieLens data: prepare -> embed -> RQ-KMeans SIDs -> diagnostics.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/semid demo --out "${1:-runs/demo}"
