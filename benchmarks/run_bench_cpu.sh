#!/usr/bin/env bash
# The committed `semid bench` tables (benchmarks/results/bench/*), on a 2-core CPU machine, at the default
# retriever budget (minilm backbone, 10 epochs, cosine decay) unless stated: every method, 3 seeds, plus the
# SA²CRQ depth budgets sa2crq_m2 and sa2crq_m20 for the tau sweep (with m3, m5, m10).
# Movielens: full catalogue, content + collaborative item vectors, 1,000 sampled test users (~10 min per
#   generative method and seed). Wordnet: full catalogue, all 11,767 test definitions, 5 epochs (~9 min);
#   dsi there at 1 seed, last: its atomic 117,659-way output layer trains at ~25 min per epoch on 2 cores.
# About 5 h per dataset: rerunning resumes (finished (method, seed) runs are kept), and
# `semid bench ... --report-only` tables what is finished while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/bench}
GENERATIVE=nci,tiger,rq_kmeans,rq_kmeans_top32,sarq,acrq,sa2crq_m3,sa2crq_m5,sa2crq_m10,sa2crq_m2,sa2crq_m20
for ds in movielens wordnet; do
  if [ ! -f "runs/$ds/item_vectors.npy" ]; then
    .venv/bin/semid data prepare "$ds" --out "runs/$ds"
    .venv/bin/semid embed "runs/$ds"
  fi
done
.venv/bin/semid bench --dataset runs/movielens --out "$OUT/movielens" --collaborative --seeds 3 \
  --methods "bm25,dense,popularity,sasrec,dsi,$GENERATIVE" "$@"
.venv/bin/semid bench --dataset runs/wordnet --out "$OUT/wordnet" --seeds 3 --max-test-queries 12000 --epochs 5 \
  --methods "bm25,dense,popularity,$GENERATIVE" "$@"
.venv/bin/semid bench --dataset runs/wordnet --out "$OUT/wordnet" --seeds 1 --max-test-queries 12000 --epochs 5 \
  --methods dsi "$@"
