"""`semid bench`: every method on the same queries, the paper's metrics, head / tail / cold splits.

One run = one dataset, read top to bottom:

1. ``config``: the dataset (a bundled name or a dataset folder), the methods (baselines and generative, each
   generative one a tokenizer with its options; sa2crq_m<N>: SA²CRQ at any min_items N, for a sweep of
   its depth budget, see ``depth_budgets``) and the one budget (`BenchConfig`) every generative method gets.
2. ``data``: the dataset and its vectors (a bundled one prepared and embedded when missing), optionally a seeded subset
   of the catalogue; *cold* items, a seeded share of the test targets that no train or valid record
   mentions, are left out of every tokenizer fit, of the indexing pairs and of the SID table during
   training (`BenchData`).
3. ``methods``: a baseline (BM25, dense, popularity, SASRec) ranks the catalogue; a generative method fits
   its tokenizer on the warm items, trains the retriever, gives the cold items SIDs by cold-start
   assignment (``Tokenizer.encode``) and decodes the test queries constrained (Recall/MRR@K, Ret-Per) and
   unconstrained (Hallu).
4. ``run``: every (method, seed), resumable: a finished one is read back, never rerun; one that fails is
   recorded with its reason and the others go on. What the data cannot support (``checks``: too few test
   queries in a split, K >= the catalogue size, no head items) is a warning before the work.
5. ``results``: `BenchResults`, saved as ``results.json`` (per method, seed, split: every metric),
   ``results.md`` (mean ± 95% CI over seeds, best in bold, the ``checks`` marks, a row per failed method;
   epochs and training minutes per generative method, from ``training_curves``) and ``report.html`` (plots,
   from ``report``, valid R@10 against training time among them).

Importing this package loads neither torch nor pandas (the command line reads `BenchConfig`'s defaults).
"""

from semid.eval.bench.config import ALL_METHODS, BASELINES, GENERATIVE, SPLIT_NAMES, BenchConfig, parse_methods
from semid.eval.bench.data import BenchData, prepare_bench_data
from semid.eval.bench.methods import run_baseline, run_generative
from semid.eval.bench.results import BenchResults, mean_ci
from semid.eval.bench.run import run_bench

__all__ = [
    "ALL_METHODS",
    "BASELINES",
    "GENERATIVE",
    "SPLIT_NAMES",
    "BenchConfig",
    "BenchData",
    "BenchResults",
    "mean_ci",
    "parse_methods",
    "prepare_bench_data",
    "run_baseline",
    "run_bench",
    "run_generative",
]
