#!/usr/bin/env bash
# The committed `semid bench` tables on a CPU-only machine; the budget is stated in each results.md.
# Movielens: the full catalogue (4,000 sampled training records); wordnet: a seeded 3,000-item subset.
# Every generative method gets the same retriever (T5, d_model 128, 2+2 layers) and the same budget.
# Rerunning resumes. The two datasets are independent: run them one after the other (as here) or side by
# side (the committed tables: movielens with 2 torch threads, wordnet with OMP_NUM_THREADS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/bench}
for ds in movielens wordnet; do
  if [ ! -f "runs/$ds/item_vectors.npy" ]; then
    .venv/bin/semid data prepare "$ds" --out "runs/$ds"
    .venv/bin/semid embed "runs/$ds"
  fi
done
.venv/bin/semid bench --dataset runs/movielens --out "$OUT/movielens" --seeds 3 \
  --codebook-sizes 64,64,64 --max-train-queries 4000 --max-test-queries 300 --epochs 1 --batch-size 128 \
  --d-model 128 --beam 50 --backbone t5 --layers 2 --patience 0 --lr 2e-3 "$@"
.venv/bin/semid bench --dataset runs/wordnet --out "$OUT/wordnet" --seeds 3 --max-items 3000 \
  --codebook-sizes 64,64,64 --max-test-queries 300 --epochs 2 --batch-size 128 \
  --d-model 128 --beam 50 --backbone t5 --layers 2 --patience 0 --lr 2e-3 "$@"
